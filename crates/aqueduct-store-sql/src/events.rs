//! Queries on the event log.

use aqueduct_store::{EventKind, EventRecord, NewEvent};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::codec::{micros, text, timestamp};
use crate::connect::Backend;
use crate::error::{Error, Result};

/// The key of the PostgreSQL advisory lock every event writer holds until it commits.
///
/// An identity column hands out numbers when rows are inserted, not when they commit, so two
/// concurrent writers could commit 8 before 7 and a reader that saw 8 would skip 7 for ever.
/// Holding this lock from the first append to the commit makes the commit order the number
/// order. SQLite needs nothing: its writers are serialized by `BEGIN IMMEDIATE`.
const APPEND_LOCK: i64 = 0x6171_6576_656e_7473; // "aqevents"

/// Appends `event` in the caller's transaction.
pub(crate) async fn append(
    connection: &mut AnyConnection,
    backend: Backend,
    event: &NewEvent,
) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *connection)
            .await?;
    }
    let insert = concat!(
        "INSERT INTO events (at, kind, pipeline, run_id, task, app, data_json) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7)"
    );
    sqlx::query(insert)
        .bind(micros(event.at))
        .bind(event.kind.as_str())
        .bind(event.pipeline.as_deref())
        .bind(event.run_id.as_deref())
        .bind(event.task.as_deref())
        .bind(event.app.as_deref())
        .bind(&event.data_json)
        .execute(connection)
        .await?;
    Ok(())
}

/// At most `limit` events after `after`, lowest sequence number first.
pub(crate) async fn list(pool: &AnyPool, after: i64, limit: u32) -> Result<Vec<EventRecord>> {
    let query = concat!(
        "SELECT seq, at, kind, pipeline, run_id, task, app, data_json FROM events ",
        "WHERE seq > $1 ORDER BY seq LIMIT $2"
    );
    let rows = sqlx::query(query)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// Deletes the events before `older_than`; returns how many.
pub(crate) async fn prune(connection: &mut AnyConnection, older_than: Timestamp) -> Result<u64> {
    let deleted = sqlx::query("DELETE FROM events WHERE at < $1")
        .bind(micros(older_than))
        .execute(connection)
        .await?;
    Ok(deleted.rows_affected())
}

fn decode(row: &AnyRow) -> Result<EventRecord> {
    let kind = text(row, "kind")?;
    let kind = EventKind::parse(&kind).ok_or(Error::Decode {
        column: "kind",
        value: kind,
    })?;
    Ok(EventRecord {
        seq: row.try_get("seq")?,
        event: NewEvent {
            at: timestamp(row, "at")?,
            kind,
            pipeline: row.try_get("pipeline")?,
            run_id: row.try_get("run_id")?,
            task: row.try_get("task")?,
            app: row.try_get("app")?,
            data_json: text(row, "data_json")?,
        },
    })
}
