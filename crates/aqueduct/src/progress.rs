//! Live progress of `aqueduct run`: on a terminal, a line per task updating in place (state,
//! attempt, elapsed time); otherwise a plain line per state change. Progress goes to stderr; with
//! `--logs`, task output goes to stdout (stderr with `--output json`) prefixed by task name.

use std::io::IsTerminal;
use std::time::Instant;

use aqueduct_core::{Pipeline, TaskState};
use aqueduct_exec::Stream;
use aqueduct_runtime::RunEvent;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::Output;

enum Mode {
    Terminal {
        bars: Vec<ProgressBar>,
        multi: MultiProgress,
    },
    Plain,
    Quiet,
}

#[derive(Clone, Copy)]
struct TaskView {
    state: TaskState,
    attempt: u32,
    started: Option<Instant>,
    finished: Option<Instant>,
}

/// The progress display of one run.
pub(crate) struct Progress {
    mode: Mode,
    names: Vec<String>,
    width: usize,
    tasks: Vec<TaskView>,
    started: Instant,
    logs_to_stderr: bool,
}

impl Progress {
    pub(crate) fn new(pipeline: &Pipeline, output: Output, logs: bool, run_id: &str) -> Progress {
        let names: Vec<String> = pipeline.tasks.iter().map(|t| t.name.clone()).collect();
        let width = names.iter().map(String::len).max().unwrap_or(0);
        if output == Output::Text {
            anstream::eprintln!("running {} ({run_id})", pipeline.name);
        }
        let mode = match output {
            Output::Json => Mode::Quiet,
            Output::Text if std::io::stderr().is_terminal() => terminal_mode(&names, width),
            Output::Text => Mode::Plain,
        };
        let view = TaskView {
            state: TaskState::None,
            attempt: 0,
            started: None,
            finished: None,
        };
        let tasks = vec![view; names.len()];
        let _ = logs;
        Progress {
            mode,
            names,
            width,
            tasks,
            started: Instant::now(),
            logs_to_stderr: output == Output::Json,
        }
    }

    pub(crate) fn event(&mut self, event: RunEvent) {
        match event {
            RunEvent::TaskState {
                task,
                state,
                attempt,
                ..
            } => self.task_state(task, state, attempt),
            RunEvent::Log { task, line, .. } => {
                let stream = if line.stream == Stream::Stderr {
                    "!"
                } else {
                    "|"
                };
                let text = format!(
                    "{:width$} {stream} {}",
                    self.names[task],
                    line.text,
                    width = self.width
                );
                match &self.mode {
                    Mode::Terminal { multi, .. } => {
                        let _ = multi.println(text);
                    }
                    _ if self.logs_to_stderr => anstream::eprintln!("{text}"),
                    _ => anstream::println!("{text}"),
                }
            }
        }
    }

    fn task_state(&mut self, task: usize, state: TaskState, attempt: u32) {
        let now = Instant::now();
        let view = &mut self.tasks[task];
        view.state = state;
        view.attempt = attempt;
        if state == TaskState::Running {
            view.started = Some(now);
            view.finished = None;
        }
        if state.is_finished() || state == TaskState::UpForRetry {
            view.finished = Some(now);
        }
        match &self.mode {
            Mode::Plain => {
                let at = now.duration_since(self.started).as_secs_f64();
                let name = &self.names[task];
                anstream::eprintln!(
                    "[{at:>8.3}s] {name:width$} {state} (try {attempt})",
                    width = self.width
                );
            }
            Mode::Terminal { .. } => self.redraw(task),
            Mode::Quiet => {}
        }
    }

    /// Refreshes elapsed times of running tasks.
    pub(crate) fn tick(&mut self) {
        if matches!(self.mode, Mode::Terminal { .. }) {
            for task in 0..self.tasks.len() {
                if self.tasks[task].state == TaskState::Running {
                    self.redraw(task);
                }
            }
        }
    }

    fn redraw(&self, task: usize) {
        let Mode::Terminal { bars, .. } = &self.mode else {
            return;
        };
        let view = self.tasks[task];
        let elapsed = match (view.started, view.finished) {
            (Some(start), Some(end)) => format!("{:.1}s", end.duration_since(start).as_secs_f64()),
            (Some(start), None) => format!("{:.1}s", start.elapsed().as_secs_f64()),
            _ => String::new(),
        };
        let attempt = if view.attempt > 0 {
            format!("try {}", view.attempt)
        } else {
            String::new()
        };
        bars[task].set_message(format!(
            "{:<15} {attempt:<7} {elapsed}",
            view.state.as_str()
        ));
        if view.state.is_finished() {
            bars[task].set_style(finished_style(view.state, self.width));
            bars[task].finish();
        } else {
            bars[task].tick();
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Mode::Terminal { bars, .. } = &self.mode {
            for bar in bars.iter().filter(|bar| !bar.is_finished()) {
                bar.finish();
            }
        }
    }
}

/// A fixed symbol instead of the spinner once a task is finished.
fn finished_style(state: TaskState, width: usize) -> ProgressStyle {
    let symbol = match state {
        TaskState::Success => "✓",
        TaskState::Skipped => "-",
        TaskState::Cancelled => "■",
        _ => "✗",
    };
    ProgressStyle::with_template(&format!("{symbol} {{prefix:{width}}}  {{msg}}"))
        .expect("invariant: the progress template is valid")
}

fn terminal_mode(names: &[String], width: usize) -> Mode {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
    let style = ProgressStyle::with_template(&format!("{{spinner}} {{prefix:{width}}}  {{msg}}"))
        .expect("invariant: the progress template is valid")
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
    let bars = names
        .iter()
        .map(|name| {
            let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
            bar.set_prefix(name.clone());
            bar.set_message("none");
            bar
        })
        .collect();
    Mode::Terminal { bars, multi }
}
