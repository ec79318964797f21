//! Opening a database: backend choice by URL scheme, pool and per-connection settings, and the
//! embedded migrations.
//!
//! This is the only place where SQLite and PostgreSQL differ at run time (besides the migration
//! files): SQLite gets WAL mode, its per-connection pragmas, and `BEGIN IMMEDIATE` for write
//! transactions so concurrent writers wait for the lock instead of failing on upgrade.

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, SqlStr, Transaction};

use crate::error::{Error, Result, redact};

/// Every migration as `(version, description, SQLite text, PostgreSQL text)`: the same
/// numbering on both backends, only the DDL differs.
const MIGRATIONS: [(i64, &str, &str, &str); 11] = [
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "backfills",
        include_str!("../migrations/sqlite/0002_backfills.sql"),
        include_str!("../migrations/postgres/0002_backfills.sql"),
    ),
    (
        3,
        "apps",
        include_str!("../migrations/sqlite/0003_apps.sql"),
        include_str!("../migrations/postgres/0003_apps.sql"),
    ),
    (
        4,
        "live_edits",
        include_str!("../migrations/sqlite/0004_live_edits.sql"),
        include_str!("../migrations/postgres/0004_live_edits.sql"),
    ),
    (
        5,
        "versions_by_hash",
        include_str!("../migrations/sqlite/0005_versions_by_hash.sql"),
        include_str!("../migrations/postgres/0005_versions_by_hash.sql"),
    ),
    (
        6,
        "run_source_dir",
        include_str!("../migrations/sqlite/0006_run_source_dir.sql"),
        include_str!("../migrations/postgres/0006_run_source_dir.sql"),
    ),
    (
        7,
        "events",
        include_str!("../migrations/sqlite/0007_events.sql"),
        include_str!("../migrations/postgres/0007_events.sql"),
    ),
    (
        8,
        "outbox",
        include_str!("../migrations/sqlite/0008_outbox.sql"),
        include_str!("../migrations/postgres/0008_outbox.sql"),
    ),
    (
        9,
        "worker_role",
        include_str!("../migrations/sqlite/0009_worker_role.sql"),
        include_str!("../migrations/postgres/0009_worker_role.sql"),
    ),
    (
        10,
        "task_attempts",
        include_str!("../migrations/sqlite/0010_task_attempts.sql"),
        include_str!("../migrations/postgres/0010_task_attempts.sql"),
    ),
    (
        11,
        "servers",
        include_str!("../migrations/sqlite/0011_servers.sql"),
        include_str!("../migrations/postgres/0011_servers.sql"),
    ),
];

/// Set on every new SQLite connection: wait up to 5 s for a lock, fsync at checkpoints only
/// (durable in WAL mode across process crashes), enforce foreign keys.
const SQLITE_CONNECTION_PRAGMAS: [&str; 3] = [
    "PRAGMA busy_timeout = 5000",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
];

/// The database behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a URL names by its scheme.
    pub fn of_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::UnsupportedUrl(redact(url)))
        }
    }
}

/// The embedded migrations of `backend` (same versions for every backend).
pub(crate) fn migrator(backend: Backend) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, sqlite, postgres)| {
            let text = match backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            Migration::new(
                *version,
                (*description).into(),
                MigrationType::Simple,
                SqlStr::from_static(text),
                false,
            )
        });
    Migrator::with_migrations(migrations.collect())
}

/// Connects to `url`, prepares the database and applies pending migrations.
pub(crate) async fn open_pool(url: &str, backend: Backend) -> Result<AnyPool> {
    let pool = connect_pool(url, backend).await?;
    let migrate_error = |source| Error::Migrate {
        url: redact(url),
        source,
    };
    migrator(backend).run(&pool).await.map_err(migrate_error)?;
    Ok(pool)
}

/// Connects to `url` and prepares the database, without migrating it.
pub(crate) async fn connect_pool(url: &str, backend: Backend) -> Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let open_error = |source| Error::Open {
        url: redact(url),
        source,
    };
    let connect_url = match backend {
        Backend::Sqlite => sqlite_create_url(url),
        Backend::Postgres => url.to_owned(),
    };
    let pool = pool_options(backend)
        .connect(&connect_url)
        .await
        .map_err(open_error)?;
    if backend == Backend::Sqlite {
        // Persistent in the file; needs a moment without other connections, which is now.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await
            .map_err(open_error)?;
    }
    Ok(pool)
}

/// One migration of this build, and whether a database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub version: i64,
    pub description: &'static str,
    pub applied: bool,
}

/// This build's migrations and which of them the database at `pool` has applied (none when it
/// was never migrated).
pub(crate) async fn migration_states(
    pool: &AnyPool,
    backend: Backend,
) -> Result<Vec<MigrationState>> {
    let exists = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => concat!(
            "SELECT COUNT(*) FROM information_schema.tables ",
            "WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()"
        ),
    };
    let found: i64 = sqlx::Row::try_get(&sqlx::query(exists).fetch_one(pool).await?, 0)?;
    let applied: Vec<i64> = match found {
        0 => Vec::new(),
        _ => {
            let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await?;
            let versions = rows.iter().map(|row| sqlx::Row::try_get(row, 0));
            versions.collect::<std::result::Result<_, _>>()?
        }
    };
    let states = MIGRATIONS
        .iter()
        .map(|(version, description, _, _)| MigrationState {
            version: *version,
            description,
            applied: applied.contains(version),
        });
    Ok(states.collect())
}

fn pool_options(backend: Backend) -> AnyPoolOptions {
    let max_connections = match backend {
        Backend::Sqlite => 4,
        Backend::Postgres => 10,
    };
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        // a local SQLite file does not drop connections; pinging before every acquire only
        // adds a round trip to the connection's worker thread (bench/run-server.sh)
        .test_before_acquire(backend != Backend::Sqlite)
        .after_connect(move |connection, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    for pragma in SQLITE_CONNECTION_PRAGMAS {
                        sqlx::query(pragma).execute(&mut *connection).await?;
                    }
                }
                Ok(())
            })
        })
}

/// `url` with `mode=rwc` (create the file if missing) unless a mode is given.
fn sqlite_create_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The `sqlite://` URL of a database file.
pub(crate) fn sqlite_file_url(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| Error::UnsupportedUrl(path.display().to_string()))?;
    let escaped = text
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    Ok(format!("sqlite://{escaped}"))
}

/// Begins a write transaction.
pub(crate) async fn begin(pool: &AnyPool, backend: Backend) -> Result<Transaction<'static, Any>> {
    let transaction = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    };
    Ok(transaction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_come_from_the_scheme() {
        assert_eq!(
            Backend::of_url("sqlite:///x.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::of_url("postgres://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        let unsupported = Backend::of_url("mysql://u:pw@h/db");
        let message = unsupported.map_err(|error| error.to_string());
        let expected = "unsupported database url mysql://u:***@h/db: expected sqlite: or postgres:";
        assert_eq!(message, Err(expected.to_owned()));
    }

    #[test]
    fn sqlite_urls_create_the_file_and_escape_paths() {
        assert_eq!(
            sqlite_create_url("sqlite:///a.db"),
            "sqlite:///a.db?mode=rwc"
        );
        assert_eq!(
            sqlite_create_url("sqlite:///a.db?cache=shared"),
            "sqlite:///a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_create_url("sqlite:///a.db?mode=ro"),
            "sqlite:///a.db?mode=ro"
        );
        let url = sqlite_file_url(Path::new("/tmp/a?b#c%d.db")).expect("utf-8 path");
        assert_eq!(url, "sqlite:///tmp/a%3Fb%23c%25d.db");
    }

    #[test]
    fn every_backend_has_the_same_migration_versions() {
        let versions = |backend| -> Vec<i64> {
            migrator(backend)
                .iter()
                .map(|migration| migration.version)
                .collect()
        };
        assert_eq!(versions(Backend::Sqlite), versions(Backend::Postgres));
    }
}
