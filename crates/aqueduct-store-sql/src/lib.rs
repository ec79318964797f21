//! aqueduct's SQL store: [`SqlStore`] implements `aqueduct_store::Store` on SQLite and
//! PostgreSQL with one code path.
//!
//! Every query goes through sqlx's `Any` driver and is written once: `$1…$N` placeholders,
//! `RETURNING`, `ON CONFLICT`, timestamps as BIGINT epoch microseconds, enums as TEXT with
//! Airflow's names, booleans as 0/1 integers, JSON as TEXT. The backends differ only in their
//! embedded migrations (`migrations/sqlite/`, `migrations/postgres/`, same numbering, chosen by
//! the URL's scheme and applied by [`SqlStore::open`]) and in how a connection is prepared
//! (`connect`): SQLite runs in WAL mode with `busy_timeout`, `synchronous=NORMAL` and
//! `foreign_keys=ON` on every connection, and takes its write lock when a transaction begins.
//!
//! Modules: `connect` (URLs, pool, migrations, transactions), `copy` (a whole database into
//! another, `aqueduct db copy`), `codec` (rows ↔ records),
//! `pipelines`, `runs`, `tasks`, `tokens`, `backfills`, `apps`, `events` (the queries), `store` (the trait,
//! mapping errors with what was being done), `error`.
//!
//! Both backends pass the `aqueduct_store` conformance suite (`tests/`); PostgreSQL when
//! `AQ_TEST_POSTGRES_URL` is set.

mod apps;
mod backfills;
mod codec;
mod connect;
mod copy;
mod error;
mod events;
mod lock;
mod outbox;
mod pipelines;
mod runs;
mod shares;
mod store;
mod tasks;
mod tokens;

use std::path::Path;

use sqlx::AnyPool;

pub use connect::{Backend, MigrationState};
pub use copy::CopiedTable;
pub use error::{Error, Result, redact};
pub use lock::{HeldLock, LockCandidate, SENDER_KEY};
pub use shares::{ServerRow, Shares};

/// A [`aqueduct_store::Store`] on a SQL database. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Opens (creating a SQLite file if needed) and migrates the database at `url`:
    /// `sqlite:///path/to/aqueduct.db` or `postgres://user:password@host:port/database`.
    pub async fn open(url: &str) -> Result<SqlStore> {
        let backend = Backend::of_url(url)?;
        let pool = connect::open_pool(url, backend).await?;
        Ok(SqlStore { pool, backend })
    }

    /// This build's migrations and which of them the database at `url` has, without migrating
    /// it (a SQLite file is created if missing, empty).
    pub async fn migration_status(url: &str) -> Result<Vec<MigrationState>> {
        let backend = Backend::of_url(url)?;
        let pool = connect::connect_pool(url, backend).await?;
        let states = connect::migration_states(&pool, backend).await;
        pool.close().await;
        states
    }

    /// Which of this build's migrations the open database has (all, once opened).
    pub async fn migrations(&self) -> Result<Vec<MigrationState>> {
        connect::migration_states(&self.pool, self.backend).await
    }

    /// Opens the SQLite database file at `path`, creating it if needed.
    pub async fn open_sqlite_file(path: &Path) -> Result<SqlStore> {
        SqlStore::open(&connect::sqlite_file_url(path)?).await
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (SQLite checkpoints its WAL when the last one closes).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
