//! API tokens: `aq_<id>_<secret>`, stored as an argon2id PHC hash.
//!
//! The id (16 hex digits) is stored in clear next to the hash, so the backend finds the one row
//! of a presented token by [`token_id`] and verifies it with a single argon2 check, instead of
//! trying every stored hash. The secret is 32 random bytes (64 hex digits). Hex keeps the token
//! free of `_`, so it splits unambiguously and selects with a double click.
//!
//! Verification costs one argon2id hash (~70 ms at the default parameters with optimisation,
//! see `[profile.dev.package.argon2]`); a server under frequent polling may cache successful
//! verifications for a short time.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

const PREFIX: &str = "aq";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// A new random token, `aq_<16 hex digits>_<64 hex digits>`. Show it once; store [`hash_token`].
///
/// # Panics
///
/// When the operating system has no random source, which no supported platform lacks.
pub fn generate_token() -> String {
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut id).expect("invariant: the OS random source is available");
    getrandom::fill(&mut secret).expect("invariant: the OS random source is available");
    format!("{PREFIX}_{}_{}", hex(&id), hex(&secret))
}

/// The id part of a well-formed token (the lookup key), or `None` when it is not one.
pub fn token_id(token: &str) -> Option<&str> {
    let mut parts = token.split('_');
    let (prefix, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let well_formed = prefix == PREFIX
        && parts.next().is_none()
        && is_hex(id, ID_BYTES * 2)
        && is_hex(secret, SECRET_BYTES * 2);
    well_formed.then_some(id)
}

/// The argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of a token, with a
/// fresh random salt.
///
/// # Panics
///
/// When the operating system has no random source for the salt.
pub fn hash_token(token: &str) -> String {
    Argon2::default()
        .hash_password(token.as_bytes())
        .expect("invariant: argon2 with default parameters hashes any input")
        .to_string()
}

/// Whether `token` matches a PHC string made by [`hash_token`]. A malformed hash is `false`.
pub fn verify_token_hash(token: &str, phc_hash: &str) -> bool {
    Argon2::default()
        .verify_password(token.as_bytes(), phc_hash)
        .is_ok()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
