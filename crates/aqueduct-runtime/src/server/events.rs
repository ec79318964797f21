//! The event log entry of each state-changing effect, appended in the effect's own
//! transaction (issue #7): a consumer resuming from a sequence number misses no change.

use aqueduct_core::scheduler::Effect;
use aqueduct_store::{EventKind, NewEvent};
use jiff::Timestamp;
use serde_json::json;

use super::Server;
use aqueduct_store::Store;

impl<S: Store> Server<S> {
    /// The event reporting `effect`, if it changes state. Called after the effect's change was
    /// prepared, so a new run is already tracked.
    pub(super) fn event_for(&self, effect: &Effect, now: Timestamp) -> Option<NewEvent> {
        let event =
            |kind, pipeline: &str, run_id: Option<&str>, data: serde_json::Value| NewEvent {
                at: now,
                kind,
                pipeline: Some(pipeline.to_owned()),
                run_id: run_id.map(str::to_owned),
                task: None,
                app: None,
                data_json: data.to_string(),
            };
        match effect {
            Effect::RunCreated(info) => Some(event(
                EventKind::RunCreated,
                &info.pipeline,
                Some(&info.run_id),
                json!({
                    "state": "queued",
                    "run_type": info.run_type.as_str(),
                    "logical_date": info.logical_date.to_string(),
                    "version": info.version,
                }),
            )),
            Effect::RunState { run, state } => Some(event(
                EventKind::RunState,
                &run.pipeline,
                Some(&run.run_id),
                json!({ "state": state.as_str() }),
            )),
            Effect::TaskState {
                run,
                task,
                state,
                attempt,
            } => {
                let meta = self.runs.get(run)?;
                let mut data = json!({ "state": state.as_str(), "attempt": attempt });
                if let Some(code) = meta.extras[*task].exit_code
                    && state.is_finished()
                {
                    data["exit_code"] = json!(code);
                }
                let mut event = event(EventKind::TaskState, &run.pipeline, Some(&run.run_id), data);
                event.task = Some(meta.pipeline.tasks[*task].name.clone());
                Some(event)
            }
            Effect::Paused { pipeline, paused } => Some(event(
                EventKind::Paused,
                pipeline,
                None,
                json!({ "paused": paused }),
            )),
            _ => None,
        }
    }
}
