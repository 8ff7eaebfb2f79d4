//! The `local` authorization server's signing keys: RSA 2048, RS256.
//!
//! RS256 because every JWT library the platform's CLIs use accepts it (the
//! existing CLI verifies with PyJWT). The `rsa` crate (RustCrypto) only
//! *generates* keys; signing and verifying are done by `jsonwebtoken` on
//! `aws-lc-rs` (see `crate::jwt_crypto`), so no private-key operation runs
//! through `rsa` (which sidesteps its timing advisory, RUSTSEC-2023-0071).
//!
//! Keys live in the database, the private half sealed with the installation
//! key, so that every replica signs with the same key and publishes the same
//! set. The active key is replaced after `PORTCULLIS_SIGNING_KEY_ROTATION`;
//! a retired key stays published until every token it signed has expired.
//! Each replica re-reads the set every minute, and at once (at most every
//! 10 s) when a token names a key it does not know.

use crate::crypto;
use crate::crypto::Sealer;
use portcullis_domain::Clock;
use portcullis_storage::Store;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use portcullis_storage::{SigningKey, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The only algorithm the local authority signs with and accepts.
/// What the key ring reads and writes: the signing keys in the database,
/// sealed with the server key, timed by the injected clock.
#[derive(Clone, Copy)]
pub struct KeyStorage<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub sealer: &'a Sealer,
}

pub const ALG: jsonwebtoken::Algorithm = jsonwebtoken::Algorithm::RS256;
const RSA_BITS: usize = 2048;
/// How often a replica re-reads the key set from the database.
const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// At most one reload for an unknown `kid` this often.
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key {kid}: {why}")]
    Unusable { kid: String, why: String },
    #[error("generating a signing key: {0}")]
    Generate(String),
}

/// The keys as last read.
pub struct KeySet {
    /// The key new tokens are signed with.
    pub signing_kid: String,
    signing: EncodingKey,
    /// Every published key, by `kid`.
    verifying: HashMap<String, DecodingKey>,
    /// `{"keys": [...]}` as served at `/oauth2/jwks`.
    pub jwks: serde_json::Value,
    /// When the signing key was created (for rotation).
    pub signing_created_at: portcullis_domain::Timestamp,
}

impl KeySet {
    pub fn sign(&self, header_typ: &str, claims: &serde_json::Value) -> Result<String, jsonwebtoken::errors::Error> {
        let mut h = jsonwebtoken::Header::new(ALG);
        h.kid = Some(self.signing_kid.clone());
        h.typ = Some(header_typ.to_owned());
        jsonwebtoken::encode(&h, claims, &self.signing)
    }

    pub fn verifying_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }
}

/// The replica's view of the keys.
pub struct KeyRing {
    loaded: RwLock<Option<(Arc<KeySet>, Instant)>>,
    /// Serializes reloads (and the first key's creation), and remembers when
    /// the last one finished: callers arriving together share one read.
    reload: tokio::sync::Mutex<Option<Instant>>,
    /// The last reload caused by an unknown `kid` (rate limit: made-up key
    /// ids must not turn every request into a database read).
    unknown_kid: std::sync::Mutex<Option<Instant>>,
}

impl Default for KeyRing {
    fn default() -> Self {
        Self { loaded: RwLock::new(None), reload: tokio::sync::Mutex::new(None), unknown_kid: std::sync::Mutex::new(None) }
    }
}

impl KeyRing {
    /// Makes the next use re-read the keys (another replica rotated them).
    pub fn forget(&self) {
        *self.loaded.write().expect("key lock") = None;
    }

    fn loaded(&self) -> Option<Arc<KeySet>> {
        self.loaded.read().expect("key lock").as_ref().map(|(s, _)| s.clone())
    }

    /// The current keys, read from the database when older than a minute
    /// (creating the first key if there is none).
    pub async fn current(&self, state: KeyStorage<'_>) -> Result<Arc<KeySet>, KeyError> {
        let asked = Instant::now();
        if let Some((set, at)) = self.loaded.read().expect("key lock").as_ref() {
            if at.elapsed() < RELOAD_EVERY {
                return Ok(set.clone());
            }
        }
        self.reload(state, Some(asked)).await
    }

    /// The key a token names; an unknown `kid` triggers a reload (another
    /// replica may have rotated), at most every 10 s.
    pub async fn verifying_key(&self, state: KeyStorage<'_>, kid: &str) -> Result<Option<(Arc<KeySet>, DecodingKey)>, KeyError> {
        let asked = Instant::now();
        let set = self.current(state).await?;
        if let Some(k) = set.verifying_key(kid) {
            return Ok(Some((set.clone(), k.clone())));
        }
        let allowed = {
            let mut last = self.unknown_kid.lock().expect("kid lock");
            if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD) {
                false
            } else {
                *last = Some(Instant::now());
                true
            }
        };
        let set = if allowed {
            self.reload(state, Some(asked)).await?
        } else {
            // Wait for a reload in flight (a rotation seen by many requests
            // at once), then look again without reading the database.
            drop(self.reload.lock().await);
            self.loaded().unwrap_or(set)
        };
        Ok(set.verifying_key(kid).cloned().map(|k| (set.clone(), k)))
    }

    /// Re-reads the keys, unless a reload finished after `asked` (then its
    /// result serves this caller too).
    async fn reload(&self, state: KeyStorage<'_>, asked: Option<Instant>) -> Result<Arc<KeySet>, KeyError> {
        let mut last = self.reload.lock().await;
        if let (Some(asked), Some(done)) = (asked, *last) {
            if done >= asked {
                if let Some(set) = self.loaded() {
                    return Ok(set);
                }
            }
        }
        let now = state.clock.now();
        let mut stored = state.store.list_signing_keys(now).await?;
        if !stored.iter().any(|k| k.retired_at.is_none()) {
            let key = generate(state).await?;
            if state.store.create_first_signing_key(&key).await? {
                tracing::info!(kid = %key.kid, "created the local authorization server's first signing key");
            }
            stored = state.store.list_signing_keys(now).await?;
        }
        let set = Arc::new(build(state, &stored)?);
        *self.loaded.write().expect("key lock") = Some((set.clone(), Instant::now()));
        *last = Some(Instant::now());
        Ok(set)
    }

    /// Replaces the signing key when it is older than the rotation period.
    /// The old key stays published for `publish_for` (the access token
    /// lifetime and leeway).
    pub async fn rotate_if_due(&self, state: KeyStorage<'_>, every: Duration, publish_for: Duration) -> Result<bool, KeyError> {
        let set = self.current(state).await?;
        let now = state.clock.now();
        if now.since(set.signing_created_at) < every {
            return Ok(false);
        }
        self.rotate(state, publish_for).await?;
        Ok(true)
    }

    /// Makes a new key the signing key now.
    pub async fn rotate(&self, state: KeyStorage<'_>, publish_for: Duration) -> Result<String, KeyError> {
        let key = generate(state).await?;
        let now = state.clock.now();
        state.store.rotate_signing_key(&key, now.plus(publish_for), now).await?;
        tracing::info!(kid = %key.kid, "rotated the local authorization server's signing key");
        self.reload(state, None).await?;
        Ok(key.kid)
    }
}

/// What ties a sealed private key to its row.
pub(crate) fn aad(kid: &str) -> String {
    crypto::aad(&["oauth-signing-key", kid])
}

/// A fresh RSA key pair, sealed, with its public JWK. Generation takes tens
/// of milliseconds, so it runs off the async workers.
async fn generate(state: KeyStorage<'_>) -> Result<SigningKey, KeyError> {
    let (der, n, e) = tokio::task::spawn_blocking(|| {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS).map_err(|e| KeyError::Generate(e.to_string()))?;
        let der = key.to_pkcs1_der().map_err(|e| KeyError::Generate(e.to_string()))?;
        Ok::<_, KeyError>((der.as_bytes().to_vec(), key.n().to_bytes_be(), key.e().to_bytes_be()))
    })
    .await
    .map_err(|e| KeyError::Generate(e.to_string()))??;
    let (n, e) = (URL_SAFE_NO_PAD.encode(n), URL_SAFE_NO_PAD.encode(e));
    let kid = thumbprint(&n, &e);
    let jwk = serde_json::json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
    Ok(SigningKey {
        private_sealed: state.sealer.seal(&der, &aad(&kid)),
        kid,
        alg: "RS256".into(),
        public_jwk: jwk.to_string(),
        created_at: state.clock.now(),
        retired_at: None,
        publish_until: None,
    })
}

/// The RFC 7638 JWK thumbprint, used as the key id: the same key always
/// gets the same id, and the id says nothing else.
fn thumbprint(n: &str, e: &str) -> String {
    // The required members in lexicographic order, no whitespace (§3.2).
    let canonical = format!("{{\"e\":\"{e}\",\"kty\":\"RSA\",\"n\":\"{n}\"}}");
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn build(state: KeyStorage<'_>, stored: &[SigningKey]) -> Result<KeySet, KeyError> {
    let unusable = |kid: &str, why: String| KeyError::Unusable { kid: kid.to_owned(), why };
    let active = stored.iter().find(|k| k.retired_at.is_none()).ok_or_else(|| unusable("(none)", "no active key".into()))?;
    let der = state.sealer.open(&active.private_sealed, &aad(&active.kid)).map_err(|e| unusable(&active.kid, e.to_string()))?;
    let mut verifying = HashMap::new();
    let mut published = Vec::new();
    for k in stored {
        let jwk: serde_json::Value = serde_json::from_str(&k.public_jwk).map_err(|e| unusable(&k.kid, e.to_string()))?;
        let (Some(n), Some(e)) = (jwk["n"].as_str(), jwk["e"].as_str()) else {
            return Err(unusable(&k.kid, "the public key has no n or e".into()));
        };
        verifying.insert(k.kid.clone(), DecodingKey::from_rsa_components(n, e).map_err(|e| unusable(&k.kid, e.to_string()))?);
        published.push(jwk);
    }
    Ok(KeySet {
        signing_kid: active.kid.clone(),
        signing: EncodingKey::from_rsa_der(&der),
        verifying,
        jwks: serde_json::json!({ "keys": published }),
        signing_created_at: active.created_at,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(super::thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
