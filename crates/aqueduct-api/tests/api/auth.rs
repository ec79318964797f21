//! Walks every route of the generated OpenAPI document: without a token each one is 401 (except
//! the public probes), and a viewer may call no route that changes state. The two webhooks
//! take no token but a signature: they answer 401 `invalid_signature` to every caller without
//! one, whatever their token. A route added without auth, or left out of the document, changes
//! the route table snapshot or fails here.

use aqueduct_api::Role;
use aqueduct_api::auth::required_role;
use axum::http::{Method, StatusCode};

use crate::fake::{ADMIN, OPERATOR, VIEWER, WORKER};
use crate::{app, get, send};

/// The only routes that answer without a token. Spelled out here, not read from the crate, so
/// growing the crate's public list also needs a change to this test.
const PUBLIC: &[&str] = &["/healthz", "/metrics"];

/// The only routes authenticated by a signature instead of a token (method, path).
const SIGNED: &[(&str, &str)] = &[
    ("POST", "/api/v1/apps/{name}/webhook"),
    ("POST", "/api/v1/webhooks/git"),
];

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "sample"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_documented_route_requires_a_token_and_a_role() {
    let (app, _) = app();
    let document = get(&app, "/api/v1/openapi.json", VIEWER).await.json();
    assert_eq!(document["openapi"], "3.1.0");
    let mut table = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !matches!(
                method,
                Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            ) {
                continue;
            }
            table.push(format!("{method:<5} {path}"));
            let uri = concrete(path);
            if PUBLIC.contains(&path.as_str()) {
                let reply = send(&app, method.clone(), &uri, None, None).await;
                assert_eq!(reply.status, StatusCode::OK, "{method} {path} is public");
                continue;
            }
            assert!(
                path.starts_with("/api/v1/"),
                "{path} is outside /api/v1 and not public"
            );
            if SIGNED.contains(&(method.as_str(), path.as_str())) {
                // `prod`, the fake's app with a webhook secret: an unknown app would be a 404.
                let uri = path.replace("{name}", "prod");
                for token in [None, Some("aq_0000_not-a-token"), Some(VIEWER), Some(ADMIN)] {
                    let reply = send(&app, method.clone(), &uri, token, None).await;
                    assert_eq!(
                        reply.status,
                        StatusCode::UNAUTHORIZED,
                        "{method} {path} with {token:?}"
                    );
                    assert_eq!(reply.json()["code"], "invalid_signature", "{method} {path}");
                }
                continue;
            }

            for token in [None, Some("aq_0000_not-a-token")] {
                let reply = send(&app, method.clone(), &uri, token, None).await;
                assert_eq!(
                    reply.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {token:?}"
                );
                assert_eq!(reply.json()["code"], "unauthorized", "{method} {path}");
                assert!(reply.headers.contains_key("www-authenticate"));
            }

            let worker = send(&app, method.clone(), &uri, Some(WORKER), None).await;
            if path.starts_with(aqueduct_api::auth::WORKER_ROUTES) {
                // remote workers' routes: the worker role only, and no person's role
                for token in [VIEWER, OPERATOR, ADMIN] {
                    let reply = send(&app, method.clone(), &uri, Some(token), None).await;
                    assert_eq!(
                        reply.status,
                        StatusCode::FORBIDDEN,
                        "{method} {path}: {token}"
                    );
                }
                assert!(
                    !matches!(
                        worker.status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    ),
                    "{method} {path}: workers may call it, got {}",
                    worker.status
                );
                continue;
            }
            assert_eq!(
                worker.status,
                StatusCode::FORBIDDEN,
                "{method} {path}: a worker token may call only the worker routes"
            );
            let viewer = send(&app, method.clone(), &uri, Some(VIEWER), None).await;
            let operator = send(&app, method.clone(), &uri, Some(OPERATOR), None).await;
            let admin = send(&app, method.clone(), &uri, Some(ADMIN), None).await;
            if aqueduct_api::auth::ADMIN_ROUTES.contains(&(method.as_str(), path.as_str())) {
                for reply in [&viewer, &operator] {
                    assert_eq!(
                        reply.status,
                        StatusCode::FORBIDDEN,
                        "{method} {path} is admin-only"
                    );
                }
                assert!(
                    !matches!(
                        admin.status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    ),
                    "{method} {path}: admins may call it, got {}",
                    admin.status
                );
                continue;
            }
            for reply in [&operator, &admin] {
                assert!(
                    !matches!(
                        reply.status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    ),
                    "{method} {path}: operator and admin may call it, got {}",
                    reply.status
                );
            }
            if method == Method::GET {
                assert!(
                    !matches!(
                        viewer.status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    ),
                    "{method} {path}: viewers may read, got {}",
                    viewer.status
                );
            } else {
                assert_eq!(viewer.status, StatusCode::FORBIDDEN, "{method} {path}");
                assert_eq!(viewer.json()["code"], "forbidden");
            }
        }
    }
    insta::assert_snapshot!("route_table", table.join("\n"));
}

#[test]
fn role_policy() {
    assert_eq!(required_role(&Method::GET, "/healthz"), None);
    assert_eq!(
        required_role(&Method::POST, "/healthz"),
        Some(Role::Operator)
    );
    assert_eq!(
        required_role(&Method::GET, "/api/v1/runs"),
        Some(Role::Viewer)
    );
    assert_eq!(
        required_role(
            &Method::POST,
            "/api/v1/pipelines/{name}/runs/{run_id}/cancel"
        ),
        Some(Role::Operator)
    );
    assert_eq!(
        required_role(&Method::DELETE, "/api/v1/anything"),
        Some(Role::Operator)
    );
    assert_eq!(
        required_role(&Method::POST, "/api/v1/apps/{name}/webhook"),
        None,
        "the webhook is checked by its signature"
    );
    assert_eq!(
        required_role(&Method::POST, "/api/v1/webhooks/git"),
        None,
        "the git webhook is checked by its signature"
    );
    assert_eq!(
        required_role(&Method::GET, "/api/v1/webhooks/git"),
        Some(Role::Viewer)
    );
    assert_eq!(
        required_role(&Method::GET, "/api/v1/apps/{name}/webhook"),
        Some(Role::Viewer)
    );
    assert_eq!(
        required_role(&Method::POST, "/api/v1/apps/{name}/refresh"),
        Some(Role::Operator)
    );
    assert_eq!(
        required_role(&Method::PUT, "/api/v1/pipelines/{name}/definition"),
        Some(Role::Admin),
        "a definition holds shell commands"
    );
    assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
}

#[tokio::test]
async fn malformed_authorization_headers_are_unauthorized() {
    let (app, _) = app();
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", VIEWER] {
        let request = axum::http::Request::get("/api/v1/runs")
            .header("authorization", value)
            .body(axum::body::Body::empty())
            .expect("request");
        let reply = crate::send_request(&app, request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{value:?}");
    }
    let request = axum::http::Request::get("/api/v1/runs")
        .header("authorization", format!("bEaReR {VIEWER}"))
        .body(axum::body::Body::empty())
        .expect("request");
    assert_eq!(
        crate::send_request(&app, request).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn forbidden_names_the_role_and_the_route() {
    let (app, _) = app();
    let reply = send(
        &app,
        Method::POST,
        "/api/v1/pipelines/x/runs/y/cancel",
        Some(VIEWER),
        None,
    )
    .await;
    insta::assert_json_snapshot!("forbidden", reply.snapshot());
}
