//! Signature checks against the forges' documented examples and hand-made deliveries.

use axum::http::{HeaderMap, HeaderValue};

use super::*;

fn secret() -> WebhookSecret {
    WebhookSecret::new("It's a Secret to Everybody").expect("non-empty")
}

fn headers(name: &'static str, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(name, HeaderValue::from_str(value).expect("header value"));
    headers
}

#[test]
fn githubs_documented_example_verifies() {
    // The example of GitHub's "Validating webhook deliveries" page.
    let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let body = b"Hello, World!";
    assert_eq!(github_signature(&secret(), body), signature);
    assert_eq!(
        verify(
            &secret(),
            &headers(GITHUB_SIGNATURE_HEADER, signature),
            body
        ),
        Ok(Forge::GitHub)
    );
    let upper = format!("sha256={}", signature[7..].to_uppercase());
    assert_eq!(
        verify(&secret(), &headers(GITHUB_SIGNATURE_HEADER, &upper), body),
        Ok(Forge::GitHub)
    );
    assert_eq!(
        verify(
            &secret(),
            &headers(GITHUB_SIGNATURE_HEADER, signature),
            b"Hello!"
        ),
        Err(SignatureError::BadSignature)
    );
}

#[test]
fn malformed_signatures_are_refused() {
    for value in [
        "",
        "sha256=",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    ] {
        assert_eq!(
            verify(&secret(), &headers(GITHUB_SIGNATURE_HEADER, value), b"x"),
            Err(SignatureError::Malformed),
            "{value:?}"
        );
    }
}

#[test]
fn gitlab_tokens_must_equal_the_secret() {
    let body = b"{}";
    let good = headers(GITLAB_TOKEN_HEADER, "It's a Secret to Everybody");
    assert_eq!(verify(&secret(), &good, body), Ok(Forge::GitLab));
    for bad in [
        "",
        "It's a Secret to Everybod",
        "It's a Secret to Everybody!",
        "x",
    ] {
        assert_eq!(
            verify(&secret(), &headers(GITLAB_TOKEN_HEADER, bad), body),
            Err(SignatureError::BadToken),
            "{bad:?}"
        );
    }
    assert_eq!(
        verify(&secret(), &HeaderMap::new(), body),
        Err(SignatureError::Missing)
    );
}

#[test]
fn empty_secrets_do_not_exist_and_never_print() {
    assert_eq!(WebhookSecret::new(""), None);
    assert_eq!(format!("{:?}", secret()), "WebhookSecret(***)");
}

fn two(first: (&'static str, &str), second: (&'static str, &str)) -> HeaderMap {
    let mut headers = headers(first.0, first.1);
    headers.insert(
        second.0,
        HeaderValue::from_str(second.1).expect("header value"),
    );
    headers
}

#[test]
fn gitea_signs_with_bare_hex_and_either_header_may_verify() {
    let body = br#"{"ref":"refs/heads/main"}"#;
    let gitea = gitea_signature(&secret(), body);
    assert_eq!(gitea.len(), 64);
    assert_eq!(format!("sha256={gitea}"), github_signature(&secret(), body));
    let proof = |headers: &HeaderMap| Proof::from_headers(Forge::Gitea, headers);

    let own = proof(&headers(GITEA_SIGNATURE_HEADER, &gitea)).expect("well formed");
    assert!(own.verify(&secret(), body));
    assert!(!own.verify(&secret(), b"{}"));
    let other = WebhookSecret::new("another").expect("non-empty");
    assert!(!own.verify(&other, body));

    // Gitea sends both; a broken X-Gitea-Signature does not hide a good X-Hub-Signature-256.
    let hub = github_signature(&secret(), body);
    let both = two(
        (GITEA_SIGNATURE_HEADER, "zz"),
        (GITHUB_SIGNATURE_HEADER, &hub),
    );
    assert!(proof(&both).expect("one usable").verify(&secret(), body));
    let wrong = "0".repeat(64);
    let both = two(
        (GITEA_SIGNATURE_HEADER, &wrong),
        (GITHUB_SIGNATURE_HEADER, &hub),
    );
    assert!(proof(&both).expect("both usable").verify(&secret(), body));

    // The prefixed form is GitHub's, not Gitea's.
    assert_eq!(
        proof(&headers(GITEA_SIGNATURE_HEADER, &hub)),
        Err(SignatureError::Malformed)
    );
    assert_eq!(proof(&HeaderMap::new()), Err(SignatureError::Missing));
    // A GitLab token is no proof for Gitea.
    assert_eq!(
        proof(&headers(GITLAB_TOKEN_HEADER, "It's a Secret to Everybody")),
        Err(SignatureError::Missing)
    );
}

#[test]
fn each_forge_reads_only_its_own_headers() {
    let body = b"{}";
    let hub = github_signature(&secret(), body);
    assert_eq!(
        Proof::from_headers(Forge::GitHub, &headers(GITEA_SIGNATURE_HEADER, &hub[7..])),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        Proof::from_headers(Forge::GitLab, &headers(GITHUB_SIGNATURE_HEADER, &hub)),
        Err(SignatureError::Missing)
    );
    let token = Proof::from_headers(
        Forge::GitLab,
        &headers(GITLAB_TOKEN_HEADER, "It's a Secret to Everybody"),
    )
    .expect("token");
    assert!(token.verify(&secret(), b"any body"));
    assert_eq!(format!("{token:?}"), "Proof::Token(***)");
    // The per-app route accepts Gitea's own header too.
    assert_eq!(
        verify(&secret(), &headers(GITEA_SIGNATURE_HEADER, &hub[7..]), body),
        Ok(Forge::Gitea)
    );
}

#[test]
fn forges_are_told_apart_by_their_event_header() {
    assert_eq!(
        Forge::detect(&headers(GITHUB_EVENT_HEADER, "push")),
        Some(Forge::GitHub)
    );
    assert_eq!(
        Forge::detect(&headers(GITLAB_EVENT_HEADER, "Push Hook")),
        Some(Forge::GitLab)
    );
    let gitea = two((GITHUB_EVENT_HEADER, "push"), (GITEA_EVENT_HEADER, "push"));
    assert_eq!(Forge::detect(&gitea), Some(Forge::Gitea));
    assert_eq!(
        Forge::detect(&headers(GITHUB_SIGNATURE_HEADER, "sha256=")),
        None
    );
}
