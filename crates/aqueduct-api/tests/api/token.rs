//! Token helpers: generate → hash → verify, and the `aq_<id>_<secret>` format.

use aqueduct_api::{generate_token, hash_token, token_id, verify_token_hash};

#[test]
fn generated_tokens_verify_against_their_hash() {
    let token = generate_token();
    let id = token_id(&token).expect("a generated token is well-formed");
    assert_eq!(id.len(), 16);
    assert_eq!(token.len(), "aq_".len() + 16 + 1 + 64);
    assert!(token.starts_with(&format!("aq_{id}_")));

    let hash = hash_token(&token);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(verify_token_hash(&token, &hash));

    let (head, secret) = token.rsplit_once('_').expect("three parts");
    let flipped = if secret.starts_with('0') { "1" } else { "0" };
    let wrong_secret = format!("{head}_{flipped}{}", &secret[1..]);
    assert!(!verify_token_hash(&wrong_secret, &hash));
    assert!(!verify_token_hash(&token, "not a phc string"));
    assert_ne!(generate_token(), token);
}

#[test]
fn token_id_rejects_malformed_tokens() {
    let secret = "0".repeat(64);
    assert_eq!(
        token_id(&format!("aq_0123456789abcdef_{secret}")),
        Some("0123456789abcdef")
    );
    for bad in [
        String::new(),
        "aq".to_owned(),
        format!("xx_0123456789abcdef_{secret}"),
        format!("aq_0123456789ABCDEF_{secret}"),
        format!("aq_0123456789abcde_{secret}"),
        format!("aq_0123456789abcdef_{secret}_extra"),
        "aq_0123456789abcdef_short".to_owned(),
    ] {
        assert_eq!(token_id(&bad), None, "{bad}");
    }
}
