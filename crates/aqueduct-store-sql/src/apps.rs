//! Queries on GitOps apps and their sync history.

use aqueduct_store::{
    AppRecord, Error as StoreError, NewEvent, NewSync, NewVersion, Page, PipelineVersion,
    SyncRecord,
};
use jiff::Timestamp;
use sqlx::{AnyConnection, AnyPool};

use crate::codec::{app_columns, decode_app, decode_sync, micros, sync_columns};
use crate::connect::Backend;
use crate::error::Result;
use crate::events;
use crate::pipelines::{self, count, offset};

fn app_not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("app {name}"))
}

/// Creates the app or replaces its declaration; `updated_at` moves only on a change.
pub(crate) async fn upsert_app(
    pool: &AnyPool,
    name: &str,
    spec_json: &str,
    origin: &str,
    at: Timestamp,
) -> Result<AppRecord> {
    let upsert = concat!(
        "INSERT INTO apps (name, spec_json, origin, applied_commit, auto_sync_suspended, ",
        "created_at, updated_at) VALUES ($1, $2, $3, NULL, 0, $4, $4) ",
        "ON CONFLICT (name) DO UPDATE SET ",
        "updated_at = CASE WHEN apps.spec_json = excluded.spec_json ",
        "AND apps.origin = excluded.origin THEN apps.updated_at ELSE excluded.updated_at END, ",
        "spec_json = excluded.spec_json, origin = excluded.origin RETURNING ",
        app_columns!()
    );
    let row = sqlx::query(upsert)
        .bind(name)
        .bind(spec_json)
        .bind(origin)
        .bind(micros(at))
        .fetch_one(pool)
        .await?;
    decode_app(&row)
}

pub(crate) async fn get_app(pool: &AnyPool, name: &str) -> Result<AppRecord> {
    let query = concat!("SELECT ", app_columns!(), " FROM apps WHERE name = $1");
    let row = sqlx::query(query).bind(name).fetch_optional(pool).await?;
    decode_app(&row.ok_or_else(|| app_not_found(name))?)
}

pub(crate) async fn list_apps(pool: &AnyPool) -> Result<Vec<AppRecord>> {
    let query = concat!("SELECT ", app_columns!(), " FROM apps ORDER BY name");
    let rows = sqlx::query(query).fetch_all(pool).await?;
    rows.iter().map(decode_app).collect()
}

/// Deletes the app row only: its syncs and what they created stay.
pub(crate) async fn delete_app(pool: &AnyPool, name: &str) -> Result<()> {
    let result = sqlx::query("DELETE FROM apps WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await?;
    match result.rows_affected() {
        0 => Err(app_not_found(name).into()),
        _ => Ok(()),
    }
}

pub(crate) async fn set_auto_sync_suspended(
    pool: &AnyPool,
    name: &str,
    suspended: bool,
    at: Timestamp,
) -> Result<()> {
    // Every right-hand side reads the row as it was before the update (both backends).
    let update = "UPDATE apps SET updated_at = CASE WHEN auto_sync_suspended = $1 \
                  THEN updated_at ELSE $2 END, auto_sync_suspended = $1 WHERE name = $3";
    let result = sqlx::query(update)
        .bind(i64::from(suspended))
        .bind(micros(at))
        .bind(name)
        .execute(pool)
        .await?;
    match result.rows_affected() {
        0 => Err(app_not_found(name).into()),
        _ => Ok(()),
    }
}

/// Records a sync and, when `applied` is `Some`, its versions and the app's new commit. Run it
/// in a transaction: an unknown app is found out last, after the other writes, which the
/// caller's rollback then undoes.
pub(crate) async fn record_sync(
    connection: &mut AnyConnection,
    backend: Backend,
    sync: &NewSync,
    applied: Option<&[NewVersion]>,
    at: Timestamp,
) -> Result<(SyncRecord, Vec<PipelineVersion>)> {
    let record = insert_sync(connection, sync, at).await?;
    let versions = match applied {
        Some(applied) => {
            let versions = pipelines::record_versions(connection, applied, at).await?;
            pipelines::clear_live_edits(connection, &versions).await?;
            mark_applied(connection, &sync.app, &sync.commit, at).await?;
            versions
        }
        None => {
            require_app(connection, &sync.app).await?;
            Vec::new()
        }
    };
    events::append(connection, backend, &NewEvent::of_sync(&record)).await?;
    for notification in &sync.notifications {
        crate::outbox::insert(connection, notification).await?;
    }
    Ok((record, versions))
}

async fn insert_sync(
    connection: &mut AnyConnection,
    sync: &NewSync,
    at: Timestamp,
) -> Result<SyncRecord> {
    let insert = concat!(
        "INSERT INTO app_syncs (app, commit_id, revision, message, author, committed_at, ",
        "initiator, result, detail_json, started_at, ended_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ",
        sync_columns!()
    );
    let row = sqlx::query(insert)
        .bind(&sync.app)
        .bind(&sync.commit)
        .bind(&sync.revision)
        .bind(&sync.message)
        .bind(&sync.author)
        .bind(micros(sync.committed_at))
        .bind(&sync.initiator)
        .bind(sync.result.as_str())
        .bind(&sync.detail_json)
        .bind(micros(sync.started_at))
        .bind(micros(at))
        .fetch_one(connection)
        .await?;
    decode_sync(&row)
}

async fn mark_applied(
    connection: &mut AnyConnection,
    name: &str,
    commit: &str,
    at: Timestamp,
) -> Result<()> {
    let update = "UPDATE apps SET applied_commit = $1, updated_at = $2 WHERE name = $3";
    let result = sqlx::query(update)
        .bind(commit)
        .bind(micros(at))
        .bind(name)
        .execute(connection)
        .await?;
    match result.rows_affected() {
        0 => Err(app_not_found(name).into()),
        _ => Ok(()),
    }
}

async fn require_app(connection: &mut AnyConnection, name: &str) -> Result<()> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM apps WHERE name = $1")
        .bind(name)
        .fetch_optional(connection)
        .await?;
    exists.map(drop).ok_or_else(|| app_not_found(name).into())
}

/// An app's syncs, newest first, and how many it has; also those of a deleted app.
pub(crate) async fn list_syncs(
    pool: &AnyPool,
    app: &str,
    page: Page,
) -> Result<(Vec<SyncRecord>, u64)> {
    let select = concat!(
        "SELECT ",
        sync_columns!(),
        " FROM app_syncs WHERE app = $1 ORDER BY id DESC LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(select)
        .bind(app)
        .bind(i64::from(page.limit))
        .bind(offset(page))
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) AS total FROM app_syncs WHERE app = $1")
        .bind(app)
        .fetch_one(pool)
        .await?;
    let syncs = rows.iter().map(decode_sync).collect::<Result<_>>()?;
    Ok((syncs, count(total)))
}

pub(crate) async fn get_sync(pool: &AnyPool, app: &str, id: i64) -> Result<SyncRecord> {
    let query = concat!(
        "SELECT ",
        sync_columns!(),
        " FROM app_syncs WHERE id = $1 AND app = $2"
    );
    let row = sqlx::query(query)
        .bind(id)
        .bind(app)
        .fetch_optional(pool)
        .await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("sync {id} of app {app}")))?;
    decode_sync(&row)
}
