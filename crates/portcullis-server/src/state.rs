//! Shared server state, and the in-memory session cache.

use crate::config::Config;
use crate::keys::Keys;
use crate::crypto::Sealer;
use crate::password::Passwords;
use crate::usage::UsageRecorder;
use portcullis_domain::{AutomationAcl, AutomationId, Clock, ThrottlePolicy, UserId};
use portcullis_storage::{Automation, Membership, SessionRecord, Store, User};
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
    /// Automations and their access lists, by id, for the same short time as sessions.
    pub automations: TtlCache<AutomationId, CachedAutomation>,
    pub throttle: ThrottlePolicy,
    pub passwords: Passwords,
    pub sealer: Sealer,
    /// For calls to automations' own APIs: no redirects (the bearer token
    /// must never follow one to another host), the configured timeouts.
    pub upstream: reqwest::Client,
    pub usage: UsageRecorder,
    /// The external identity providers (empty with `local` only).
    pub sso: Arc<crate::sso::Registry>,
    /// Verified bearer tokens by hash, each valid until its own `exp`.
    pub bearer_tokens: TtlCache<[u8; 32], crate::auth::bearer::VerifiedToken>,
    /// Recently provisioned IdP users (issuer, subject, roles) -> account,
    /// so that fresh tokens of the same person need no database write.
    pub bearer_users: TtlCache<String, UserId>,
    /// The `local` provider's authorization server (keys, rate limits).
    pub oauth: crate::oauth::LocalAuthority,
}

impl AppState {
    /// The server's state; fails when a SAML provider's SP key pair cannot
    /// be read or created.
    pub fn try_new(config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: Keys, sealer: Sealer) -> Result<Self, String> {
        let sessions = SessionCache::new(config.session_cache_ttl, 100_000);
        let config_ttl = config.session_cache_ttl;
        let upstream = crate::outbound::builder(&config.trust)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.upstream.connect_timeout)
            .timeout(config.upstream.timeout)
            .pool_max_idle_per_host(64)
            .dns_resolver(Arc::new(crate::upstream_policy::FilteringResolver))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let usage = UsageRecorder::start(store.clone());
        let sso = Arc::new(crate::sso::Registry::new(&config)?);
        Ok(Self(Arc::new(Inner {
            config,
            store,
            clock,
            keys,
            sessions,
            automations: TtlCache::new(config_ttl, 100_000),
            throttle: ThrottlePolicy::default(),
            passwords: Passwords::new(),
            sealer,
            upstream,
            usage,
            sso,
            bearer_tokens: TtlCache::new(Duration::from_secs(24 * 3600), 100_000),
            bearer_users: TtlCache::new(Duration::from_secs(60), 100_000),
            oauth: crate::oauth::LocalAuthority::default(),
        })))
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
    /// Last time `last_seen_at` was written back (ms), so that a cached
    /// session is touched once per interval, not once per request.
    pub touched_at: AtomicI64,
}

/// A bounded map whose entries are served for at most `ttl`. Used for
/// sessions and automations: changes on this replica evict at once, changes
/// on another replica take effect within `ttl`.
pub struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    map: Mutex<HashMap<K, (Arc<V>, Instant)>>,
}

impl<K: std::hash::Hash + Eq, V> TtlCache<K, V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries, map: Mutex::new(HashMap::new()) }
    }

    pub fn get<Q>(&self, k: &Q) -> Option<Arc<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let map = self.map.lock().expect("cache lock");
        map.get(k).filter(|(_, at)| at.elapsed() < self.ttl).map(|(v, _)| v.clone())
    }

    pub fn insert(&self, k: K, v: V) -> Arc<V> {
        let v = Arc::new(v);
        let mut map = self.map.lock().expect("cache lock");
        if map.len() >= self.max_entries {
            // Bounded memory: drop what has expired, and everything if that
            // was not enough (the cost is one database read per entry).
            let ttl = self.ttl;
            map.retain(|_, (_, at)| at.elapsed() < ttl);
            if map.len() >= self.max_entries {
                map.clear();
            }
        }
        map.insert(k, (v.clone(), Instant::now()));
        v
    }

    pub fn evict<Q>(&self, k: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.map.lock().expect("cache lock").remove(k);
    }

    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        self.map.lock().expect("cache lock").retain(|_, (v, _)| keep(v));
    }

    pub fn clear(&self) {
        self.map.lock().expect("cache lock").clear();
    }
}

/// Session lookups, served from memory for at most
/// `PORTCULLIS_SESSION_CACHE_TTL` (default 1 s), keyed by token hash.
pub struct SessionCache(TtlCache<String, CachedSession>);

impl SessionCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self(TtlCache::new(ttl, max_entries))
    }

    pub fn get(&self, token_hash: &str) -> Option<Arc<CachedSession>> {
        self.0.get(token_hash)
    }

    pub fn insert(&self, token_hash: String, session: SessionRecord, user: User, memberships: Vec<Membership>) -> Arc<CachedSession> {
        let touched = session.times.last_seen_at.0;
        self.0.insert(token_hash, CachedSession { session, user, memberships, touched_at: AtomicI64::new(touched) })
    }

    pub fn evict(&self, token_hash: &str) {
        self.0.evict(token_hash)
    }

    pub fn evict_user(&self, user: UserId) {
        self.0.retain(|c| c.user.id != user)
    }

    /// Forgets everything (after role or membership changes, which any
    /// cached session may reflect).
    pub fn clear(&self) {
        self.0.clear()
    }
}

/// An automation with its access list, as the RBAC decision needs them.
pub type CachedAutomation = (Automation, AutomationAcl);
