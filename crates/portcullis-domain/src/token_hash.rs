//! What storage keeps of a bearer secret: its SHA-256, never the secret.

use sha2::{Digest, Sha256};
use std::fmt;

/// The SHA-256 (lowercase hex) of a bearer secret: a session cookie, a setup
/// or invitation link, a device code, a refresh token, a single-use value.
/// Storage keeps and looks up only this, so reading the database yields no
/// usable secret. It is made by hashing ([`TokenHash::of`]) or from what
/// storage returned ([`TokenHash::from_stored`]): a raw secret cannot be
/// passed where its hash is expected, which a bare `&str` allowed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of `secret`.
    pub fn of(secret: &str) -> Self {
        Self(hex::encode(Sha256::digest(secret.as_bytes())))
    }

    /// A hash as storage returned it (already a hash: nothing is hashed).
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hex digits, for storage and for cache keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Only a prefix: enough to tell hashes apart in a log line.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", self.0.get(..12).unwrap_or(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_hex_and_debug_shows_a_prefix() {
        let h = TokenHash::of("abc");
        assert_eq!(h.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(format!("{h:?}"), "TokenHash(ba7816bf8f01…)");
        assert_eq!(TokenHash::from_stored(h.as_str().to_owned()), h);
    }
}
