//! Bounded caches with a time to live: what this replica serves from memory
//! for a short while (sessions, automations, verified tokens), so that a
//! change made on another replica takes effect within the TTL.

use portcullis_domain::{AutomationAcl, UserId};
use portcullis_storage::{Automation, Membership, SessionRecord, User};
use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A session as loaded from storage, with its user and memberships.
pub struct CachedSession {
    pub session: SessionRecord,
    pub user: User,
    pub memberships: Vec<Membership>,
    /// Last time `last_seen_at` was written back (ms), so that a cached
    /// session is touched once per interval, not once per request.
    pub touched_at: AtomicI64,
}

/// How long past its TTL an entry may still serve while the database is
/// unreachable ([`TtlCache::get_stale`]).
pub const STALE_IF_UNAVAILABLE: Duration = Duration::from_secs(60);

/// A bounded map whose entries are served for at most `ttl`. Used for
/// sessions and automations: changes on this replica evict at once, changes
/// on another replica take effect within `ttl`.
pub struct TtlCache<K, V> {
    /// Its name in the `portcullis_cache_lookups_total` metric.
    name: &'static str,
    ttl: Duration,
    max_entries: usize,
    map: Mutex<HashMap<K, (Arc<V>, Instant)>>,
}

impl<K: std::hash::Hash + Eq, V> TtlCache<K, V> {
    pub fn new(name: &'static str, ttl: Duration, max_entries: usize) -> Self {
        Self { name, ttl, max_entries, map: Mutex::new(HashMap::new()) }
    }

    pub fn get<Q>(&self, k: &Q) -> Option<Arc<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let found = {
            let map = self.map.lock().expect("cache lock");
            map.get(k).filter(|(_, at)| at.elapsed() < self.ttl).map(|(v, _)| v.clone())
        };
        crate::telemetry::cache_lookup(self.name, found.is_some());
        found
    }

    /// An entry past its TTL but younger than [`STALE_IF_UNAVAILABLE`]
    /// beyond it: only for when the database cannot be reached (RFC 5861's
    /// `stale-if-error`), so that what was just being served keeps working
    /// through a short outage. Revocations made before the outage reached
    /// this replica by notice and evicted the entry; those made during it
    /// cannot happen (they need the database).
    pub fn get_stale<Q>(&self, k: &Q) -> Option<Arc<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let map = self.map.lock().expect("cache lock");
        map.get(k).filter(|(_, at)| at.elapsed() < self.ttl + STALE_IF_UNAVAILABLE).map(|(v, _)| v.clone())
    }

    pub fn insert(&self, k: K, v: V) -> Arc<V> {
        let v = Arc::new(v);
        let mut map = self.map.lock().expect("cache lock");
        if map.len() >= self.max_entries {
            // Bounded memory: drop what has expired, and everything if that
            // was not enough (the cost is one database read per entry).
            let keep = self.ttl + STALE_IF_UNAVAILABLE;
            map.retain(|_, (_, at)| at.elapsed() < keep);
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
        Self(TtlCache::new("sessions", ttl, max_entries))
    }

    pub fn get(&self, token_hash: &str) -> Option<Arc<CachedSession>> {
        self.0.get(token_hash)
    }

    /// See [`TtlCache::get_stale`].
    pub fn get_stale(&self, token_hash: &str) -> Option<Arc<CachedSession>> {
        self.0.get_stale(token_hash)
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
