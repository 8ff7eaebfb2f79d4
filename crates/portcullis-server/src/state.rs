//! Shared server state, and the in-memory session cache.

use crate::config::Config;
use crate::keys::Keys;
use crate::crypto::Sealer;
use crate::password::Passwords;
use crate::usage::UsageRecorder;
use portcullis_domain::{Clock, ThrottlePolicy, UserId};
use portcullis_storage::{Membership, SessionRecord, Store, User};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub keys: Keys,
    pub sessions: SessionCache,
    pub throttle: ThrottlePolicy,
    pub passwords: Passwords,
    pub sealer: Sealer,
    /// For calls to automations' own APIs: no redirects (the bearer token
    /// must never follow one to another host), the configured timeouts.
    pub upstream: reqwest::Client,
    pub usage: UsageRecorder,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: Keys, sealer: Sealer) -> Self {
        let sessions = SessionCache::new(config.session_cache_ttl, 100_000);
        let upstream = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.upstream.connect_timeout)
            .timeout(config.upstream.timeout)
            .pool_max_idle_per_host(64)
            .build()
            .expect("HTTP client with default TLS settings");
        let usage = UsageRecorder::start(store.clone());
        Self(Arc::new(Inner {
            config,
            store,
            clock,
            keys,
            sessions,
            throttle: ThrottlePolicy::default(),
            passwords: Passwords::new(),
            sealer,
            upstream,
            usage,
        }))
    }

    /// The session cookie's name: `__Host-` prefixed when served over https
    /// (the browser then insists on `Secure`, `Path=/` and no `Domain`).
    pub fn session_cookie_name(&self) -> &'static str {
        if self.config.https() {
            "__Host-portcullis_session"
        } else {
            "portcullis_session"
        }
    }

    /// The pre-session cookie that binds the sign-in and setup forms' CSRF tokens.
    pub fn form_cookie_name(&self) -> &'static str {
        if self.config.https() {
            "__Host-portcullis_form"
        } else {
            "portcullis_form"
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A session as loaded from storage, with its user and memberships.
pub struct CachedSession {
    pub session: SessionRecord,
    pub user: User,
    pub memberships: Vec<Membership>,
    loaded: Instant,
    /// Last time `last_seen_at` was written back (ms), so that a cached
    /// session is touched once per interval, not once per request.
    pub touched_at: AtomicI64,
}

/// Session lookups served from memory for at most `ttl` (default 1 s).
/// Revocation on this replica evicts at once; on other replicas it takes
/// effect when their entry expires, so within `ttl`.
pub struct SessionCache {
    ttl: Duration,
    max_entries: usize,
    map: Mutex<HashMap<String, Arc<CachedSession>>>,
}

impl SessionCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries, map: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, token_hash: &str) -> Option<Arc<CachedSession>> {
        let map = self.map.lock().expect("session cache lock");
        map.get(token_hash).filter(|c| c.loaded.elapsed() < self.ttl).cloned()
    }

    pub fn insert(&self, token_hash: String, session: SessionRecord, user: User, memberships: Vec<Membership>) -> Arc<CachedSession> {
        let touched = session.times.last_seen_at.0;
        let entry = Arc::new(CachedSession { session, user, memberships, loaded: Instant::now(), touched_at: AtomicI64::new(touched) });
        let mut map = self.map.lock().expect("session cache lock");
        if map.len() >= self.max_entries {
            // Bounded memory: drop what has expired, and everything if that
            // was not enough (the cost is one database read per session).
            let ttl = self.ttl;
            map.retain(|_, c| c.loaded.elapsed() < ttl);
            if map.len() >= self.max_entries {
                map.clear();
            }
        }
        map.insert(token_hash, entry.clone());
        entry
    }

    pub fn evict(&self, token_hash: &str) {
        self.map.lock().expect("session cache lock").remove(token_hash);
    }

    pub fn evict_user(&self, user: UserId) {
        self.map.lock().expect("session cache lock").retain(|_, c| c.user.id != user);
    }

    /// Forgets everything (after role or membership changes, which any
    /// cached session may reflect).
    pub fn clear(&self) {
        self.map.lock().expect("session cache lock").clear();
    }
}
