//! Queries on runs: creation (the slot's uniqueness), updates, listing, schedule progress and
//! retention.

use aqueduct_core::RunState;
use aqueduct_store::{Error as StoreError, Page, RunFilter, RunKey, RunRecord, RunType, RunUpdate};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::{AnyConnection, AnyPool};

use crate::codec::{decode_run, micros, run_columns, text, timestamp};
use crate::error::Result;
use crate::pipelines::{count, offset};

/// The states of runs that are not finished: what recovery reloads and retention keeps.
pub(crate) const ACTIVE_STATES: [RunState; 2] = [RunState::Queued, RunState::Running];

fn run_not_found(pipeline: &str, run_id: &str) -> StoreError {
    StoreError::NotFound(format!("run {run_id} of pipeline {pipeline}"))
}

/// Inserts a run; Conflict if `(pipeline, id)` exists, NotFound if the version is not one of
/// the pipeline's.
pub(crate) async fn create_run(
    connection: &mut AnyConnection,
    run: &RunRecord,
) -> Result<RunRecord> {
    let version_pipeline: Option<String> =
        sqlx::query_scalar("SELECT pipeline FROM pipeline_versions WHERE id = $1")
            .bind(run.version_id)
            .fetch_optional(&mut *connection)
            .await?;
    if version_pipeline.as_deref() != Some(run.pipeline.as_str()) {
        let what = format!("version {} of pipeline {}", run.version_id, run.pipeline);
        return Err(StoreError::NotFound(what).into());
    }
    let insert = concat!(
        "INSERT INTO runs (",
        run_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ",
        "ON CONFLICT (pipeline, id) DO NOTHING RETURNING ",
        run_columns!()
    );
    let inserted = sqlx::query(insert)
        .bind(&run.pipeline)
        .bind(&run.id)
        .bind(run.version_id)
        .bind(run.run_type.as_str())
        .bind(run.state.as_str())
        .bind(micros(run.logical_date))
        .bind(micros(run.data_interval_start))
        .bind(micros(run.data_interval_end))
        .bind(micros(run.run_after))
        .bind(&run.params_json)
        .bind(micros(run.created_at))
        .bind(run.started_at.map(micros))
        .bind(run.ended_at.map(micros))
        .bind(run.backfill_id)
        .bind(run.source_dir.as_deref())
        .fetch_optional(connection)
        .await?;
    match inserted {
        Some(row) => decode_run(&row),
        None => {
            Err(StoreError::Conflict(format!("run {} of pipeline {}", run.id, run.pipeline)).into())
        }
    }
}

pub(crate) async fn update_run(
    connection: &mut AnyConnection,
    update: &RunUpdate,
) -> Result<RunRecord> {
    let query = concat!(
        "UPDATE runs SET state = $1, started_at = $2, ended_at = $3 ",
        "WHERE pipeline = $4 AND id = $5 RETURNING ",
        run_columns!()
    );
    let row = sqlx::query(query)
        .bind(update.state.as_str())
        .bind(update.started_at.map(micros))
        .bind(update.ended_at.map(micros))
        .bind(&update.pipeline)
        .bind(&update.run_id)
        .fetch_optional(connection)
        .await?;
    let row = row.ok_or_else(|| run_not_found(&update.pipeline, &update.run_id))?;
    decode_run(&row)
}

/// Whether the run exists (checked before writing its task instances).
pub(crate) async fn require_run(
    connection: &mut AnyConnection,
    pipeline: &str,
    run_id: &str,
) -> Result<()> {
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM runs WHERE pipeline = $1 AND id = $2")
            .bind(pipeline)
            .bind(run_id)
            .fetch_optional(connection)
            .await?;
    exists
        .map(drop)
        .ok_or_else(|| run_not_found(pipeline, run_id).into())
}

pub(crate) async fn get_run(pool: &AnyPool, pipeline: &str, run_id: &str) -> Result<RunRecord> {
    let query = concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE pipeline = $1 AND id = $2"
    );
    let row = sqlx::query(query)
        .bind(pipeline)
        .bind(run_id)
        .fetch_optional(pool)
        .await?;
    let row = row.ok_or_else(|| run_not_found(pipeline, run_id))?;
    decode_run(&row)
}

pub(crate) async fn list_runs(
    pool: &AnyPool,
    filter: &RunFilter,
    page: Page,
) -> Result<(Vec<RunRecord>, u64)> {
    let pipeline = filter.pipeline.as_deref();
    let state = filter.state.map(RunState::as_str);
    let select = concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE ($1 IS NULL OR pipeline = $1) AND ($2 IS NULL OR state = $2) ",
        "ORDER BY logical_date DESC, pipeline ASC, id DESC LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(select)
        .bind(pipeline)
        .bind(state)
        .bind(i64::from(page.limit))
        .bind(offset(page))
        .fetch_all(pool)
        .await?;
    let count_query = "SELECT COUNT(*) AS total FROM runs \
                       WHERE ($1 IS NULL OR pipeline = $1) AND ($2 IS NULL OR state = $2)";
    let total: i64 = sqlx::query_scalar(count_query)
        .bind(pipeline)
        .bind(state)
        .fetch_one(pool)
        .await?;
    let runs = rows.iter().map(decode_run).collect::<Result<_>>()?;
    Ok((runs, count(total)))
}

pub(crate) async fn latest_run_of_type(
    pool: &AnyPool,
    pipeline: &str,
    run_type: RunType,
) -> Result<Option<RunRecord>> {
    let query = concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE pipeline = $1 AND run_type = $2 ",
        "ORDER BY logical_date DESC, id DESC LIMIT 1"
    );
    let row = sqlx::query(query)
        .bind(pipeline)
        .bind(run_type.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(decode_run).transpose()
}

pub(crate) async fn latest_logical_dates(
    pool: &AnyPool,
    run_type: RunType,
) -> Result<Vec<(String, Timestamp)>> {
    let query = "SELECT pipeline, MAX(logical_date) AS latest FROM runs \
                 WHERE run_type = $1 GROUP BY pipeline";
    let rows = sqlx::query(query)
        .bind(run_type.as_str())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| Ok((text(row, "pipeline")?, timestamp(row, "latest")?)))
        .collect()
}

/// Queued and running runs, oldest logical date first.
pub(crate) async fn active_runs(connection: &mut AnyConnection) -> Result<Vec<RunRecord>> {
    let query = concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE state IN ($1, $2) ORDER BY logical_date ASC, pipeline ASC, id ASC"
    );
    let rows = sqlx::query(query)
        .bind(ACTIVE_STATES[0].as_str())
        .bind(ACTIVE_STATES[1].as_str())
        .fetch_all(connection)
        .await?;
    rows.iter().map(decode_run).collect()
}

/// Deletes finished runs that ended (or, undated, were created) before `older_than`, and
/// their task instances.
pub(crate) async fn prune_runs(
    connection: &mut AnyConnection,
    older_than: Timestamp,
) -> Result<Vec<RunKey>> {
    let delete_tasks = "DELETE FROM task_instances WHERE EXISTS (SELECT 1 FROM runs \
                        WHERE runs.pipeline = task_instances.pipeline \
                        AND runs.id = task_instances.run_id \
                        AND runs.state NOT IN ($1, $2) \
                        AND COALESCE(runs.ended_at, runs.created_at) < $3)";
    let delete_attempts = "DELETE FROM task_attempts WHERE EXISTS (SELECT 1 FROM runs \
                           WHERE runs.pipeline = task_attempts.pipeline \
                           AND runs.id = task_attempts.run_id \
                           AND runs.state NOT IN ($1, $2) \
                           AND COALESCE(runs.ended_at, runs.created_at) < $3)";
    let delete_runs = "DELETE FROM runs WHERE state NOT IN ($1, $2) \
                       AND COALESCE(ended_at, created_at) < $3 RETURNING pipeline, id";
    for delete in [delete_tasks, delete_attempts] {
        sqlx::query(delete)
            .bind(ACTIVE_STATES[0].as_str())
            .bind(ACTIVE_STATES[1].as_str())
            .bind(micros(older_than))
            .execute(&mut *connection)
            .await?;
    }
    let rows = sqlx::query(delete_runs)
        .bind(ACTIVE_STATES[0].as_str())
        .bind(ACTIVE_STATES[1].as_str())
        .bind(micros(older_than))
        .fetch_all(connection)
        .await?;
    let key = |row: &sqlx::any::AnyRow| -> Result<RunKey> {
        Ok(RunKey {
            pipeline: row.try_get("pipeline")?,
            run_id: row.try_get("id")?,
        })
    };
    rows.iter().map(key).collect()
}

#[cfg(test)]
mod tests {
    use super::ACTIVE_STATES;
    use aqueduct_core::RunState;

    #[test]
    fn active_states_are_exactly_the_unfinished_ones() {
        let all = [
            RunState::Queued,
            RunState::Running,
            RunState::Success,
            RunState::Failed,
            RunState::Cancelled,
        ];
        for state in all {
            assert_eq!(
                ACTIVE_STATES.contains(&state),
                !state.is_finished(),
                "{state}"
            );
        }
    }
}
