//! Queries on the notification outbox.

use aqueduct_store::{DeliveryOutcome, DeliveryState, NewNotification, NotificationRecord};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::codec::{micros, narrowed, optional_timestamp, text, timestamp};
use crate::error::{Error, Result};

/// The columns [`decode`] reads, as a literal for `concat!`.
macro_rules! columns {
    () => {
        "id, created_at, sink, target_json, body_json, dedup_key, group_key, hold_until, \
         state, attempts, next_attempt_at, last_error, delivered_at"
    };
}

/// Inserts `notification`, pending and due at its creation, in the caller's transaction.
pub(crate) async fn insert(
    connection: &mut AnyConnection,
    notification: &NewNotification,
) -> Result<()> {
    let insert = concat!(
        "INSERT INTO notifications (created_at, sink, target_json, body_json, dedup_key, ",
        "group_key, hold_until, state, next_attempt_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', COALESCE($7, $1)) ",
        "ON CONFLICT (dedup_key) DO NOTHING"
    );
    sqlx::query(insert)
        .bind(micros(notification.created_at))
        .bind(&notification.sink)
        .bind(&notification.target_json)
        .bind(&notification.body_json)
        .bind(notification.dedup_key.as_deref())
        .bind(notification.group_key.as_deref())
        .bind(notification.hold_until.map(micros))
        .execute(connection)
        .await?;
    Ok(())
}

pub(crate) async fn pending_sinks(pool: &AnyPool) -> Result<Vec<String>> {
    let query = "SELECT DISTINCT sink FROM notifications WHERE state = 'pending'";
    let rows = sqlx::query(query).fetch_all(pool).await?;
    rows.iter().map(|row| text(row, "sink")).collect()
}

pub(crate) async fn pending_of(
    pool: &AnyPool,
    sink: &str,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<NotificationRecord>> {
    let query = concat!(
        "SELECT ",
        columns!(),
        " FROM notifications WHERE state = 'pending' AND sink = $1 ",
        "AND NOT (attempts = 0 AND hold_until IS NOT NULL AND hold_until > $3) ",
        "ORDER BY id LIMIT $2"
    );
    let rows = sqlx::query(query)
        .bind(sink)
        .bind(i64::from(limit))
        .bind(micros(now))
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

/// Records each outcome (one attempt each) on notifications still pending.
pub(crate) async fn record(
    connection: &mut AnyConnection,
    outcomes: &[DeliveryOutcome],
) -> Result<()> {
    for outcome in outcomes {
        let query = match outcome {
            DeliveryOutcome::Delivered { id, at } => sqlx::query(concat!(
                "UPDATE notifications SET state = 'delivered', attempts = attempts + 1, ",
                "delivered_at = $2 WHERE id = $1 AND state = 'pending'"
            ))
            .bind(*id)
            .bind(micros(*at)),
            DeliveryOutcome::Retry {
                id,
                error,
                next_attempt_at,
            } => sqlx::query(concat!(
                "UPDATE notifications SET attempts = attempts + 1, last_error = $2, ",
                "next_attempt_at = $3 WHERE id = $1 AND state = 'pending'"
            ))
            .bind(*id)
            .bind(error.as_str())
            .bind(micros(*next_attempt_at)),
            DeliveryOutcome::Dead { id, error, .. } => sqlx::query(concat!(
                "UPDATE notifications SET state = 'dead', attempts = attempts + 1, ",
                "last_error = $2 WHERE id = $1 AND state = 'pending'"
            ))
            .bind(*id)
            .bind(error.as_str()),
        };
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

pub(crate) async fn list(
    pool: &AnyPool,
    state: Option<DeliveryState>,
    after: i64,
    limit: u32,
) -> Result<Vec<NotificationRecord>> {
    let query = concat!(
        "SELECT ",
        columns!(),
        " FROM notifications WHERE id > $1 AND ($2 = '' OR state = $2) ORDER BY id LIMIT $3"
    );
    let rows = sqlx::query(query)
        .bind(after)
        .bind(state.map_or("", DeliveryState::as_str))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode).collect()
}

pub(crate) async fn prune(connection: &mut AnyConnection, older_than: Timestamp) -> Result<u64> {
    let delete = "DELETE FROM notifications WHERE state = 'delivered' AND delivered_at < $1";
    let deleted = sqlx::query(delete)
        .bind(micros(older_than))
        .execute(connection)
        .await?;
    Ok(deleted.rows_affected())
}

pub(crate) async fn resend(
    connection: &mut AnyConnection,
    id: i64,
    now: Timestamp,
) -> Result<bool> {
    let update = concat!(
        "UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = $2 ",
        "WHERE id = $1 AND state = 'dead'"
    );
    let updated = sqlx::query(update)
        .bind(id)
        .bind(micros(now))
        .execute(connection)
        .await?;
    Ok(updated.rows_affected() == 1)
}

fn decode(row: &AnyRow) -> Result<NotificationRecord> {
    let state = text(row, "state")?;
    let state = DeliveryState::parse(&state).ok_or(Error::Decode {
        column: "state",
        value: state,
    })?;
    Ok(NotificationRecord {
        id: row.try_get("id")?,
        notification: NewNotification {
            created_at: timestamp(row, "created_at")?,
            sink: text(row, "sink")?,
            target_json: text(row, "target_json")?,
            body_json: text(row, "body_json")?,
            dedup_key: row.try_get("dedup_key")?,
            group_key: row.try_get("group_key")?,
            hold_until: optional_timestamp(row, "hold_until")?,
        },
        state,
        attempts: narrowed("attempts", row.try_get("attempts")?)?,
        next_attempt_at: timestamp(row, "next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        delivered_at: optional_timestamp(row, "delivered_at")?,
    })
}
