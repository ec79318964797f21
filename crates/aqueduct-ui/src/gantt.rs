//! The Gantt chart of a run: one row per task, one bar per attempt from its start to its end
//! (or to now while it runs), all on one time axis, so a retried task shows its failed attempts
//! before the last one. Pure: `now` is an argument.

use jiff::Timestamp;

/// Width of the bars' area, in pixels.
pub const CHART_WIDTH: u32 = 560;
/// Width kept for the task names on the left.
pub const LABEL_WIDTH: u32 = 160;
/// Height of one row.
pub const ROW_HEIGHT: u32 = 22;

/// One attempt of a task as the chart needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Counts from 1.
    pub attempt: u32,
    /// The state's CSS name, to colour the bar.
    pub state: String,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

/// A task's row: its attempts, oldest first (none when it never started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub task: String,
    pub attempts: Vec<Attempt>,
}

/// One attempt's bar: `x` from the chart's left edge (after the labels) and its width, in
/// pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub attempt: u32,
    pub state: String,
    pub x: u32,
    pub width: u32,
}

/// One row: its bars, oldest attempt first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub task: String,
    pub y: u32,
    pub pieces: Vec<Piece>,
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

/// Places every attempt on one axis from the earliest start to the latest end (running
/// attempts end at `now`). Every bar is at least 2 pixels wide, so short attempts show.
pub fn chart(spans: &[Span], now: Timestamp) -> Chart {
    let attempts = || spans.iter().flat_map(|span| &span.attempts);
    let end_of = |attempt: &Attempt| attempt.ended_at.unwrap_or(now).max(attempt.started_at);
    let first = attempts().map(|attempt| attempt.started_at).min();
    let last = attempts().map(end_of).max();
    let span_ms = match (first, last) {
        (Some(first), Some(last)) => (last.as_millisecond() - first.as_millisecond()).max(0),
        _ => 0,
    };
    let origin = first.map_or(0, |first| first.as_millisecond());
    let scale = |at: Timestamp| -> u32 {
        if span_ms == 0 {
            return 0;
        }
        let ms = at.as_millisecond() - origin;
        u32::try_from(ms * i64::from(CHART_WIDTH) / span_ms).unwrap_or(CHART_WIDTH)
    };
    let place = |attempt: &Attempt| {
        let x = scale(attempt.started_at).min(CHART_WIDTH - 2);
        let end = scale(end_of(attempt));
        let width = end.saturating_sub(x).max(2).min(CHART_WIDTH - x);
        Piece {
            attempt: attempt.attempt,
            state: attempt.state.clone(),
            x,
            width,
        }
    };
    let bars = spans
        .iter()
        .enumerate()
        .map(|(row, span)| Bar {
            task: span.task.clone(),
            y: row as u32 * ROW_HEIGHT,
            pieces: span.attempts.iter().map(place).collect(),
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

    fn attempt(number: u32, state: &str, start: i64, end: Option<i64>) -> Attempt {
        Attempt {
            attempt: number,
            state: state.to_owned(),
            started_at: at(start),
            ended_at: end.map(at),
        }
    }

    fn span(task: &str, attempts: Vec<Attempt>) -> Span {
        Span {
            task: task.to_owned(),
            attempts,
        }
    }

    fn places(chart: &Chart) -> Vec<Vec<(u32, &str, u32, u32)>> {
        chart
            .bars
            .iter()
            .map(|bar| {
                let each = bar.pieces.iter();
                each.map(|p| (p.attempt, p.state.as_str(), p.x, p.width))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn bars_share_one_axis() {
        let spans = [
            span("extract", vec![attempt(1, "success", 0, Some(10))]),
            span("load", vec![attempt(1, "running", 10, None)]),
            span("later", Vec::new()),
        ];
        let chart = chart(&spans, at(40));
        assert_eq!(chart.span_ms, 40_000);
        assert_eq!(
            places(&chart),
            [
                vec![(1, "success", 0, 140)],
                vec![(1, "running", 140, 420)],
                vec![]
            ]
        );
        assert_eq!(chart.height, 3 * ROW_HEIGHT);
        assert_eq!(chart.bars[1].y, ROW_HEIGHT);
    }

    #[test]
    fn every_attempt_of_a_retried_task_is_drawn_in_its_state() {
        let spans = [span(
            "flaky",
            vec![
                attempt(1, "failed", 0, Some(4)),
                attempt(2, "failed", 6, Some(8)),
                attempt(3, "success", 10, Some(20)),
            ],
        )];
        let chart = chart(&spans, at(99));
        assert_eq!(chart.span_ms, 20_000);
        assert_eq!(
            places(&chart),
            [vec![
                (1, "failed", 0, 112),
                (2, "failed", 168, 56),
                (3, "success", 280, 280)
            ]]
        );
    }

    #[test]
    fn an_instant_task_still_shows() {
        let chart = chart(
            &[span("quick", vec![attempt(1, "success", 5, Some(5))])],
            at(5),
        );
        assert_eq!(chart.span_ms, 0);
        assert_eq!(places(&chart), [vec![(1, "success", 0, 2)]]);
    }
}
