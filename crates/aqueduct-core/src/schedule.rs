//! Cron schedules (placeholder API; the full timetable arrives with the scheduler).

use jiff::tz::TimeZone;

/// A parsed cron expression or preset, read in a time zone.
#[derive(Debug, Clone)]
pub struct Cron {
    expression: String,
    zone: TimeZone,
}

impl Cron {
    /// Parses five cron fields or a preset.
    pub fn parse(expression: &str, zone: TimeZone) -> Result<Cron, String> {
        let trimmed = expression.trim();
        let presets = [
            "@hourly",
            "@daily",
            "@weekly",
            "@monthly",
            "@yearly",
            "@once",
            "@annually",
            "@midnight",
        ];
        if !presets.contains(&trimmed) && trimmed.split_whitespace().count() != 5 {
            return Err("expected five fields".to_owned());
        }
        Ok(Cron {
            expression: trimmed.to_owned(),
            zone,
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The zone the expression is read in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
}
