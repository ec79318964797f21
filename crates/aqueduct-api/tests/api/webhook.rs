//! `POST /api/v1/apps/{name}/webhook`: a GitHub signature or a GitLab token that matches the
//! app's secret refreshes the app (202); anything else is refused and refreshes nothing.

use std::sync::Arc;

use aqueduct_api::{Metrics, WebhookSecret};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::fake::{FakeBackend, OPERATOR, WEBHOOK_SECRET};
use crate::{Reply, send_request};

const URI: &str = "/api/v1/apps/prod/webhook";
const PUSH: &str =
    r#"{"ref":"refs/heads/main","after":"c300000000000000000000000000000000000000"}"#;

fn router(backend: FakeBackend) -> (Router, Arc<FakeBackend>) {
    let backend = Arc::new(backend);
    let router = aqueduct_api::app(backend.clone(), Arc::new(Metrics::new()));
    (router, backend)
}

/// GitHub's header for `body` signed with `secret`, computed here independently of the crate.
fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256={hex}")
}

async fn deliver(app: &Router, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send_request(app, request.body(Body::from(body)).expect("request")).await
}

fn assert_refused(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.json()["code"], code, "{}", reply.text());
}

#[tokio::test]
async fn a_valid_github_signature_refreshes_the_app() {
    let (app, backend) = router(FakeBackend::new());
    let signature = github_signature(WEBHOOK_SECRET, PUSH.as_bytes());
    let headers = [
        ("x-github-event", "push"),
        ("x-hub-signature-256", signature.as_str()),
    ];
    let reply = deliver(&app, URI, &headers, PUSH.into()).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(
        reply.json(),
        serde_json::json!({"app": "prod", "refreshed": true})
    );
    assert_eq!(backend.refreshes(), ["prod"]);
}

#[tokio::test]
async fn a_wrong_or_malformed_github_signature_is_refused() {
    let (app, backend) = router(FakeBackend::new());
    let other_secret = github_signature("not-the-secret", PUSH.as_bytes());
    let other_body = github_signature(WEBHOOK_SECRET, b"{}");
    let good = github_signature(WEBHOOK_SECRET, PUSH.as_bytes());
    let bare_hex = good.trim_start_matches("sha256=").to_owned();
    for signature in [other_secret, other_body, bare_hex, "sha256=".to_owned()] {
        let headers = [("x-hub-signature-256", signature.as_str())];
        let reply = deliver(&app, URI, &headers, PUSH.into()).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_signature");
        assert!(
            !reply.text().contains(WEBHOOK_SECRET),
            "the secret never appears in an answer"
        );
    }
    // A bad GitHub signature is not rescued by a good GitLab token next to it.
    let headers = [
        ("x-hub-signature-256", "sha256=00"),
        ("x-gitlab-token", WEBHOOK_SECRET),
    ];
    let reply = deliver(&app, URI, &headers, PUSH.into()).await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_signature");
    assert!(backend.refreshes().is_empty());
}

#[tokio::test]
async fn a_delivery_without_a_signature_is_refused_even_with_a_token() {
    let (app, backend) = router(FakeBackend::new());
    let reply = deliver(&app, URI, &[], PUSH.into()).await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_signature");
    assert!(
        reply.json()["message"]
            .as_str()
            .expect("message")
            .contains("x-hub-signature-256")
    );
    let bearer = format!("Bearer {OPERATOR}");
    let reply = deliver(
        &app,
        URI,
        &[("authorization", bearer.as_str())],
        PUSH.into(),
    )
    .await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_signature");
    assert!(backend.refreshes().is_empty());
}

#[tokio::test]
async fn gitlab_tokens_are_compared_with_the_secret() {
    let (app, backend) = router(FakeBackend::new());
    let headers = [
        ("x-gitlab-event", "Push Hook"),
        ("x-gitlab-token", WEBHOOK_SECRET),
    ];
    let reply = deliver(&app, URI, &headers, PUSH.into()).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(backend.refreshes(), ["prod"]);

    let almost = &WEBHOOK_SECRET[..WEBHOOK_SECRET.len() - 1];
    for token in [almost, "fake-webhook-secret2", "wrong"] {
        let reply = deliver(&app, URI, &[("x-gitlab-token", token)], PUSH.into()).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_signature");
    }
    assert_eq!(
        backend.refreshes(),
        ["prod"],
        "refused tokens refresh nothing"
    );
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_before_it_is_verified() {
    let (app, backend) = router(FakeBackend::new());
    let body = vec![b' '; aqueduct_api::BODY_LIMIT_BYTES + 1];
    let signature = github_signature(WEBHOOK_SECRET, &body);
    let headers = [("x-hub-signature-256", signature.as_str())];
    let reply = deliver(&app, URI, &headers, body).await;
    assert_refused(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(backend.refreshes().is_empty());

    // One byte under the limit is fine.
    let body = vec![b' '; aqueduct_api::BODY_LIMIT_BYTES];
    let signature = github_signature(WEBHOOK_SECRET, &body);
    let headers = [("x-hub-signature-256", signature.as_str())];
    let reply = deliver(&app, URI, &headers, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
}

#[tokio::test]
async fn unknown_apps_and_apps_without_a_secret_get_the_same_404() {
    let (app, backend) = router(FakeBackend::new());
    let signature = github_signature(WEBHOOK_SECRET, PUSH.as_bytes());
    let headers = [("x-hub-signature-256", signature.as_str())];
    let unknown = deliver(&app, "/api/v1/apps/nope/webhook", &headers, PUSH.into()).await;
    assert_refused(&unknown, StatusCode::NOT_FOUND, "webhook_not_found");

    let (app, disabled_backend) = router(FakeBackend::without_webhook());
    for headers in [
        &headers[..],
        &[("x-gitlab-token", WEBHOOK_SECRET)][..],
        &[][..],
    ] {
        let reply = deliver(&app, URI, headers, PUSH.into()).await;
        assert_refused(&reply, StatusCode::NOT_FOUND, "webhook_not_found");
    }
    assert!(backend.refreshes().is_empty());
    assert!(disabled_backend.refreshes().is_empty());
}

#[test]
fn the_crates_signature_helper_matches_an_independent_hmac() {
    let secret = WebhookSecret::new(WEBHOOK_SECRET).expect("non-empty");
    assert_eq!(
        aqueduct_api::webhook::github_signature(&secret, PUSH.as_bytes()),
        github_signature(WEBHOOK_SECRET, PUSH.as_bytes())
    );
}
