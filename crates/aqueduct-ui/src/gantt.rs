//! The Gantt chart of a run: one bar per task from its last attempt's start to its end (or to
//! now while it runs), on one time axis. Pure: `now` is an argument.

use jiff::Timestamp;

/// Width of the bars' area, in pixels.
pub const CHART_WIDTH: u32 = 560;
/// Width kept for the task names on the left.
pub const LABEL_WIDTH: u32 = 160;
/// Height of one row.
pub const ROW_HEIGHT: u32 = 22;

/// A task's attempt as the chart needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub task: String,
    /// The state's CSS name, to colour the bar.
    pub state: String,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

/// One row: a bar (absent for a task that never started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub task: String,
    pub state: String,
    pub y: u32,
    /// `(x, width)` in pixels, from the chart's left edge (after the labels).
    pub bar: Option<(u32, u32)>,
}

/// The chart: rows in the given order, and its fixed size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub bars: Vec<Bar>,
    pub width: u32,
    pub height: u32,
    /// Milliseconds from the first start to the last end (0 when nothing started).
    pub span_ms: i64,
}

/// Places every span on one axis from the earliest start to the latest end (running spans
/// end at `now`). Every bar that started is at least 2 pixels wide, so short tasks show.
pub fn chart(spans: &[Span], now: Timestamp) -> Chart {
    let end_of = |span: &Span| span.ended_at.unwrap_or(now);
    let first = spans.iter().filter_map(|span| span.started_at).min();
    let last = spans
        .iter()
        .filter(|span| span.started_at.is_some())
        .map(end_of)
        .max();
    let span_ms = match (first, last) {
        (Some(first), Some(last)) => (last.as_millisecond() - first.as_millisecond()).max(0),
        _ => 0,
    };
    let scale = |ms: i64| -> u32 {
        if span_ms == 0 {
            return 0;
        }
        u32::try_from(ms * i64::from(CHART_WIDTH) / span_ms).unwrap_or(CHART_WIDTH)
    };
    let bars = spans
        .iter()
        .enumerate()
        .map(|(row, span)| {
            let bar = match (span.started_at, first) {
                (Some(start), Some(first)) => {
                    let x = scale(start.as_millisecond() - first.as_millisecond());
                    let end = scale(end_of(span).as_millisecond() - first.as_millisecond());
                    let width = end.saturating_sub(x).max(2);
                    Some((
                        x.min(CHART_WIDTH - 2),
                        width.min(CHART_WIDTH - x.min(CHART_WIDTH - 2)),
                    ))
                }
                _ => None,
            };
            Bar {
                task: span.task.clone(),
                state: span.state.clone(),
                y: row as u32 * ROW_HEIGHT,
                bar,
            }
        })
        .collect();
    Chart {
        bars,
        width: LABEL_WIDTH + CHART_WIDTH,
        height: (spans.len().max(1) as u32) * ROW_HEIGHT,
        span_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("timestamp")
    }

    fn span(task: &str, start: Option<i64>, end: Option<i64>) -> Span {
        Span {
            task: task.to_owned(),
            state: "success".to_owned(),
            started_at: start.map(at),
            ended_at: end.map(at),
        }
    }

    #[test]
    fn bars_share_one_axis() {
        let spans = [
            span("extract", Some(0), Some(10)),
            span("load", Some(10), None),
            span("later", None, None),
        ];
        let chart = chart(&spans, at(40));
        assert_eq!(chart.span_ms, 40_000);
        let bars: Vec<Option<(u32, u32)>> = chart.bars.iter().map(|bar| bar.bar).collect();
        assert_eq!(bars, [Some((0, 140)), Some((140, 420)), None]);
        assert_eq!(chart.height, 3 * ROW_HEIGHT);
        assert_eq!(chart.bars[1].y, ROW_HEIGHT);
    }

    #[test]
    fn an_instant_task_still_shows() {
        let chart = chart(&[span("quick", Some(5), Some(5))], at(5));
        assert_eq!(chart.span_ms, 0);
        assert_eq!(chart.bars[0].bar, Some((0, 2)));
    }
}
