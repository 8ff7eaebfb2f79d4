//! Password hashing with argon2id (RFC 9106), off the async executor.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Hashes and verifies passwords. Holds a hash of a random password so that
/// a sign-in for an unknown account costs the same time as a real one.
pub struct Passwords {
    dummy_hash: String,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    pub fn new() -> Self {
        let dummy_hash = hash_blocking(&crate::keys::random_token()).expect("argon2 with default parameters");
        Self { dummy_hash }
    }

    /// PHC string of the argon2id hash (default parameters: 19 MiB, 2 passes).
    pub async fn hash(&self, password: String) -> Result<String, String> {
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|e| e.to_string())?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is none (and then always answers false).
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        ok && real
    }
}

fn hash_blocking(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let p = Passwords::new();
        let h = p.hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!p.verify("wrong horse battery".into(), Some(h)).await);
        assert!(!p.verify("anything".into(), None).await);
    }
}
