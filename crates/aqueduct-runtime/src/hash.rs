//! Content hashes that version pipeline definitions.

use sha2::{Digest, Sha256};

/// Hex SHA-256 of `parts`, separated by a zero byte (which no part contains), so
/// `["ab", "c"]` and `["a", "bc"]` differ.
pub(crate) fn content_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            hasher.update([0]);
        }
        hasher.update(part.as_bytes());
    }
    hex(&hasher.finalize())
}

/// `bytes` in lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::content_hash;

    #[test]
    fn parts_are_kept_apart() {
        assert_ne!(content_hash(&["ab", "c"]), content_hash(&["a", "bc"]));
        assert_eq!(content_hash(&["a", "b"]), content_hash(&["a", "b"]));
        assert_eq!(
            content_hash(&["abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "SHA-256 of `abc`, in lowercase hex"
        );
    }
}
