//! Parsing of durations (`30s`, `5m`, `1h30m`, `250ms`), memory sizes (`512Mi`, `1G`) and
//! dates (`2026-01-31` or RFC 3339).

use std::time::Duration;

use crate::{Error, Result};

/// Parses a duration: one or more `<integer><unit>` parts with units `ms`, `s`, `m`, `h`, `d`
/// (e.g. `1h30m`), or a bare integer meaning seconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let bad = || Error::Quantity(format!("invalid duration `{text}`"));
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_millis: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        let part = number.checked_mul(unit_millis).ok_or_else(bad)?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it back (`1h30m`, `250ms`).
pub fn format_duration(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    out
}

/// Parses a memory size: bytes, or a number with a Kubernetes-style suffix
/// (`Ki`, `Mi`, `Gi`, `Ti` binary; `K`/`k`, `M`, `G`, `T` decimal).
pub fn parse_memory(text: &str) -> Result<u64> {
    let text = text.trim();
    let bad = || Error::Quantity(format!("invalid memory size `{text}`"));
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if split == 0 {
        return Err(bad());
    }
    let number: u64 = text[..split].parse().map_err(|_| bad())?;
    let factor: u64 = match &text[split..] {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    let bytes = number.checked_mul(factor).ok_or_else(bad)?;
    if bytes == 0 {
        return Err(bad());
    }
    Ok(bytes)
}

/// A date as users write one for `--date`, `startDate` or a backfill range: an RFC 3339
/// timestamp, or `YYYY-MM-DD` meaning midnight in `zone`. `None` when it is neither.
pub fn parse_date(text: &str, zone: &jiff::tz::TimeZone) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Some(timestamp);
    }
    let date: jiff::civil::Date = text.parse().ok().filter(|_| text.len() == 10)?;
    date.to_zoned(zone.clone())
        .ok()
        .map(|zoned| zoned.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let utc = jiff::tz::TimeZone::UTC;
        let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap();
        assert_eq!(
            parse_date("2026-03-29", &utc),
            Some(at("2026-03-29T00:00:00Z"))
        );
        assert_eq!(
            parse_date("2026-03-29", &berlin),
            Some(at("2026-03-28T23:00:00Z"))
        );
        assert_eq!(
            parse_date("2026-03-01T23:30:00-05:00", &berlin),
            Some(at("2026-03-02T04:30:00Z"))
        );
        // a civil datetime without an offset is ambiguous: refused, not read as a date
        for bad in [
            "",
            "yesterday",
            "2026-3-1",
            "2026-03-01T10:00:00",
            "2026-02-30",
        ] {
            assert_eq!(parse_date(bad, &utc), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "soon", "5 minutes", "m5", "1x", "-3s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_round_trip() {
        for text in ["1h30m", "250ms", "2d3h", "45s", "1m5s10ms"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), text);
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("512Mi"), Ok(512 << 20));
        assert_eq!(parse_memory("1G"), Ok(1_000_000_000));
        assert_eq!(parse_memory("4096"), Ok(4096));
        for bad in ["", "lots", "1.5Gi", "12MB", "0", "Mi"] {
            assert!(parse_memory(bad).is_err(), "{bad}");
        }
    }
}
