//! A named lock one of several servers on a PostgreSQL database holds at a time: the
//! notification sender's ([`SENDER_KEY`]; issue #6, docs/scaling.md).
//!
//! The lock is a session-level advisory lock held by a connection of its own, outside the pool,
//! so PostgreSQL releases it by itself when that connection ends (its process died, its host
//! died, or the network cut it off), and a server waiting for it takes it at once.

use sqlx::{AnyConnection, Connection};

use crate::connect::Backend;
use crate::error::{Error, Result, redact};

/// The key of the notification sender's lock: with several active servers, one sends the
/// outbox at a time ("aqsender" in ASCII).
pub const SENDER_KEY: i64 = 0x6171_7365_6e64_6572;

/// A named lock, held as long as this value lives and its connection is up.
#[derive(Debug)]
pub struct HeldLock {
    connection: AnyConnection,
}

/// A server that wants a named lock: a connection of its own to the database.
#[derive(Debug)]
pub struct LockCandidate {
    connection: AnyConnection,
}

impl LockCandidate {
    /// A candidate for the PostgreSQL database at `url`; `None` for SQLite, whose file serves
    /// one process.
    pub async fn connect(url: &str) -> Result<Option<LockCandidate>> {
        if Backend::of_url(url)? != Backend::Postgres {
            return Ok(None);
        }
        sqlx::any::install_default_drivers();
        let connection = AnyConnection::connect(url)
            .await
            .map_err(|source| Error::Open {
                url: redact(url),
                source,
            })?;
        Ok(Some(LockCandidate { connection }))
    }

    /// Waits until the advisory lock `key` (such as [`SENDER_KEY`]) is free and takes it.
    pub async fn take(mut self, key: i64) -> Result<HeldLock> {
        // `void` has no Any type: read it as text
        sqlx::query("SELECT pg_advisory_lock($1)::text")
            .bind(key)
            .fetch_one(&mut self.connection)
            .await?;
        Ok(HeldLock {
            connection: self.connection,
        })
    }
}

impl HeldLock {
    /// Whether the lock is still held: its connection answers. Once it does not, another
    /// server may hold it, and this one must stop doing what the lock guards.
    pub async fn is_held(&mut self) -> bool {
        let probe = sqlx::query("SELECT 1").execute(&mut self.connection);
        probe.await.is_ok()
    }
}
