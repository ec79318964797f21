//! Webhook signatures: how `POST /api/v1/apps/{name}/webhook` knows a push came from the forge.
//!
//! The webhook route is the one API route without a bearer token (`auth`): the request proves
//! itself with the app's shared secret instead, in one of two ways.
//!
//! - GitHub (and forges that copy it): `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of
//!   the raw body keyed with the secret.
//! - GitLab: `X-Gitlab-Token: <secret>`, the secret itself.
//!
//! Both comparisons are constant-time: the HMAC with [`Mac::verify_slice`], the GitLab token by
//! comparing the HMACs of the presented and the expected token (fixed-length tags compared with
//! `verify_slice`), so neither the content nor the length of the secret leaks through timing.
//! A request carrying a GitHub signature is judged by it alone, even if it also has a token.

use std::fmt;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// GitHub's signature header.
pub const GITHUB_SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// GitLab's secret-token header.
pub const GITLAB_TOKEN_HEADER: &str = "x-gitlab-token";

/// An app's shared webhook secret. Its `Debug` never shows the value, so it cannot reach a log
/// by accident; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// A secret from its bytes; `None` when empty (an empty key would let anyone sign).
    pub fn new(secret: impl Into<Vec<u8>>) -> Option<WebhookSecret> {
        let secret = secret.into();
        (!secret.is_empty()).then_some(WebhookSecret(secret))
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("invariant: HMAC accepts a key of any length")
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// Which forge's scheme a request was verified with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
}

impl Forge {
    pub fn as_str(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
        }
    }
}

/// Why a request's signature was refused. The messages name the header, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// Neither header is present.
    Missing,
    /// `X-Hub-Signature-256` is not `sha256=` and 64 hex digits.
    Malformed,
    /// The GitHub signature does not match the body.
    BadSignature,
    /// The GitLab token is not the secret.
    BadToken,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => {
                "missing signature: send `x-hub-signature-256: sha256=<hmac>` or `x-gitlab-token`"
            }
            SignatureError::Malformed => {
                "malformed x-hub-signature-256: expected `sha256=` and 64 hex digits"
            }
            SignatureError::BadSignature => "x-hub-signature-256 does not match the body",
            SignatureError::BadToken => "x-gitlab-token does not match the app's webhook secret",
        })
    }
}

/// Checks a webhook request's headers and raw body against the app's secret.
pub fn verify(
    secret: &WebhookSecret,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Forge, SignatureError> {
    if let Some(value) = headers.get(GITHUB_SIGNATURE_HEADER) {
        let tag = value
            .to_str()
            .ok()
            .and_then(|value| value.trim().strip_prefix("sha256="))
            .and_then(decode_hex)
            .ok_or(SignatureError::Malformed)?;
        let mut mac = secret.mac();
        mac.update(body);
        return mac
            .verify_slice(&tag)
            .map(|()| Forge::GitHub)
            .map_err(|_| SignatureError::BadSignature);
    }
    if let Some(value) = headers.get(GITLAB_TOKEN_HEADER) {
        // Compare HMAC(secret, presented) with HMAC(secret, secret): equal exactly when the
        // token is the secret, and compared as fixed-length tags in constant time.
        let mut presented = secret.mac();
        presented.update(value.as_bytes());
        let mut expected = secret.mac();
        expected.update(&secret.0);
        return expected
            .verify_slice(&presented.finalize().into_bytes())
            .map(|()| Forge::GitLab)
            .map_err(|_| SignatureError::BadToken);
    }
    Err(SignatureError::Missing)
}

/// `sha256=` followed by this, for a body: what GitHub sends (for tests and tools).
pub fn github_signature(secret: &WebhookSecret, body: &[u8]) -> String {
    let mut mac = secret.mac();
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// 64 hex digits (either case) as 32 bytes.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
}
