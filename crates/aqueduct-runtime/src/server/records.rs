//! Conversions between the scheduler's view and the store's records.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use aqueduct_core::run::TaskInstance;
use aqueduct_core::scheduler::{Backfill, RestoredRun, RunInfo, RunKey, RunType};

/// Concurrency of a restored backfill whose record is missing (recorded before backfills were
/// kept in the store).
pub(crate) const DEFAULT_BACKFILL_ACTIVE: u32 = 4;
use aqueduct_core::{ParamValue, Pipeline, RunState, TaskState};
use aqueduct_store::{RunRecord, TaskInstanceRecord};
use jiff::Timestamp;

pub(crate) fn store_run_type(run_type: RunType) -> aqueduct_store::RunType {
    match run_type {
        RunType::Scheduled => aqueduct_store::RunType::Scheduled,
        RunType::Manual => aqueduct_store::RunType::Manual,
        RunType::Backfill => aqueduct_store::RunType::Backfill,
    }
}

fn core_run_type(run_type: aqueduct_store::RunType) -> RunType {
    match run_type {
        aqueduct_store::RunType::Scheduled => RunType::Scheduled,
        aqueduct_store::RunType::Manual => RunType::Manual,
        aqueduct_store::RunType::Backfill => RunType::Backfill,
    }
}

pub(crate) fn params_json(params: &BTreeMap<String, ParamValue>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(name, value)| {
            let value = match value {
                ParamValue::String(text) => serde_json::Value::from(text.as_str()),
                ParamValue::Integer(number) => serde_json::Value::from(*number),
                ParamValue::Number(number) => serde_json::Value::from(*number),
                ParamValue::Boolean(flag) => serde_json::Value::from(*flag),
            };
            (name.clone(), value)
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn parse_params(json: &str) -> BTreeMap<String, ParamValue> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(json) else {
        return BTreeMap::new();
    };
    map.into_iter()
        .filter_map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(text) => ParamValue::String(text),
                serde_json::Value::Bool(flag) => ParamValue::Boolean(flag),
                serde_json::Value::Number(n) if n.is_i64() => ParamValue::Integer(n.as_i64()?),
                serde_json::Value::Number(n) => ParamValue::Number(n.as_f64()?),
                _ => return None,
            };
            Some((name, value))
        })
        .collect()
}

/// The store record of a new run.
/// The store's record of a new run; `source_dir` is the folder its tasks run in.
pub(crate) fn run_record(info: &RunInfo, source_dir: Option<&Path>, now: Timestamp) -> RunRecord {
    RunRecord {
        id: info.run_id.clone(),
        pipeline: info.pipeline.clone(),
        version_id: info.version,
        run_type: store_run_type(info.run_type),
        state: RunState::Queued,
        logical_date: info.logical_date,
        data_interval_start: info.data_interval_start,
        data_interval_end: info.data_interval_end,
        run_after: info.run_after,
        params_json: params_json(&info.params),
        created_at: now,
        started_at: None,
        ended_at: None,
        backfill_id: info.backfill.map(|backfill| backfill.id),
        source_dir: source_dir.map(|dir| dir.display().to_string()),
    }
}

/// The scheduler's view of a stored run, with the definition it started with.
pub(crate) fn restored_run(
    record: &RunRecord,
    tasks: &[TaskInstanceRecord],
    pipeline: Arc<Pipeline>,
    backfill_limit: Option<u32>,
) -> RestoredRun {
    let instances = pipeline
        .tasks
        .iter()
        .map(|task| {
            let stored = tasks.iter().find(|t| t.task == task.name);
            TaskInstance {
                state: stored.map_or(TaskState::None, |t| t.state),
                attempts: stored.map_or(0, |t| t.attempts),
                retry_at: stored.and_then(|t| t.retry_at),
                last_outcome: None,
            }
        })
        .collect();
    RestoredRun {
        info: run_info(record, backfill_limit),
        pipeline,
        state: record.state,
        tasks: instances,
    }
}

/// The run's scheduler info; `backfill_limit` is its backfill's stored concurrency.
pub(crate) fn run_info(record: &RunRecord, backfill_limit: Option<u32>) -> RunInfo {
    RunInfo {
        run_id: record.id.clone(),
        pipeline: record.pipeline.clone(),
        version: record.version_id,
        run_type: core_run_type(record.run_type),
        logical_date: record.logical_date,
        data_interval_start: record.data_interval_start,
        data_interval_end: record.data_interval_end,
        run_after: record.run_after,
        params: parse_params(&record.params_json),
        backfill: record.backfill_id.map(|id| Backfill {
            id,
            max_active_runs: backfill_limit.unwrap_or(DEFAULT_BACKFILL_ACTIVE),
        }),
    }
}

pub(crate) fn key_of(record: &RunRecord) -> RunKey {
    RunKey {
        pipeline: record.pipeline.clone(),
        run_id: record.id.clone(),
    }
}
