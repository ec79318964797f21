//! Webhooks: how a delivery proves it came from the forge, and what it says.
//!
//! Two routes take no bearer token (`auth`): `POST /api/v1/apps/{name}/webhook` (one app, its
//! own secret) and `POST /api/v1/webhooks/git` (every app, matched by repository; a server-wide
//! secret per forge, or the secret of a matching app). A delivery proves itself with a shared
//! secret, in one of three ways:
//!
//! - GitHub (and forges that copy it): `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of
//!   the raw body keyed with the secret.
//! - Gitea: `X-Gitea-Signature: <hex>`, the same HMAC without the prefix; Gitea also sends
//!   `X-Hub-Signature-256`, and either may verify.
//! - GitLab: `X-Gitlab-Token: <secret>`, the secret itself.
//!
//! [`Proof::from_headers`] reads what a delivery presents before any secret is looked at (a
//! missing or malformed header is refused without one), and [`Proof::verify`] checks it against
//! a secret, so one delivery can be tried against several secrets. Comparisons are
//! constant-time: the HMAC with [`Mac::verify_slice`], the GitLab token by comparing the HMACs of
//! the presented and the expected token (fixed-length tags compared with `verify_slice`), so
//! neither the content nor the length of the secret leaks through timing.
//!
//! [`payload`] reads the repository and the ref out of the JSON; [`repo_url`] compares
//! repository URLs by host and path.

pub mod payload;
pub mod repo_url;

use std::fmt;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// GitHub's signature header.
pub const GITHUB_SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// GitLab's secret-token header.
pub const GITLAB_TOKEN_HEADER: &str = "x-gitlab-token";
/// Gitea's signature header (bare hex, no `sha256=`).
pub const GITEA_SIGNATURE_HEADER: &str = "x-gitea-signature";
/// The event headers that tell the forges apart (Gitea also sends GitHub's).
pub const GITHUB_EVENT_HEADER: &str = "x-github-event";
pub const GITEA_EVENT_HEADER: &str = "x-gitea-event";
pub const GITLAB_EVENT_HEADER: &str = "x-gitlab-event";

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

/// A git forge, by the scheme its deliveries are signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forge {
    GitHub,
    GitLab,
    Gitea,
}

impl Forge {
    /// Every forge.
    pub const ALL: [Forge; 3] = [Forge::GitHub, Forge::GitLab, Forge::Gitea];

    /// The lowercase name, as in logs, metric labels and the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::GitLab => "gitlab",
            Forge::Gitea => "gitea",
        }
    }

    /// The forge that sent a delivery, by its event header: `X-Gitea-Event` first (Gitea also
    /// sends `X-GitHub-Event`), then `X-GitHub-Event`, then `X-Gitlab-Event`.
    pub fn detect(headers: &HeaderMap) -> Option<Forge> {
        [
            (GITEA_EVENT_HEADER, Forge::Gitea),
            (GITHUB_EVENT_HEADER, Forge::GitHub),
            (GITLAB_EVENT_HEADER, Forge::GitLab),
        ]
        .into_iter()
        .find(|(header, _)| headers.contains_key(*header))
        .map(|(_, forge)| forge)
    }
}

impl fmt::Display for Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a delivery presents to prove itself, read from its headers. Its `Debug` never shows a
/// token.
#[derive(Clone, PartialEq, Eq)]
pub enum Proof {
    /// HMAC-SHA256 tags of the body (GitHub's one, or Gitea's one or two); any may match.
    Hmac(Vec<Vec<u8>>),
    /// GitLab's token: the secret itself.
    Token(Vec<u8>),
}

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proof::Hmac(tags) => write!(f, "Proof::Hmac({} tags)", tags.len()),
            Proof::Token(_) => f.write_str("Proof::Token(***)"),
        }
    }
}

impl Proof {
    /// The proof a delivery from `forge` carries in its headers. A missing header is
    /// [`SignatureError::Missing`]; a signature that is not hex of the right length is
    /// [`SignatureError::Malformed`] (for Gitea, when none of its two headers is usable).
    pub fn from_headers(forge: Forge, headers: &HeaderMap) -> Result<Proof, SignatureError> {
        match forge {
            Forge::GitHub => match hub_tag(headers) {
                Some(tag) => Ok(Proof::Hmac(vec![tag?])),
                None => Err(SignatureError::Missing),
            },
            Forge::Gitea => {
                let tags = [gitea_tag(headers), hub_tag(headers)];
                if tags.iter().all(Option::is_none) {
                    return Err(SignatureError::Missing);
                }
                let valid: Vec<Vec<u8>> = tags.into_iter().flatten().flatten().collect();
                if valid.is_empty() {
                    return Err(SignatureError::Malformed);
                }
                Ok(Proof::Hmac(valid))
            }
            Forge::GitLab => headers
                .get(GITLAB_TOKEN_HEADER)
                .map(|value| Proof::Token(value.as_bytes().to_vec()))
                .ok_or(SignatureError::Missing),
        }
    }

    /// Whether the proof was made with `secret` for `body`, compared in constant time.
    pub fn verify(&self, secret: &WebhookSecret, body: &[u8]) -> bool {
        match self {
            Proof::Hmac(tags) => tags.iter().any(|tag| {
                let mut mac = secret.mac();
                mac.update(body);
                mac.verify_slice(tag).is_ok()
            }),
            Proof::Token(token) => {
                // Compare HMAC(secret, presented) with HMAC(secret, secret): equal exactly when
                // the token is the secret, and compared as fixed-length tags in constant time.
                let mut presented = secret.mac();
                presented.update(token);
                let mut expected = secret.mac();
                expected.update(&secret.0);
                expected
                    .verify_slice(&presented.finalize().into_bytes())
                    .is_ok()
            }
        }
    }
}

/// `X-Hub-Signature-256`: `None` when absent.
fn hub_tag(headers: &HeaderMap) -> Option<Result<Vec<u8>, SignatureError>> {
    let value = headers.get(GITHUB_SIGNATURE_HEADER)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|value| value.trim().strip_prefix("sha256="))
            .and_then(decode_hex)
            .ok_or(SignatureError::Malformed),
    )
}

/// `X-Gitea-Signature`: `None` when absent.
fn gitea_tag(headers: &HeaderMap) -> Option<Result<Vec<u8>, SignatureError>> {
    let value = headers.get(GITEA_SIGNATURE_HEADER)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|value| decode_hex(value.trim()))
            .ok_or(SignatureError::Malformed),
    )
}

/// Why a request's signature was refused. The messages name the header, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No signature header is present.
    Missing,
    /// `X-Hub-Signature-256` is not `sha256=` and 64 hex digits (or `X-Gitea-Signature` not 64
    /// hex digits).
    Malformed,
    /// The signature does not match the body and the secret.
    BadSignature,
    /// The GitLab token is not the secret.
    BadToken,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => {
                "missing signature: send `x-hub-signature-256: sha256=<hmac>`, \
                 `x-gitea-signature: <hmac>` or `x-gitlab-token: <secret>`"
            }
            SignatureError::Malformed => {
                "malformed signature: x-hub-signature-256 must be `sha256=` and 64 hex digits, \
                 x-gitea-signature 64 hex digits"
            }
            SignatureError::BadSignature => {
                "the signature does not match the body and the webhook secret"
            }
            SignatureError::BadToken => "x-gitlab-token does not match the webhook secret",
        })
    }
}

/// Checks a per-app webhook request's headers and raw body against the app's secret. The first
/// signature header present decides alone: `X-Hub-Signature-256`, then `X-Gitea-Signature`,
/// then `X-Gitlab-Token` (a bad GitHub signature is not rescued by a token next to it).
pub fn verify(
    secret: &WebhookSecret,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Forge, SignatureError> {
    let forge = if headers.contains_key(GITHUB_SIGNATURE_HEADER) {
        Forge::GitHub
    } else if headers.contains_key(GITEA_SIGNATURE_HEADER) {
        Forge::Gitea
    } else if headers.contains_key(GITLAB_TOKEN_HEADER) {
        Forge::GitLab
    } else {
        return Err(SignatureError::Missing);
    };
    let proof = Proof::from_headers(forge, headers)?;
    match (proof.verify(secret, body), forge) {
        (true, forge) => Ok(forge),
        (false, Forge::GitLab) => Err(SignatureError::BadToken),
        (false, _) => Err(SignatureError::BadSignature),
    }
}

/// `sha256=` followed by this, for a body: what GitHub sends (for tests and tools).
pub fn github_signature(secret: &WebhookSecret, body: &[u8]) -> String {
    format!("sha256={}", gitea_signature(secret, body))
}

/// The bare hex HMAC-SHA256 of a body: what Gitea sends as `X-Gitea-Signature`.
pub fn gitea_signature(secret: &WebhookSecret, body: &[u8]) -> String {
    let mut mac = secret.mac();
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    tag.iter().map(|byte| format!("{byte:02x}")).collect()
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
mod tests;
