//! Queries on backfills.

use aqueduct_store::{BackfillRecord, Error as StoreError, NewBackfill};
use jiff::Timestamp;
use sqlx::AnyPool;

use crate::codec::{backfill_columns, decode_backfill, micros};
use crate::error::Result;

pub(crate) async fn create_backfill(
    pool: &AnyPool,
    backfill: &NewBackfill,
    at: Timestamp,
) -> Result<BackfillRecord> {
    let insert = concat!(
        "INSERT INTO backfills (pipeline, from_date, to_date, reprocess, max_active_runs, ",
        "created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        backfill_columns!()
    );
    let row = sqlx::query(insert)
        .bind(&backfill.pipeline)
        .bind(micros(backfill.from))
        .bind(micros(backfill.to))
        .bind(backfill.reprocess.as_str())
        .bind(i64::from(backfill.max_active_runs))
        .bind(micros(at))
        .fetch_one(pool)
        .await?;
    decode_backfill(&row)
}

pub(crate) async fn get_backfill(pool: &AnyPool, id: i64) -> Result<BackfillRecord> {
    let query = concat!(
        "SELECT ",
        backfill_columns!(),
        " FROM backfills WHERE id = $1"
    );
    let row = sqlx::query(query).bind(id).fetch_optional(pool).await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("backfill {id}")))?;
    decode_backfill(&row)
}

pub(crate) async fn list_backfills(pool: &AnyPool, pipeline: &str) -> Result<Vec<BackfillRecord>> {
    let query = concat!(
        "SELECT ",
        backfill_columns!(),
        " FROM backfills WHERE pipeline = $1 ORDER BY id DESC"
    );
    let rows = sqlx::query(query).bind(pipeline).fetch_all(pool).await?;
    rows.iter().map(decode_backfill).collect()
}
