//! Rows to records and back: epoch microseconds, enum names, integer widths.
//!
//! The column lists are macros so queries can be assembled with `concat!` into the `&'static
//! str` sqlx requires, and every `SELECT` of a table reads the columns its decoder expects.

use aqueduct_core::{RunState, TaskState};
use aqueduct_store::{
    AppRecord, BackfillRecord, PipelineRow, PipelineVersion, Reprocess, Role, RunRecord, RunType,
    SyncRecord, SyncResult, TaskAttemptRecord, TaskInstanceRecord, TokenRecord,
};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Error, Result};

macro_rules! version_columns {
    () => {
        "id, pipeline, hash, definition, source, created_at"
    };
}

macro_rules! pipeline_columns {
    () => {
        "name, paused, latest_version, created_at, updated_at, live_version"
    };
}

macro_rules! run_columns {
    () => {
        "pipeline, id, version_id, run_type, state, logical_date, data_interval_start, \
         data_interval_end, run_after, params_json, created_at, started_at, ended_at, backfill_id, \
         source_dir"
    };
}

macro_rules! task_columns {
    () => {
        "pipeline, run_id, task, state, attempts, exit_code, outcome, pid, started_at, ended_at, \
         retry_at, outputs_json"
    };
}

macro_rules! token_columns {
    () => {
        "id, name, role, hash, created_at, last_used_at"
    };
}

macro_rules! backfill_columns {
    () => {
        "id, pipeline, from_date, to_date, reprocess, max_active_runs, created_at"
    };
}

macro_rules! app_columns {
    () => {
        "name, spec_json, origin, applied_commit, auto_sync_suspended, created_at, updated_at"
    };
}

macro_rules! sync_columns {
    () => {
        "id, app, commit_id, revision, message, author, committed_at, initiator, result, \
         detail_json, started_at, ended_at"
    };
}

macro_rules! attempt_columns {
    () => {
        "pipeline, run_id, task, attempt, state, exit_code, outcome, started_at, ended_at"
    };
}

pub(crate) use {
    app_columns, attempt_columns, backfill_columns, pipeline_columns, run_columns, sync_columns,
    task_columns, token_columns, version_columns,
};

/// How a timestamp is stored: microseconds since the Unix epoch.
pub(crate) fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

/// A run state by its Airflow name.
pub(crate) fn parse_run_state(name: &str) -> Option<RunState> {
    let all = [
        RunState::Queued,
        RunState::Running,
        RunState::Success,
        RunState::Failed,
        RunState::Cancelled,
    ];
    all.into_iter().find(|state| state.as_str() == name)
}

/// A task state by its Airflow name.
pub(crate) fn parse_task_state(name: &str) -> Option<TaskState> {
    TaskState::ALL
        .into_iter()
        .find(|state| state.as_str() == name)
}

pub(crate) fn text(row: &AnyRow, column: &'static str) -> Result<String> {
    Ok(row.try_get(column)?)
}

fn parsed<T>(row: &AnyRow, column: &'static str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let value = text(row, column)?;
    parse(&value).ok_or(Error::Decode { column, value })
}

fn timestamp_of(column: &'static str, value: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(value).map_err(|_| Error::Decode {
        column,
        value: value.to_string(),
    })
}

pub(crate) fn timestamp(row: &AnyRow, column: &'static str) -> Result<Timestamp> {
    timestamp_of(column, row.try_get(column)?)
}

pub(crate) fn optional_timestamp(row: &AnyRow, column: &'static str) -> Result<Option<Timestamp>> {
    let value: Option<i64> = row.try_get(column)?;
    value.map(|value| timestamp_of(column, value)).transpose()
}

/// An integer column narrowed to `T`.
pub(crate) fn narrowed<T: TryFrom<i64>>(column: &'static str, value: i64) -> Result<T> {
    T::try_from(value).map_err(|_| Error::Decode {
        column,
        value: value.to_string(),
    })
}

fn optional_narrowed<T: TryFrom<i64>>(row: &AnyRow, column: &'static str) -> Result<Option<T>> {
    let value: Option<i64> = row.try_get(column)?;
    value.map(|value| narrowed(column, value)).transpose()
}

pub(crate) fn decode_version(row: &AnyRow) -> Result<PipelineVersion> {
    Ok(PipelineVersion {
        id: row.try_get("id")?,
        pipeline: text(row, "pipeline")?,
        hash: text(row, "hash")?,
        definition: text(row, "definition")?,
        source: text(row, "source")?,
        created_at: timestamp(row, "created_at")?,
    })
}

pub(crate) fn decode_pipeline(row: &AnyRow) -> Result<PipelineRow> {
    Ok(PipelineRow {
        name: text(row, "name")?,
        paused: row.try_get::<i64, _>("paused")? != 0,
        latest_version: row.try_get("latest_version")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        live_version: row.try_get("live_version")?,
    })
}

pub(crate) fn decode_run(row: &AnyRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: text(row, "id")?,
        pipeline: text(row, "pipeline")?,
        version_id: row.try_get("version_id")?,
        run_type: parsed(row, "run_type", RunType::parse)?,
        state: parsed(row, "state", parse_run_state)?,
        logical_date: timestamp(row, "logical_date")?,
        data_interval_start: timestamp(row, "data_interval_start")?,
        data_interval_end: timestamp(row, "data_interval_end")?,
        run_after: timestamp(row, "run_after")?,
        params_json: text(row, "params_json")?,
        created_at: timestamp(row, "created_at")?,
        started_at: optional_timestamp(row, "started_at")?,
        ended_at: optional_timestamp(row, "ended_at")?,
        backfill_id: row.try_get("backfill_id")?,
        source_dir: row.try_get("source_dir")?,
    })
}

pub(crate) fn decode_task(row: &AnyRow) -> Result<TaskInstanceRecord> {
    Ok(TaskInstanceRecord {
        pipeline: text(row, "pipeline")?,
        run_id: text(row, "run_id")?,
        task: text(row, "task")?,
        state: parsed(row, "state", parse_task_state)?,
        attempts: narrowed("attempts", row.try_get("attempts")?)?,
        exit_code: optional_narrowed(row, "exit_code")?,
        outcome: row.try_get("outcome")?,
        pid: optional_narrowed(row, "pid")?,
        started_at: optional_timestamp(row, "started_at")?,
        ended_at: optional_timestamp(row, "ended_at")?,
        retry_at: optional_timestamp(row, "retry_at")?,
        outputs_json: text(row, "outputs_json")?,
    })
}

pub(crate) fn decode_attempt(row: &AnyRow) -> Result<TaskAttemptRecord> {
    Ok(TaskAttemptRecord {
        pipeline: text(row, "pipeline")?,
        run_id: text(row, "run_id")?,
        task: text(row, "task")?,
        attempt: narrowed("attempt", row.try_get("attempt")?)?,
        state: parsed(row, "state", parse_task_state)?,
        exit_code: optional_narrowed(row, "exit_code")?,
        outcome: row.try_get("outcome")?,
        started_at: timestamp(row, "started_at")?,
        ended_at: optional_timestamp(row, "ended_at")?,
    })
}

pub(crate) fn decode_token(row: &AnyRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.try_get("id")?,
        name: text(row, "name")?,
        role: parsed(row, "role", Role::parse)?,
        hash: text(row, "hash")?,
        created_at: timestamp(row, "created_at")?,
        last_used_at: optional_timestamp(row, "last_used_at")?,
    })
}

pub(crate) fn decode_backfill(row: &AnyRow) -> Result<BackfillRecord> {
    Ok(BackfillRecord {
        id: row.try_get("id")?,
        pipeline: text(row, "pipeline")?,
        from: timestamp(row, "from_date")?,
        to: timestamp(row, "to_date")?,
        reprocess: parsed(row, "reprocess", Reprocess::parse)?,
        max_active_runs: narrowed("max_active_runs", row.try_get("max_active_runs")?)?,
        created_at: timestamp(row, "created_at")?,
    })
}

pub(crate) fn decode_app(row: &AnyRow) -> Result<AppRecord> {
    Ok(AppRecord {
        name: text(row, "name")?,
        spec_json: text(row, "spec_json")?,
        origin: text(row, "origin")?,
        applied_commit: row.try_get("applied_commit")?,
        auto_sync_suspended: row.try_get::<i64, _>("auto_sync_suspended")? != 0,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

pub(crate) fn decode_sync(row: &AnyRow) -> Result<SyncRecord> {
    Ok(SyncRecord {
        id: row.try_get("id")?,
        app: text(row, "app")?,
        commit: text(row, "commit_id")?,
        revision: text(row, "revision")?,
        message: text(row, "message")?,
        author: text(row, "author")?,
        committed_at: timestamp(row, "committed_at")?,
        initiator: text(row, "initiator")?,
        result: parsed(row, "result", SyncResult::parse)?,
        detail_json: text(row, "detail_json")?,
        started_at: timestamp(row, "started_at")?,
        ended_at: timestamp(row, "ended_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_name_parses_back() {
        for state in TaskState::ALL {
            assert_eq!(parse_task_state(state.as_str()), Some(state));
        }
        for name in ["queued", "running", "success", "failed", "cancelled"] {
            assert_eq!(parse_run_state(name).map(RunState::as_str), Some(name));
        }
        assert_eq!(parse_run_state("up_for_retry"), None);
        assert_eq!(parse_task_state("Running"), None);
        for result in SyncResult::ALL {
            assert_eq!(SyncResult::parse(result.as_str()), Some(result));
        }
        assert_eq!(SyncResult::parse("Succeeded"), None);
    }
}
