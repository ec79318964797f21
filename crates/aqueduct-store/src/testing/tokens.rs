//! Conformance cases: API tokens.

use crate::records::Role;
use crate::testing::at;
use crate::{Error, Store};

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

/// Tokens are created with increasing ids, listed by id, touched and deleted.
pub async fn tokens_are_created_listed_touched_and_deleted(store: &impl Store) {
    let ci = store
        .create_token("ci", Role::Operator, PHC, at(10))
        .await
        .expect("ci");
    assert_eq!(
        (ci.name.as_str(), ci.role, ci.hash.as_str()),
        ("ci", Role::Operator, PHC)
    );
    assert_eq!((ci.created_at, ci.last_used_at), (at(10), None));
    let admin = store
        .create_token("admin", Role::Admin, "h2", at(20))
        .await
        .expect("admin");
    assert!(admin.id > ci.id);
    store
        .create_token("viewer", Role::Viewer, "h3", at(30))
        .await
        .expect("viewer");
    let worker = store
        .create_token("worker", Role::Worker, "h5", at(35))
        .await
        .expect("worker");
    assert_eq!(
        store.get_token(worker.id).await.expect("get").role,
        Role::Worker
    );

    store.touch_token(ci.id, at(40)).await.expect("touch");
    let touched = store.get_token(ci.id).await.expect("get");
    assert_eq!(touched.last_used_at, Some(at(40)));

    let names: Vec<String> = store
        .list_tokens()
        .await
        .expect("list")
        .into_iter()
        .map(|token| token.name)
        .collect();
    assert_eq!(names, ["ci", "admin", "viewer", "worker"]);

    store.delete_token(admin.id).await.expect("delete");
    assert!(matches!(
        store.get_token(admin.id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.delete_token(admin.id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.touch_token(admin.id, at(50)).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(store.list_tokens().await.expect("list").len(), 3);

    let next = store
        .create_token("admin", Role::Admin, "h4", at(60))
        .await
        .expect("reuse name");
    assert!(next.id > admin.id, "ids are not reused");
}

/// A second token with a taken name is a Conflict.
pub async fn token_names_are_unique(store: &impl Store) {
    store
        .create_token("ci", Role::Viewer, "h1", at(10))
        .await
        .expect("first");
    let second = store.create_token("ci", Role::Admin, "h2", at(20)).await;
    assert!(matches!(second, Err(Error::Conflict(_))), "{second:?}");
    let tokens = store.list_tokens().await.expect("list");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].role, Role::Viewer);
}
