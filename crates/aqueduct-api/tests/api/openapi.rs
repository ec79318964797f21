//! The generated OpenAPI document: 3.1, one error vocabulary, every operation documented.

use aqueduct_api::ErrorCode;

use crate::fake::VIEWER;
use crate::{app, get};

#[tokio::test]
async fn served_document_is_the_generated_one() {
    let (app, _) = app();
    let served = get(&app, "/api/v1/openapi.json", VIEWER).await.json();
    let generated = serde_json::to_value(aqueduct_api::openapi_document()).expect("serializes");
    assert_eq!(served, generated);
}

#[test]
fn error_codes_in_the_document_match_the_table() {
    let document = serde_json::to_value(aqueduct_api::openapi_document()).expect("serializes");
    let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
    let table: Vec<_> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(codes, &serde_json::json!(table));
}

#[test]
fn every_operation_is_tagged_and_answers_errors_as_error_body() {
    let document = serde_json::to_value(aqueduct_api::openapi_document()).expect("serializes");
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let name = format!("{method} {path}");
            assert!(
                operation["tags"]
                    .as_array()
                    .is_some_and(|tags| !tags.is_empty()),
                "{name}"
            );
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{name}"
            );
            for (status, response) in responses.iter().filter(|(s, _)| !s.starts_with('2')) {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{name} {status}");
            }
            let public = path == "/healthz" || path == "/metrics";
            assert_eq!(responses.contains_key("401"), !public, "{name}");
        }
    }
}
