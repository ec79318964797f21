//! One active server per PostgreSQL database: the leader lock.
//!
//! Several `aqueduct up` processes may point at one PostgreSQL database for availability. One of
//! them, the leader, runs the scheduler; the others wait for the lock and take over when the
//! leader's connection goes away (its process died, its host died, or the network cut it
//! off). The lock is a session-level advisory lock held by a connection of its own, outside the
//! pool, so PostgreSQL releases it by itself when that connection ends, and no two servers ever
//! schedule at once.

use sqlx::{AnyConnection, Connection, Row};

use crate::connect::Backend;
use crate::error::{Error, Result, redact};

/// The advisory lock's key: "aqueduct" in ASCII.
const LEADER_KEY: i64 = 0x6171_7565_6475_6374;

/// The key of the notification sender's lock: with several active servers, one sends the
/// outbox at a time ("aqsender" in ASCII).
pub const SENDER_KEY: i64 = 0x6171_7365_6e64_6572;

/// The leader lock, held as long as this value lives and its connection is up.
#[derive(Debug)]
pub struct LeaderLock {
    connection: AnyConnection,
}

/// A server that wants the leader lock: a connection of its own to the database.
#[derive(Debug)]
pub struct LeaderCandidate {
    connection: AnyConnection,
}

impl LeaderCandidate {
    /// A candidate for the PostgreSQL database at `url`; `None` for SQLite, whose file serves
    /// one process (a second server on the same file is not supported).
    pub async fn connect(url: &str) -> Result<Option<LeaderCandidate>> {
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
        Ok(Some(LeaderCandidate { connection }))
    }

    /// Takes the lock if it is free; gives the candidate back when another server holds it.
    pub async fn try_take(mut self) -> Result<std::result::Result<LeaderLock, LeaderCandidate>> {
        let row = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_KEY)
            .fetch_one(&mut self.connection)
            .await?;
        let taken: bool = row.try_get(0)?;
        Ok(match taken {
            true => Ok(LeaderLock {
                connection: self.connection,
            }),
            false => Err(self),
        })
    }

    /// Waits until the lock is free and takes it.
    pub async fn take(self) -> Result<LeaderLock> {
        self.take_key(LEADER_KEY).await
    }

    /// Waits until the advisory lock `key` (such as [`SENDER_KEY`]) is free and takes it.
    pub async fn take_key(mut self, key: i64) -> Result<LeaderLock> {
        // `void` has no Any type: read it as text
        sqlx::query("SELECT pg_advisory_lock($1)::text")
            .bind(key)
            .fetch_one(&mut self.connection)
            .await?;
        Ok(LeaderLock {
            connection: self.connection,
        })
    }
}

impl LeaderLock {
    /// Whether the lock is still held: its connection answers. Once it does not, another
    /// server may lead, and this one must stop scheduling.
    pub async fn is_held(&mut self) -> bool {
        let probe = sqlx::query("SELECT 1").execute(&mut self.connection);
        probe.await.is_ok()
    }
}
