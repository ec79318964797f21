//! Backfills: a run for every scheduled logical date of a range, with Airflow 3's choice of
//! reprocessing (missing dates only, also failed runs, or all), limited by the backfill's own
//! concurrency so it never takes the slots of the pipeline's regular runs.

use aqueduct_core::RunState;
use aqueduct_core::params::resolve_params;
use aqueduct_core::schedule::Timetable;
use aqueduct_core::scheduler::{Backfill, Input, RunInfo, RunKey, RunType};
use aqueduct_core::template::airflow_ts;
use aqueduct_store::{NewBackfill, RunRecord, Store};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Reprocess;
use super::Server;
use super::commands::{BackfillRequest, CommandError};

impl<S: Store> Server<S> {
    pub(super) async fn backfill(
        &mut self,
        request: BackfillRequest,
    ) -> Result<Vec<RunKey>, CommandError> {
        let name = request.pipeline.clone();
        let def = self
            .scheduler
            .pipeline(&name)
            .ok_or_else(|| CommandError::NotFound(format!("unknown pipeline {name}")))?
            .clone();
        let schedule = &def.pipeline.schedule;
        let timetable = Timetable::new(schedule)
            .map_err(CommandError::Invalid)?
            .ok_or_else(|| {
                CommandError::Invalid(format!("pipeline {name} has no schedule to backfill"))
            })?;
        let zone = TimeZone::get(&schedule.timezone).unwrap_or(TimeZone::UTC);
        let from = parse_date(&request.from, &zone)?;
        let to = parse_date(&request.to, &zone)?;
        if from > to {
            return Err(CommandError::Invalid(format!(
                "from {} is after to {}",
                request.from, request.to
            )));
        }
        let params =
            resolve_params(&def.pipeline, &[]).map_err(|e| CommandError::Invalid(e.to_string()))?;
        // recorded first: the runs carry its id, and a restart reads its concurrency back
        let record = NewBackfill {
            pipeline: name.clone(),
            from,
            to,
            reprocess: request.reprocess,
            max_active_runs: request.max_active_runs.max(1),
        };
        let record = self
            .store
            .create_backfill(record, Timestamp::now())
            .await
            .map_err(|error| CommandError::Internal(error.to_string()))?;
        let backfill = Backfill {
            id: record.id,
            max_active_runs: record.max_active_runs,
        };
        let mut created = Vec::new();
        let mut cleared = Vec::new();
        for scheduled in timetable.runs_between(from, to) {
            match self.existing_run(&name, scheduled.logical_date).await {
                None => created.push(RunInfo {
                    run_id: format!("backfill__{}", airflow_ts(scheduled.logical_date)),
                    pipeline: name.clone(),
                    version: def.version,
                    run_type: RunType::Backfill,
                    logical_date: scheduled.logical_date,
                    data_interval_start: scheduled.data_interval_start,
                    data_interval_end: scheduled.data_interval_end,
                    run_after: Timestamp::now(),
                    params: params.clone(),
                    backfill: Some(backfill),
                }),
                Some(record) if reprocesses(request.reprocess, record.state) => {
                    cleared.push(record.key())
                }
                Some(_) => {}
            }
        }
        let mut keys: Vec<RunKey> = created.iter().map(RunInfo::key).collect();
        self.checked(Input::Backfill(created)).await?;
        for key in cleared {
            let run = RunKey {
                pipeline: key.pipeline,
                run_id: key.run_id,
            };
            self.clear(run.clone(), None, false).await?;
            keys.push(run);
        }
        Ok(keys)
    }

    /// The run of any type that already covers `logical_date`.
    async fn existing_run(&self, pipeline: &str, logical_date: Timestamp) -> Option<RunRecord> {
        let ts = airflow_ts(logical_date);
        for prefix in ["scheduled", "backfill", "manual"] {
            if let Ok(record) = self
                .store
                .get_run(pipeline, &format!("{prefix}__{ts}"))
                .await
            {
                return Some(record);
            }
        }
        None
    }
}

fn reprocesses(reprocess: Reprocess, state: RunState) -> bool {
    state.is_finished()
        && match reprocess {
            Reprocess::Missing => false,
            Reprocess::Failed => state == RunState::Failed,
            Reprocess::All => true,
        }
}

/// `YYYY-MM-DD` (midnight in `zone`) or RFC 3339.
fn parse_date(text: &str, zone: &TimeZone) -> Result<Timestamp, CommandError> {
    aqueduct_core::quantity::parse_date(text, zone).ok_or_else(|| {
        CommandError::Invalid(format!("invalid date `{text}`: use YYYY-MM-DD or RFC 3339"))
    })
}
