//! Queries on task instances.

use aqueduct_store::{TaskAttemptRecord, TaskInstanceRecord};
use sqlx::AnyConnection;

use crate::codec::{attempt_columns, decode_attempt, decode_task, micros, task_columns};
use crate::error::Result;
use crate::runs::{ACTIVE_STATES, require_run};

/// Inserts or replaces a task instance of an existing run.
pub(crate) async fn upsert_task(
    connection: &mut AnyConnection,
    task: &TaskInstanceRecord,
) -> Result<()> {
    require_run(connection, &task.pipeline, &task.run_id).await?;
    let upsert = concat!(
        "INSERT INTO task_instances (",
        task_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ",
        "ON CONFLICT (pipeline, run_id, task) DO UPDATE SET ",
        "state = excluded.state, attempts = excluded.attempts, exit_code = excluded.exit_code, ",
        "outcome = excluded.outcome, pid = excluded.pid, started_at = excluded.started_at, ",
        "ended_at = excluded.ended_at, retry_at = excluded.retry_at, ",
        "outputs_json = excluded.outputs_json"
    );
    sqlx::query(upsert)
        .bind(&task.pipeline)
        .bind(&task.run_id)
        .bind(&task.task)
        .bind(task.state.as_str())
        .bind(i64::from(task.attempts))
        .bind(task.exit_code.map(i64::from))
        .bind(task.outcome.as_deref())
        .bind(task.pid.map(i64::from))
        .bind(task.started_at.map(micros))
        .bind(task.ended_at.map(micros))
        .bind(task.retry_at.map(micros))
        .bind(&task.outputs_json)
        .execute(&mut *connection)
        .await?;
    if let Some(attempt) = TaskAttemptRecord::of_instance(task) {
        upsert_attempt(connection, &attempt).await?;
    }
    Ok(())
}

/// Inserts an attempt, or updates it while it has not ended (an ended attempt never changes).
async fn upsert_attempt(connection: &mut AnyConnection, attempt: &TaskAttemptRecord) -> Result<()> {
    let upsert = concat!(
        "INSERT INTO task_attempts (",
        attempt_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ",
        "ON CONFLICT (pipeline, run_id, task, attempt) DO UPDATE SET ",
        "state = excluded.state, exit_code = excluded.exit_code, outcome = excluded.outcome, ",
        "started_at = excluded.started_at, ended_at = excluded.ended_at ",
        "WHERE task_attempts.ended_at IS NULL"
    );
    sqlx::query(upsert)
        .bind(&attempt.pipeline)
        .bind(&attempt.run_id)
        .bind(&attempt.task)
        .bind(i64::from(attempt.attempt))
        .bind(attempt.state.as_str())
        .bind(attempt.exit_code.map(i64::from))
        .bind(attempt.outcome.as_deref())
        .bind(micros(attempt.started_at))
        .bind(attempt.ended_at.map(micros))
        .execute(connection)
        .await?;
    Ok(())
}

/// The attempts of one run, by task name, then attempt.
pub(crate) async fn list_attempts(
    connection: &mut AnyConnection,
    pipeline: &str,
    run_id: &str,
) -> Result<Vec<TaskAttemptRecord>> {
    let query = concat!(
        "SELECT ",
        attempt_columns!(),
        " FROM task_attempts WHERE pipeline = $1 AND run_id = $2 ORDER BY task, attempt"
    );
    let rows = sqlx::query(query)
        .bind(pipeline)
        .bind(run_id)
        .fetch_all(connection)
        .await?;
    rows.iter().map(decode_attempt).collect()
}

/// The task instances of one run, by task name.
pub(crate) async fn list_tasks(
    connection: &mut AnyConnection,
    pipeline: &str,
    run_id: &str,
) -> Result<Vec<TaskInstanceRecord>> {
    let query = concat!(
        "SELECT ",
        task_columns!(),
        " FROM task_instances WHERE pipeline = $1 AND run_id = $2 ORDER BY task"
    );
    let rows = sqlx::query(query)
        .bind(pipeline)
        .bind(run_id)
        .fetch_all(connection)
        .await?;
    rows.iter().map(decode_task).collect()
}

/// The task instances of every queued or running run, by pipeline, run and task.
pub(crate) async fn active_tasks(
    connection: &mut AnyConnection,
) -> Result<Vec<TaskInstanceRecord>> {
    let query = concat!(
        "SELECT ",
        task_columns!(),
        " FROM task_instances WHERE EXISTS (SELECT 1 FROM runs ",
        "WHERE runs.pipeline = task_instances.pipeline AND runs.id = task_instances.run_id ",
        "AND runs.state IN ($1, $2)) ORDER BY pipeline, run_id, task"
    );
    let rows = sqlx::query(query)
        .bind(ACTIVE_STATES[0].as_str())
        .bind(ACTIVE_STATES[1].as_str())
        .fetch_all(connection)
        .await?;
    rows.iter().map(decode_task).collect()
}
