//! The conformance suite on SQLite, one fresh database file per test.

use aqueduct_store_sql::SqlStore;
use tempfile::TempDir;

/// A new store in its own temporary directory, kept as long as the test runs.
pub(crate) async fn sqlite_store(_test: &'static str) -> Option<(SqlStore, TempDir)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("aqueduct.db");
    let store = SqlStore::open_sqlite_file(&path)
        .await
        .expect("open sqlite store");
    Some((store, dir))
}

aqueduct_store::store_test_suite!(sqlite_store);
