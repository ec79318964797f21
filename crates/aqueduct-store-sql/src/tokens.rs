//! Queries on API tokens.

use aqueduct_store::{Error as StoreError, Role, TokenRecord};
use jiff::Timestamp;
use sqlx::AnyPool;

use crate::codec::{decode_token, micros, token_columns};
use crate::error::Result;

fn token_not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("token {id}"))
}

/// Creates a token; Conflict when the name is taken.
pub(crate) async fn create_token(
    pool: &AnyPool,
    name: &str,
    role: Role,
    hash: &str,
    at: Timestamp,
) -> Result<TokenRecord> {
    let insert = concat!(
        "INSERT INTO api_tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4) ",
        "ON CONFLICT (name) DO NOTHING RETURNING ",
        token_columns!()
    );
    let row = sqlx::query(insert)
        .bind(name)
        .bind(role.as_str())
        .bind(hash)
        .bind(micros(at))
        .fetch_optional(pool)
        .await?;
    let row = row.ok_or_else(|| StoreError::Conflict(format!("token {name}")))?;
    decode_token(&row)
}

pub(crate) async fn get_token(pool: &AnyPool, id: i64) -> Result<TokenRecord> {
    let query = concat!(
        "SELECT ",
        token_columns!(),
        " FROM api_tokens WHERE id = $1"
    );
    let row = sqlx::query(query).bind(id).fetch_optional(pool).await?;
    decode_token(&row.ok_or_else(|| token_not_found(id))?)
}

pub(crate) async fn list_tokens(pool: &AnyPool) -> Result<Vec<TokenRecord>> {
    let query = concat!("SELECT ", token_columns!(), " FROM api_tokens ORDER BY id");
    let rows = sqlx::query(query).fetch_all(pool).await?;
    rows.iter().map(decode_token).collect()
}

pub(crate) async fn touch_token(pool: &AnyPool, id: i64, at: Timestamp) -> Result<()> {
    let result = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(micros(at))
        .bind(id)
        .execute(pool)
        .await?;
    match result.rows_affected() {
        0 => Err(token_not_found(id).into()),
        _ => Ok(()),
    }
}

pub(crate) async fn delete_token(pool: &AnyPool, id: i64) -> Result<()> {
    let result = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    match result.rows_affected() {
        0 => Err(token_not_found(id).into()),
        _ => Ok(()),
    }
}
