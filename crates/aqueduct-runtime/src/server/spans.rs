//! Turning the scheduler's effects into finished spans for the span sink, when runs are traced:
//! a run's span when it ends, an attempt's span when its task leaves `running`.

use aqueduct_core::TaskState;
use aqueduct_core::scheduler::Effect;
use aqueduct_store::Store;
use jiff::Timestamp;

use super::Server;
use crate::trace_context::{AttemptSpan, FinishedSpan, RunSpan};

impl<S: Store> Server<S> {
    /// The span that `effect` finishes, if runs are traced. Called in effect order, before the
    /// next effect's changes: a retry's next attempt, in the same batch, starts afresh.
    pub(super) fn span_for(&mut self, effect: &Effect, now: Timestamp) -> Option<FinishedSpan> {
        let ids = &self.config.traces.as_ref()?.ids;
        match effect {
            Effect::RunState { run, state } if state.is_finished() => {
                let meta = self.runs.get(run)?;
                Some(FinishedSpan::Run(RunSpan {
                    ids: ids.of_run(&run.pipeline, &run.run_id),
                    pipeline: run.pipeline.clone(),
                    run_id: run.run_id.clone(),
                    started_at: meta.started_at.unwrap_or(now),
                    ended_at: now,
                    state: *state,
                    commit: self.git.trees.commit_of(&meta.pipeline.source_dir),
                }))
            }
            Effect::TaskState {
                run,
                task,
                state,
                attempt,
            } if state.is_finished() || *state == TaskState::UpForRetry => {
                let source_dir = &self.runs.get(run)?.pipeline.source_dir;
                let commit = self.git.trees.commit_of(source_dir);
                let meta = self.runs.get_mut(run)?;
                let extra = &mut meta.extras[*task];
                // a task that never ran (upstream failed, cancelled while queued) has no
                // attempt span, and an attempt's span is handed over once
                let started_at = extra.started_at.filter(|_| extra.span_pending)?;
                extra.span_pending = false;
                let name = &meta.pipeline.tasks[*task].name;
                Some(FinishedSpan::Attempt(AttemptSpan {
                    ids: ids.of_attempt(&run.pipeline, &run.run_id, name, *attempt),
                    pipeline: run.pipeline.clone(),
                    run_id: run.run_id.clone(),
                    task: name.clone(),
                    attempt: *attempt,
                    started_at,
                    ended_at: extra.ended_at.unwrap_or(now),
                    state: *state,
                    outcome: extra.outcome.clone(),
                    exit_code: extra.exit_code,
                    commit,
                }))
            }
            _ => None,
        }
    }
}
