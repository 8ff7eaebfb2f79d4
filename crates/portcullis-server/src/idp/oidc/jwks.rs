//! A provider's signing keys (RFC 7517 JSON Web Key Set), cached.
//!
//! Keys are refetched periodically and when a token names a key we do not
//! have (OpenID Connect Core §10.1.1: a provider rotates by publishing a new
//! key and starting to use it). Unknown-`kid` refetches are single-flight
//! (concurrent sign-ins wait for one fetch) and rate-limited, so a flood of
//! tokens with made-up `kid`s cannot make us hammer the provider.

use openidconnect::core::CoreJsonWebKeySet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use url::Url;

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// One fetched key set, in the forms the two verifiers need.
pub struct KeySet {
    /// For ID tokens (verified by `openidconnect`).
    pub core: CoreJsonWebKeySet,
    /// For logout tokens and access tokens (verified by `jsonwebtoken`);
    /// keys it cannot use are left out rather than failing the whole set.
    pub jwt: Vec<JwtKey>,
    /// Bumped on every successful fetch.
    pub generation: u64,
    /// When it was fetched (none before the first fetch).
    pub fetched_at: Option<std::time::SystemTime>,
}

/// A published key as `jsonwebtoken` uses it: the JWK (for matching by
/// `kid`, family and `use`) and its decoded form, built once per fetch
/// rather than once per token.
pub struct JwtKey {
    pub jwk: jsonwebtoken::jwk::Jwk,
    pub key: jsonwebtoken::DecodingKey,
}

impl JwtKey {
    fn from_value(v: &serde_json::Value) -> Option<Self> {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(v.clone()).ok()?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).ok()?;
        Some(Self { jwk, key })
    }
}

pub struct Jwks {
    /// The provider it belongs to (for the metrics).
    provider: &'static str,
    url: Url,
    current: RwLock<Arc<KeySet>>,
    /// When the last unknown-`kid` refetch happened; the lock makes it single-flight.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
    min_refetch_interval: Duration,
}

impl Jwks {
    pub fn new(provider: &'static str, url: Url, min_refetch_interval: Duration) -> Self {
        Self {
            provider,
            url,
            current: RwLock::new(Arc::new(KeySet { core: CoreJsonWebKeySet::new(vec![]), jwt: vec![], generation: 0, fetched_at: None })),
            last_refetch: tokio::sync::Mutex::new(None),
            min_refetch_interval,
        }
    }

    pub fn keys(&self) -> Arc<KeySet> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Fetches the key set now and makes it current.
    pub async fn fetch(&self, http: &reqwest::Client) -> Result<Arc<KeySet>, String> {
        let result = self.fetch_once(http).await;
        crate::telemetry::key_set_refresh(self.provider, result.is_ok());
        result
    }

    async fn fetch_once(&self, http: &reqwest::Client) -> Result<Arc<KeySet>, String> {
        let resp = http.get(self.url.clone()).header("accept", "application/json").send().await.map_err(|e| crate::outbound::describe(&e))?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let body = crate::outbound::read_capped(resp, MAX_JWKS_BYTES).await.map_err(|e| format!("the key set: {e}"))?;
        let core: CoreJsonWebKeySet = serde_json::from_slice(&body).map_err(|e| format!("not a JSON Web Key Set: {e}"))?;
        let raw: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        let jwt = raw
            .get("keys")
            .and_then(|k| k.as_array())
            .map(|keys| keys.iter().filter_map(JwtKey::from_value).collect())
            .unwrap_or_default();
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        let set = Arc::new(KeySet { core, jwt, generation: cur.generation + 1, fetched_at: Some(std::time::SystemTime::now()) });
        *cur = set.clone();
        Ok(set)
    }

    /// A token named a key not in `seen` (the set it was checked against).
    /// Returns a newer set to retry with, or `None` when there is none: the
    /// set changed meanwhile (another caller fetched it) → that set; else a
    /// fetch, unless one happened within the minimum interval.
    pub async fn refresh_for_unknown_key(&self, http: &reqwest::Client, seen: u64) -> Option<Arc<KeySet>> {
        let mut last = self.last_refetch.lock().await;
        let cur = self.keys();
        if cur.generation != seen {
            return Some(cur);
        }
        if last.is_some_and(|t| t.elapsed() < self.min_refetch_interval) {
            return None;
        }
        *last = Some(Instant::now());
        match self.fetch(http).await {
            Ok(set) => Some(set),
            Err(e) => {
                tracing::warn!(jwks = %self.url, error = %e, "refetching the identity provider's signing keys failed");
                None
            }
        }
    }
}
