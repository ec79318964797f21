//! Several servers on one PostgreSQL database: membership, unit locks and who holds a unit
//! (when `AQ_TEST_POSTGRES_URL` is set; see `postgres.rs`).

use std::time::Duration;

use aqueduct_store_sql::{Shares, SqlStore};

use crate::postgres::{postgres_url, recreate_database, with_database};

/// A migrated database named after the test, or `None` without a server.
async fn database(test: &str) -> Option<String> {
    let url = postgres_url()?;
    let database = format!("aq_test_{test}");
    recreate_database(&url, &database).await;
    let url = with_database(&url, &database);
    SqlStore::open(&url).await.expect("open and migrate");
    Some(url)
}

async fn join(url: &str, advertise: &str) -> Shares {
    Shares::join(url, advertise)
        .await
        .expect("join")
        .expect("postgres joins")
}

#[tokio::test]
async fn a_unit_is_held_by_one_server_and_taken_over_when_it_leaves() {
    let Some(url) = database("shares_take_over").await else {
        return;
    };
    let first = join(&url, "http://first:8080").await;
    let second = join(&url, "http://second:8080").await;
    assert_eq!(first.members().await.unwrap(), 2);
    assert!(first.try_claim("app:etl").await.unwrap());
    assert!(!second.try_claim("app:etl").await.unwrap());
    assert!(
        second.try_claim("pipeline:etl").await.unwrap(),
        "another unit is free"
    );
    // who holds what, as each server sees it
    let held_by = second.elsewhere("app:etl").await.unwrap();
    assert_eq!(held_by.as_deref(), Some("http://first:8080"));
    assert_eq!(first.elsewhere("app:etl").await.unwrap(), None, "its own");
    assert_eq!(
        first.elsewhere("app:nobody").await.unwrap(),
        None,
        "held by none"
    );
    // a released unit is free at once
    second.release("pipeline:etl").await.unwrap();
    assert!(first.try_claim("pipeline:etl").await.unwrap());
    // a server that goes away gives everything up: its connection closes
    drop(first);
    let mut taken = false;
    for _ in 0..100 {
        if second.members().await.unwrap() == 1 && second.try_claim("app:etl").await.unwrap() {
            taken = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(taken, "the unit of a server that left is taken over");
    assert!(second.try_claim("pipeline:etl").await.unwrap());
    assert!(second.is_held().await);
}

#[tokio::test]
async fn a_server_that_joins_again_replaces_the_row_of_its_dead_predecessor() {
    let Some(url) = database("shares_rejoin").await else {
        return;
    };
    let gone = join(&url, "http://gone:8080").await;
    drop(gone);
    let live = join(&url, "http://live:8080").await;
    let other = join(&url, "http://other:8080").await;
    assert!(live.try_claim("app:a").await.unwrap());
    let held_by = other.elsewhere("app:a").await.unwrap();
    assert_eq!(held_by.as_deref(), Some("http://live:8080"));
}

#[tokio::test]
async fn sqlite_has_no_shares() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("aq.db").display());
    assert!(Shares::join(&url, "http://x").await.unwrap().is_none());
}
