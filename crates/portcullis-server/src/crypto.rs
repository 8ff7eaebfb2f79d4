//! Sealing secrets at rest (automation tokens, environment variable values)
//! with AES-256-GCM (the RustCrypto `aes-gcm` crate, audited by NCC Group).
//!
//! The key is derived from `PORTCULLIS_SECRET_KEY` with HKDF-SHA256 (RFC 5869,
//! info `secrets-aead v1`); each value gets a fresh random 96-bit nonce; the
//! value's identity (e.g. `env:<org>:<scope>:<name>:<row id>`) is bound as
//! associated data, so a sealed value copied onto another row does not open.
//!
//! Sealed form: `v1.<key id>.<base64url(nonce || ciphertext || tag)>`, where the
//! key id (8 hex digits of SHA-256 of the key) tells which key sealed it. A
//! previous key (`PORTCULLIS_SECRET_KEY_PREVIOUS`) is kept for opening during
//! a rotation, so readers never fail while `portcullis-server secrets rotate-key`
//! re-seals every value.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key {0}, which this server does not have (set PORTCULLIS_SECRET_KEY_PREVIOUS during a key rotation)")]
    UnknownKey(String),
    #[error("sealed value does not open: wrong key, or the value was tampered with or moved to another row")]
    Open,
}

struct SealKey {
    id: String,
    cipher: Aes256Gcm,
}

/// Seals with the current key; opens with the current or the previous key.
pub struct Sealer {
    current: SealKey,
    previous: Option<SealKey>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealer(key {}, previous {:?})", self.current.id, self.previous.as_ref().map(|k| &k.id))
    }
}

fn derive(secret: &[u8]) -> SealKey {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"portcullis"), secret);
    let mut key = [0u8; 32];
    hk.expand(b"secrets-aead v1", &mut key).expect("32 bytes is a valid HKDF length");
    let id = hex::encode(&Sha256::digest(key)[..4]);
    SealKey { id, cipher: Aes256Gcm::new_from_slice(&key).expect("32-byte key") }
}

/// The associated data that ties a value to the place it belongs.
pub fn aad(parts: &[&str]) -> String {
    parts.join(":")
}

impl Sealer {
    pub fn new(secret: &[u8], previous: Option<&[u8]>) -> Self {
        Self { current: derive(secret), previous: previous.map(derive) }
    }

    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
            .expect("AES-GCM encryption does not fail for these sizes");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("v1.{}.{}", self.current.id, URL_SAFE_NO_PAD.encode(blob))
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Malformed);
        };
        let key = if kid == self.current.id {
            &self.current
        } else {
            match &self.previous {
                Some(p) if p.id == kid => p,
                _ => return Err(SealError::UnknownKey(kid.to_owned())),
            }
        };
        let blob = URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ct) = blob.split_at(12);
        key.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() }).map_err(|_| SealError::Open)
    }

    /// Whether `sealed` was made with the current key.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) == Some(self.current.id.as_str())
    }
}

/// The known plaintext of the key check row.
pub const KEY_CHECK: &[u8] = b"portcullis key check";
pub const KEY_CHECK_AAD: &str = "key-check";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refusals() {
        let s = Sealer::new(&[1u8; 32], None);
        let sealed = s.seal(b"hunter2", "env:a:b");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(s.open(&sealed, "env:a:b").unwrap(), b"hunter2");
        assert_eq!(s.open(&sealed, "env:a:c"), Err(SealError::Open), "moved to another row");
        assert_ne!(s.seal(b"hunter2", "env:a:b"), sealed, "fresh nonce each time");
        let other = Sealer::new(&[2u8; 32], None);
        assert!(matches!(other.open(&sealed, "env:a:b"), Err(SealError::UnknownKey(_))));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(s.open(&tampered, "env:a:b").is_err());
        assert_eq!(s.open("garbage", "x"), Err(SealError::Malformed));
        // During a rotation the previous key still opens old values.
        let rotated = Sealer::new(&[2u8; 32], Some(&[1u8; 32]));
        assert_eq!(rotated.open(&sealed, "env:a:b").unwrap(), b"hunter2");
        assert!(!rotated.is_current(&sealed));
        assert!(rotated.is_current(&rotated.seal(b"x", "y")));
    }
}
