//! `POST /api/v1/webhooks/git`: one URL for every app. A delivery signed with the server's
//! secret for its forge (or with a matching app's own secret) refreshes the apps of its
//! repository whose revision it moves; anything unsigned is refused and refreshes nothing.
//!
//! The fake's only app, `prod`, tracks `main` of `https://git.example.com/team/pipelines.git`.

use std::sync::Arc;

use aqueduct_api::{Forge, Metrics};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::fake::{FakeBackend, OPERATOR, WEBHOOK_SECRET, forge_secret};
use crate::{Reply, send_request};

const URI: &str = "/api/v1/webhooks/git";

fn router(backend: FakeBackend) -> (Router, Arc<FakeBackend>, Arc<Metrics>) {
    let backend = Arc::new(backend);
    let metrics = Arc::new(Metrics::new());
    let router = aqueduct_api::app(backend.clone(), metrics.clone());
    (router, backend, metrics)
}

/// The hex HMAC-SHA256 of `body` keyed with `secret`, computed here independently of the crate.
fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A GitHub push of `git_ref` to `repo`, as GitHub names the repository (ssh and https).
fn github_push(repo: &str, git_ref: &str) -> String {
    json!({
        "ref": git_ref,
        "after": "c300000000000000000000000000000000000000",
        "repository": {
            "full_name": "team/pipelines",
            "html_url": format!("https://{repo}"),
            "clone_url": format!("https://{repo}.git"),
            "ssh_url": format!("git@{}.git", repo.replacen('/', ":", 1)),
        },
    })
    .to_string()
}

const GITLAB_PUSH: &str = r#"{"object_kind": "push", "ref": "refs/heads/main",
  "project": {"web_url": "https://git.example.com/team/pipelines",
              "git_ssh_url": "git@git.example.com:team/pipelines.git"},
  "repository": {"homepage": "https://git.example.com/team/pipelines"}}"#;

const GITEA_PUSH: &str = r#"{"ref": "refs/heads/main",
  "repository": {"html_url": "https://GIT.example.com/team/pipelines",
                 "clone_url": "https://git.example.com/team/pipelines.git"}}"#;

fn github_headers(secret: &str, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-github-event", "push".to_owned()),
        (
            "x-hub-signature-256",
            format!("sha256={}", hmac_hex(secret, body.as_bytes())),
        ),
    ]
}

async fn deliver(app: &Router, headers: &[(&'static str, String)], body: impl Into<Body>) -> Reply {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(URI)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    send_request(app, request.body(body.into()).expect("request")).await
}

fn assert_refused(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.json()["code"], code, "{}", reply.text());
}

#[tokio::test]
async fn each_forge_signed_with_the_servers_secret_refreshes_the_matching_app() {
    let github = github_push("git.example.com/team/pipelines", "refs/heads/main");
    let gitea_hex = hmac_hex(forge_secret(Forge::Gitea), GITEA_PUSH.as_bytes());
    let deliveries: [(Vec<(&'static str, String)>, &str); 4] = [
        (
            github_headers(forge_secret(Forge::GitHub), &github),
            &github,
        ),
        (
            vec![
                ("x-gitlab-event", "Push Hook".to_owned()),
                ("x-gitlab-token", forge_secret(Forge::GitLab).to_owned()),
            ],
            GITLAB_PUSH,
        ),
        // Gitea's own header, and its copy of GitHub's (it sends both; either verifies).
        (
            vec![
                ("x-gitea-event", "push".to_owned()),
                ("x-github-event", "push".to_owned()),
                ("x-gitea-signature", gitea_hex.clone()),
            ],
            GITEA_PUSH,
        ),
        (
            vec![
                ("x-gitea-event", "push".to_owned()),
                ("x-hub-signature-256", format!("sha256={gitea_hex}")),
            ],
            GITEA_PUSH,
        ),
    ];
    let (app, backend, _) = router(FakeBackend::new());
    for (count, (headers, body)) in deliveries.into_iter().enumerate() {
        let reply = deliver(&app, &headers, body.to_owned()).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{headers:?}: {}",
            reply.text()
        );
        assert_eq!(reply.json(), json!({"refreshed": ["prod"]}));
        assert_eq!(backend.refreshes().len(), count + 1, "{headers:?}");
    }
}

#[tokio::test]
async fn bad_signatures_are_refused_and_fetch_nothing() {
    let (app, backend, _) = router(FakeBackend::new());
    let body = github_push("git.example.com/team/pipelines", "refs/heads/main");
    let good = github_headers(forge_secret(Forge::GitHub), &body);
    let refused: Vec<Vec<(&'static str, String)>> = vec![
        // No event header: no forge, so nothing to verify with.
        vec![good[1].clone()],
        // No signature, or a bearer token instead of one.
        vec![good[0].clone()],
        vec![
            good[0].clone(),
            ("authorization", format!("Bearer {OPERATOR}")),
        ],
        // Another forge's secret, a signature of another body, a malformed one.
        github_headers(forge_secret(Forge::Gitea), &body),
        github_headers(forge_secret(Forge::GitHub), "{}"),
        vec![
            good[0].clone(),
            ("x-hub-signature-256", "sha256=00".to_owned()),
        ],
        // GitHub's signature is no GitLab proof.
        vec![("x-gitlab-event", "Push Hook".to_owned()), good[1].clone()],
    ];
    for headers in refused {
        let reply = deliver(&app, &headers, body.clone()).await;
        assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_signature");
        assert!(
            !reply.text().contains("fake-"),
            "no secret in {}",
            reply.text()
        );
    }
    // GitLab's token must be GitLab's secret.
    let gitlab = [
        ("x-gitlab-event", "Push Hook".to_owned()),
        ("x-gitlab-token", forge_secret(Forge::GitHub).to_owned()),
    ];
    let reply = deliver(&app, &gitlab, GITLAB_PUSH).await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_signature");
    assert!(backend.refreshes().is_empty());
}

#[tokio::test]
async fn an_apps_own_secret_authenticates_deliveries_for_that_app() {
    let (app, backend, _) = router(FakeBackend::without_forge_secrets());
    let body = github_push("git.example.com/team/pipelines", "refs/heads/main");
    let reply = deliver(&app, &github_headers(WEBHOOK_SECRET, &body), body.clone()).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(reply.json(), json!({"refreshed": ["prod"]}));

    // Without a server secret, another repository's delivery cannot be verified by anything,
    // and answers exactly as a wrong signature for `prod` does: nothing is revealed.
    let other = github_push("git.example.com/team/other", "refs/heads/main");
    let unmatched = deliver(&app, &github_headers(WEBHOOK_SECRET, &other), other).await;
    let wrong = deliver(&app, &github_headers("wrong", &body), body.clone()).await;
    assert_refused(&unmatched, StatusCode::UNAUTHORIZED, "invalid_signature");
    assert_eq!(unmatched.json(), wrong.json());
    assert_eq!(backend.refreshes(), ["prod"]);

    let (app, backend, _) = router(FakeBackend::without_any_webhook_secret());
    let reply = deliver(&app, &github_headers(WEBHOOK_SECRET, &body), body).await;
    assert_refused(&reply, StatusCode::UNAUTHORIZED, "invalid_signature");
    assert!(backend.refreshes().is_empty());
}

#[tokio::test]
async fn other_repositories_and_other_branches_refresh_nothing() {
    let (app, backend, _) = router(FakeBackend::new());
    let secret = forge_secret(Forge::GitHub);
    for body in [
        github_push("git.example.com/team/other", "refs/heads/main"),
        github_push("elsewhere.example.com/team/pipelines", "refs/heads/main"),
        github_push("git.example.com/team/pipelines", "refs/heads/feature"),
        github_push("git.example.com/team/pipelines", "refs/tags/main-1"),
    ] {
        let reply = deliver(&app, &github_headers(secret, &body), body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{body}: {}",
            reply.text()
        );
        assert_eq!(reply.json(), json!({"refreshed": []}), "{body}");
    }
    assert!(backend.refreshes().is_empty());
}

#[tokio::test]
async fn bodies_that_are_not_json_or_name_no_repository_are_invalid() {
    let (app, backend, _) = router(FakeBackend::new());
    let secret = forge_secret(Forge::GitHub);
    for body in ["payload=%7B%7D", "", r#"{"ref": "refs/heads/main"}"#] {
        let reply = deliver(&app, &github_headers(secret, body), body.to_owned()).await;
        assert_refused(&reply, StatusCode::BAD_REQUEST, "invalid_request");
    }
    assert!(backend.refreshes().is_empty());
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused() {
    let (app, backend, _) = router(FakeBackend::new());
    let body = " ".repeat(aqueduct_api::BODY_LIMIT_BYTES + 1);
    let reply = deliver(
        &app,
        &github_headers(forge_secret(Forge::GitHub), &body),
        body,
    )
    .await;
    assert_refused(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(backend.refreshes().is_empty());
}

#[tokio::test]
async fn deliveries_are_counted_by_forge_and_result() {
    let (app, _, metrics) = router(FakeBackend::new());
    let body = github_push("git.example.com/team/pipelines", "refs/heads/main");
    deliver(
        &app,
        &github_headers(forge_secret(Forge::GitHub), &body),
        body.clone(),
    )
    .await;
    deliver(&app, &github_headers("wrong", &body), body.clone()).await;
    deliver(&app, &[], body).await;
    let gitlab = [
        ("x-gitlab-event", "Push Hook".to_owned()),
        ("x-gitlab-token", forge_secret(Forge::GitLab).to_owned()),
    ];
    deliver(&app, &gitlab, "not json").await;
    let text = metrics.render().expect("render");
    for expected in [
        r#"aqueduct_webhook_deliveries_total{forge="github",result="accepted"} 1"#,
        r#"aqueduct_webhook_deliveries_total{forge="github",result="invalid_signature"} 1"#,
        r#"aqueduct_webhook_deliveries_total{forge="unknown",result="invalid_signature"} 1"#,
        r#"aqueduct_webhook_deliveries_total{forge="gitlab",result="invalid_request"} 1"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}
