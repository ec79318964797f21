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
    let units = [
        "app:etl".to_owned(),
        "app:crm".to_owned(),
        "pipeline:etl".to_owned(),
    ];
    let free = second.free_units(&units).await.unwrap();
    assert_eq!(free, ["app:crm", "pipeline:etl"], "the first holds app:etl");
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
    first.record_units(&["app:etl".to_owned()]).await.unwrap();
    let servers = second.servers().await.unwrap();
    let seen: Vec<(&str, &[String], bool)> = servers
        .iter()
        .map(|server| {
            (
                server.url.as_str(),
                server.units.as_slice(),
                server.this_server,
            )
        })
        .collect();
    let etl = ["app:etl".to_owned()];
    assert_eq!(
        seen,
        [
            ("http://first:8080", &etl[..], false),
            ("http://second:8080", &[][..], true)
        ]
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

#[tokio::test]
async fn pool_slots_are_claimed_once_given_back_and_freed_by_a_server_that_leaves() {
    let Some(url) = database("shares_pool_slots").await else {
        return;
    };
    let first = join(&url, "http://first:8080").await;
    let second = join(&url, "http://second:8080").await;
    assert_eq!(first.claim_pool_slots("db", 4, 3).await.unwrap(), 3);
    assert_eq!(
        second.claim_pool_slots("db", 4, 3).await.unwrap(),
        1,
        "one is left"
    );
    assert_eq!(second.claim_pool_slots("db", 4, 1).await.unwrap(), 0);
    first.release_pool_slots("db", 2).await.unwrap();
    assert_eq!(second.claim_pool_slots("db", 4, 5).await.unwrap(), 2);
    // other pools are counted apart
    assert_eq!(first.claim_pool_slots("gpu", 1, 1).await.unwrap(), 1);
    // the slots of a server that leaves are free again
    drop(first);
    let mut freed = 0;
    for _ in 0..100 {
        freed += second.claim_pool_slots("db", 4, 1).await.unwrap();
        if freed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(freed, 1, "the slot the first still held");
    assert_eq!(second.claim_pool_slots("gpu", 1, 1).await.unwrap(), 1);
}

#[tokio::test]
async fn a_server_learns_which_pools_the_others_wait_for() {
    let Some(url) = database("shares_pool_waits").await else {
        return;
    };
    let first = join(&url, "http://first:8080").await;
    let second = join(&url, "http://second:8080").await;
    let waiting = [("db".to_owned(), 2)].into();
    assert!(first.pool_waits(&waiting).await.unwrap().is_empty());
    let others = second.pool_waits(&Default::default()).await.unwrap();
    assert_eq!(others, ["db".to_owned()].into());
    // a wait is replaced, not added to
    first.pool_waits(&Default::default()).await.unwrap();
    assert!(
        second
            .pool_waits(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
    first.pool_waits(&waiting).await.unwrap();
    drop(first);
    let gone = async {
        for _ in 0..100 {
            if second
                .pool_waits(&Default::default())
                .await
                .unwrap()
                .is_empty()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    assert!(gone.await, "a server that left waits for nothing");
}

#[tokio::test]
async fn the_first_proposal_of_a_shared_value_is_every_server_s() {
    let Some(url) = database("shares_shared_value").await else {
        return;
    };
    let first = join(&url, "http://first:8080").await;
    let second = join(&url, "http://second:8080").await;
    assert_eq!(
        first.shared_value("trace-key", "aaaa").await.unwrap(),
        "aaaa"
    );
    assert_eq!(
        second.shared_value("trace-key", "bbbb").await.unwrap(),
        "aaaa"
    );
    assert_eq!(second.shared_value("other", "cccc").await.unwrap(), "cccc");
}
