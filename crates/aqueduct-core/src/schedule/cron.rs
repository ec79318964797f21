//! Cron expressions and presets, evaluated with croner in an IANA time zone.
//!
//! Five fields (`minute hour day-of-month month day-of-week`) at minute granularity; a sixth
//! (seconds) field is rejected. DST follows croner's OCPS / Vixie-cron rules: a fixed-time job
//! whose wall-clock time falls into a spring-forward gap runs once, right after the gap; in a
//! fall-back overlap a fixed-time job runs once (in the earlier fold) and an interval job
//! (a `*`, a step, a range or a list in the minute or hour field) runs in both folds.

use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{RoundMode, SignedDuration, Timestamp, TimestampRound, Unit, Zoned};

/// The presets and the five fields each stands for (`@once` has none).
const PRESETS: [(&str, &str); 7] = [
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

/// The preset that creates exactly one run.
pub const ONCE: &str = "@once";

/// A parsed cron expression or preset, read in a time zone.
#[derive(Debug, Clone)]
pub struct Cron {
    expression: String,
    zone: TimeZone,
    /// `None` for `@once`, which has no fire times of its own.
    pattern: Option<croner::Cron>,
}

impl Cron {
    /// Parses five cron fields or a preset (`@hourly`, `@daily`/`@midnight`, `@weekly`,
    /// `@monthly`, `@yearly`/`@annually`, `@once`). The message of an error is lowercase and
    /// fits after "invalid schedule `…`: ".
    pub fn parse(expression: &str, zone: TimeZone) -> Result<Cron, String> {
        let trimmed = expression.trim();
        let pattern = if trimmed.eq_ignore_ascii_case(ONCE) {
            None
        } else {
            Some(parse_pattern(&expand_preset(trimmed)?, &zone)?)
        };
        Ok(Cron {
            expression: trimmed.to_owned(),
            zone,
            pattern,
        })
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The zone the expression is read in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// Whether this is `@once`: one run, and no fire times of its own.
    pub fn is_once(&self) -> bool {
        self.pattern.is_none()
    }

    /// The first fire time strictly after `instant`; `None` for `@once` or when the pattern never
    /// fires again (croner searches up to the year 5000).
    pub fn fire_after(&self, instant: Timestamp) -> Option<Timestamp> {
        let pattern = self.pattern.as_ref()?;
        // fire times are whole minutes, so "after the second `instant` is in" loses nothing
        let origin = self.zoned(round(instant, RoundMode::Floor)?);
        let next = pattern.find_next_occurrence(&origin, false).ok()?;
        Some(next.timestamp())
    }

    /// The first fire time at or after `instant`.
    pub fn fire_at_or_after(&self, instant: Timestamp) -> Option<Timestamp> {
        let ceiling = round(instant, RoundMode::Ceil)?;
        self.fire_after(ceiling.checked_sub(SignedDuration::from_secs(1)).ok()?)
    }

    /// The last fire time strictly before `instant`: the one a forward walk over fire times
    /// meets last before reaching `instant`.
    pub fn fire_before(&self, instant: Timestamp) -> Option<Timestamp> {
        let pattern = self.pattern.as_ref()?;
        let origin = self.zoned(round(instant, RoundMode::Ceil)?);
        let mut candidate = pattern
            .find_previous_occurrence(&origin, false)
            .ok()?
            .timestamp();
        if candidate >= instant {
            return None;
        }
        // croner's backward walk can disagree with its forward walk next to a DST transition;
        // intervals are defined by the forward walk, so step forward to its last fire before
        // `instant`
        while let Some(next) = self.fire_after(candidate)
            && next < instant
        {
            candidate = next;
        }
        Some(candidate)
    }

    /// The last fire time at or before `instant`.
    pub fn fire_at_or_before(&self, instant: Timestamp) -> Option<Timestamp> {
        let floor = round(instant, RoundMode::Floor)?;
        self.fire_before(floor.checked_add(SignedDuration::from_secs(1)).ok()?)
    }

    fn zoned(&self, instant: Timestamp) -> Zoned {
        instant.to_zoned(self.zone.clone())
    }
}

/// The five fields of a preset, or the expression itself when it is not one.
fn expand_preset(expression: &str) -> Result<String, String> {
    if !expression.starts_with('@') {
        return Ok(expression.to_owned());
    }
    PRESETS
        .iter()
        .find(|(name, _)| expression.eq_ignore_ascii_case(name))
        .map(|(_, fields)| (*fields).to_owned())
        .ok_or_else(|| format!("unknown preset `{expression}`"))
}

/// The five fields, in order, for messages.
const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/// Parses exactly five fields with croner and checks that the pattern ever fires.
fn parse_pattern(expression: &str, zone: &TimeZone) -> Result<croner::Cron, String> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    match fields.len() {
        0 => return Err("the schedule is empty".to_owned()),
        5 => {}
        6 => {
            return Err(
                "six fields given, but aqueduct schedules at minute granularity: a \
                        seconds field is not supported, use five fields"
                    .to_owned(),
            );
        }
        n => return Err(format!("expected five fields, got {n}")),
    }
    let pattern = minute_parser()
        .parse(expression)
        .map_err(|error| field_error(&fields, &error))?;
    let epoch = Timestamp::UNIX_EPOCH.to_zoned(zone.clone());
    if pattern.find_next_occurrence(&epoch, false).is_err() {
        return Err("the expression never fires (a day that no month has?)".to_owned());
    }
    Ok(pattern)
}

/// croner's parser for five fields: no seconds, no year.
fn minute_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

/// Names the field croner rejected: each field is parsed alone, the others set to `*`.
fn field_error(fields: &[&str], error: &CronError) -> String {
    for (index, name) in FIELD_NAMES.iter().enumerate() {
        let probe: Vec<&str> = (0..fields.len())
            .map(|other| if other == index { fields[index] } else { "*" })
            .collect();
        if let Err(field_error) = minute_parser().parse(&probe.join(" ")) {
            let why = croner_message(&field_error);
            return format!("{name} field `{}`: {why}", fields[index]);
        }
    }
    croner_message(error)
}

/// croner's error text in aqueduct's message style: lowercase start, no trailing period.
fn croner_message(error: &CronError) -> String {
    let text = match error {
        CronError::ComponentError(text)
        | CronError::InvalidPattern(text)
        | CronError::IllegalCharacters(text) => text.replace("CronPattern contains", "contains"),
        other => other.to_string(),
    };
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "invalid expression".to_owned(),
    }
}

/// `instant` rounded to a whole second in `mode`; `None` only at the edge of jiff's range.
fn round(instant: Timestamp, mode: RoundMode) -> Option<Timestamp> {
    let options = TimestampRound::new().smallest(Unit::Second).mode(mode);
    instant.round(options).ok()
}
