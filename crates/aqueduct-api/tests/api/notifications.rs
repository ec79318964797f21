//! The notification outbox: listing by state and after an id, and re-sending dead letters.

use axum::http::StatusCode;

use crate::fake::{OPERATOR, VIEWER};
use crate::{app, get, post};

fn ids(reply: &crate::Reply) -> Vec<i64> {
    let items = reply.json()["items"].as_array().expect("items").clone();
    items
        .iter()
        .map(|item| item["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn notifications_are_listed_by_state_and_after_an_id() {
    let (app, _) = app();
    let all = get(&app, "/api/v1/notifications", VIEWER).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    assert_eq!(ids(&all), [1, 2, 3]);
    assert_eq!(all.json()["next_after"], 3);
    assert_eq!(all.json()["items"][1]["last_error"], "HTTP 500: down");
    assert!(all.json()["items"][0].get("last_error").is_none());
    let dead = get(&app, "/api/v1/notifications?state=dead", VIEWER).await;
    assert_eq!(ids(&dead), [2]);
    let later = get(&app, "/api/v1/notifications?after=1&limit=1", VIEWER).await;
    assert_eq!(ids(&later), [2]);
    for query in ["state=lost", "after=-1", "limit=0", "limit=501"] {
        let reply = get(&app, &format!("/api/v1/notifications?{query}"), VIEWER).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.json()["code"], "invalid_request", "{query}");
    }
}

#[tokio::test]
async fn only_dead_letters_are_resent_and_only_by_operators() {
    let (app, _) = app();
    let path = "/api/v1/notifications/2/resend";
    assert_eq!(
        post(&app, path, VIEWER, None).await.status,
        StatusCode::FORBIDDEN
    );
    let resent = post(&app, path, OPERATOR, None).await;
    assert_eq!(resent.status, StatusCode::OK, "{}", resent.text());
    assert_eq!(resent.json()["state"], "pending");
    assert_eq!(resent.json()["attempts"], 0);
    let again = post(&app, path, OPERATOR, None).await;
    assert_eq!(
        (again.status, again.json()["code"].clone()),
        (StatusCode::CONFLICT, "conflict".into())
    );
    let missing = post(&app, "/api/v1/notifications/99/resend", OPERATOR, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
