//! The conformance suite on PostgreSQL, when `AQ_TEST_POSTGRES_URL` names a server the tests may
//! create databases on (e.g. `postgres://postgres@127.0.0.1:55433/postgres`). Each test gets
//! its own database `aq_test_<test name>`, dropped and created anew at the test's start.

use aqueduct_store_sql::SqlStore;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

/// The server under test, if configured.
#[allow(clippy::disallowed_methods)] // a test's configuration, not the product's
pub(crate) fn postgres_url() -> Option<String> {
    std::env::var("AQ_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// `url` with its database name replaced by `database`.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let host_and_path = &base[scheme_end..];
    let host = host_and_path.split('/').next().unwrap_or(host_and_path);
    format!("{}{host}/{database}{query}", &base[..scheme_end])
}

pub(crate) async fn recreate_database(url: &str, database: &str) {
    sqlx::any::install_default_drivers();
    let mut admin = AnyConnection::connect(url)
        .await
        .expect("connect to postgres");
    for statement in [
        format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        format!("CREATE DATABASE {database}"),
    ] {
        let statement = sqlx::raw_sql(AssertSqlSafe(statement));
        statement
            .execute(&mut admin)
            .await
            .expect("recreate test database");
    }
    admin.close().await.expect("close admin connection");
}

/// A store on a fresh database named after the test, or `None` without a server.
pub(crate) async fn postgres_store(test: &'static str) -> Option<(SqlStore, ())> {
    let url = postgres_url()?;
    let database: String = format!("aq_test_{test}").chars().take(63).collect();
    recreate_database(&url, &database).await;
    let store = SqlStore::open(&with_database(&url, &database))
        .await
        .expect("open postgres store");
    Some((store, ()))
}

aqueduct_store::store_test_suite!(postgres_store);

#[test]
fn database_names_are_replaced_in_urls() {
    let cases = [
        ("postgres://u:p@h:5432/aq", "postgres://u:p@h:5432/x"),
        (
            "postgres://h/aq?sslmode=disable",
            "postgres://h/x?sslmode=disable",
        ),
        ("postgresql://h:1", "postgresql://h:1/x"),
    ];
    for (url, expected) in cases {
        assert_eq!(with_database(url, "x"), expected);
    }
}
