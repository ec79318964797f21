//! What the client verbs print: tables, times and durations for people, documents for scripts.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use jiff::Timestamp;
use serde_json::Value;

use super::wire::Page;

/// A table in the style of `aqueduct run`'s summary.
pub(crate) fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(header);
    table
}

/// A time to the second, in UTC (`2026-03-01T12:00:00Z`); empty when absent.
pub(crate) fn time(at: Option<Timestamp>) -> String {
    at.map(|at| at.round(jiff::Unit::Second).unwrap_or(at).to_string())
        .unwrap_or_default()
}

/// A duration in seconds with two decimals, as `aqueduct run` prints it; empty when absent.
pub(crate) fn duration(ms: Option<u64>) -> String {
    ms.map(|ms| format!("{:.2}s", ms as f64 / 1000.0))
        .unwrap_or_default()
}

/// An API document as it came, pretty-printed.
pub(crate) fn print_json(document: &Value) -> anyhow::Result<()> {
    anstream::println!("{}", serde_json::to_string_pretty(document)?);
    Ok(())
}

/// Prints a page's table, or `no <noun>` when it is empty, and where the page sits in the list.
pub(crate) fn print_page<T>(page: &Page<T>, table: Table, noun: &str) {
    let first = u64::from(page.offset);
    if page.items.is_empty() {
        match first {
            0 => anstream::println!("no {noun}"),
            _ => anstream::println!("no {noun} after the first {first} (of {})", page.total),
        }
        return;
    }
    anstream::println!("{table}");
    let last = first + page.items.len() as u64;
    if last < page.total {
        let more = format!("more with --offset {last}");
        anstream::println!("{}-{last} of {} {noun} ({more})", first + 1, page.total);
    } else if first > 0 {
        anstream::println!("{}-{last} of {} {noun}", first + 1, page.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        let at: Timestamp = "2026-03-01T12:00:00.6Z".parse().expect("valid");
        assert_eq!(time(Some(at)), "2026-03-01T12:00:01Z");
        assert_eq!(time(None), "");
        assert_eq!(duration(Some(1234)), "1.23s");
        assert_eq!(duration(None), "");
    }
}
