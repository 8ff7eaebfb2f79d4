//! The server secret and the keys derived from it, and the random tokens
//! that sessions, CSRF protection and setup links are made of.
//!
//! Subkeys are derived with HKDF-SHA256 (RFC 5869) so that one operator
//! secret serves several purposes without a key ever being used for two.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use portcullis_domain::TokenHash;
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::path::Path;

/// Decodes `PORTCULLIS_SECRET_KEY`: base64 (standard or URL-safe) or hex,
/// at least 32 bytes.
pub fn decode_secret_key(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let bytes = if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(s).ok()
    } else {
        STANDARD.decode(s).ok().or_else(|| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
    };
    match bytes {
        Some(b) if b.len() >= 32 => Ok(b),
        Some(b) => Err(format!("decodes to {} bytes; it must be at least 32 random bytes", b.len())),
        None => Err("is neither base64 nor hex (the value is not shown)".into()),
    }
}

/// Reads the secret key from `path`, or creates it there (mode 0600) when it
/// does not exist. Returns the key and whether it was created.
pub fn load_or_create_key_file(path: &Path) -> std::io::Result<(Vec<u8>, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => decode_secret_key(&text)
            .map(|k| (k, false))
            .map_err(|p| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {p}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut key = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            write_private(path, STANDARD.encode(&key).as_bytes())?;
            Ok((key, true))
        }
        Err(e) => Err(e),
    }
}

/// Creates `path` with mode 0600 (fails if it exists, so a key is never
/// overwritten).
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Keys derived from the server secret.
#[derive(Clone)]
pub struct Keys {
    csrf: [u8; 32],
    fingerprint: [u8; 32],
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys([REDACTED])")
    }
}

impl Keys {
    pub fn derive(secret: &[u8]) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"portcullis"), secret);
        let mut csrf = [0u8; 32];
        hk.expand(b"csrf-token v1", &mut csrf).expect("32 bytes is a valid HKDF length");
        let mut fingerprint = [0u8; 32];
        hk.expand(b"fingerprint v1", &mut fingerprint).expect("32 bytes is a valid HKDF length");
        Self { csrf, fingerprint }
    }

    /// A keyed fingerprint of something that must not be stored as typed
    /// (a password typed into the e-mail field): the same input gives the
    /// same 16 characters, so attempts can still be counted together, but
    /// without the server secret they cannot be guessed back offline.
    pub fn fingerprint(&self, purpose: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.fingerprint).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// The CSRF token bound to `binding` (a session id, or the pre-session
    /// cookie): HMAC-SHA256, so it cannot be forged without the secret and
    /// needs no storage.
    pub fn csrf_token(&self, purpose: &str, binding: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(binding.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Constant-time check of a presented CSRF token.
    pub fn verify_csrf(&self, purpose: &str, binding: &str, presented: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.csrf).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(binding.as_bytes());
        match URL_SAFE_NO_PAD.decode(presented) {
            Ok(tag) => mac.verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// 256 random bits from the operating system, base64url without padding.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// How tokens are stored: SHA-256, hex. A stolen database does not yield
/// usable cookies or links, and tokens have 256 bits of entropy, so no salt
/// or slow hash is needed.
pub fn token_hash(token: &str) -> TokenHash {
    TokenHash::of(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode() {
        assert_eq!(decode_secret_key(&"ab".repeat(32)).unwrap().len(), 32);
        assert_eq!(decode_secret_key(&STANDARD.encode([7u8; 48])).unwrap().len(), 48);
        assert!(decode_secret_key(&STANDARD.encode([7u8; 16])).unwrap_err().contains("16 bytes"));
        assert!(decode_secret_key("!!!").is_err());
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("pc-keys-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secret.key");
        let (k1, created) = load_or_create_key_file(&path).unwrap();
        assert!(created);
        let (k2, created) = load_or_create_key_file(&path).unwrap();
        assert!(!created);
        assert_eq!(k1, k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn csrf_tokens_are_bound() {
        let k = Keys::derive(&[1u8; 32]);
        let t = k.csrf_token("session", "abc");
        assert!(k.verify_csrf("session", "abc", &t));
        assert!(!k.verify_csrf("session", "abd", &t));
        assert!(!k.verify_csrf("login", "abc", &t));
        assert!(!k.verify_csrf("session", "abc", "garbage"));
        assert!(!Keys::derive(&[2u8; 32]).verify_csrf("session", "abc", &t));
        assert_ne!(random_token(), random_token());
        assert_eq!(token_hash("x").as_str().len(), 64);
    }
}
