//! The server's shared state: configuration, storage, keys, and the parts
//! that keep something in memory, each owning its own caches. Nothing here
//! imports a handler: the two parts defined above this layer
//! (`crate::signin::bearer_cache`, `crate::authserver::authority`) are
//! plain data.

pub use crate::cache::{CachedAutomation, CachedSession, SessionCache, TtlCache};
use crate::config::Config;
use crate::keys::Keys;
use crate::crypto::Sealer;
use crate::password::Passwords;
use crate::usage::UsageRecorder;
use portcullis_domain::{AutomationId, Clock, ThrottlePolicy};
use portcullis_storage::Store;
use std::ops::Deref;
use std::sync::Arc;

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
    /// The automations' own APIs (the kickoff proxy, health checks).
    pub upstream: crate::upstream_client::UpstreamClient,
    pub usage: UsageRecorder,
    /// The external identity providers (empty with `local` only).
    pub sso: Arc<crate::idp::Registry>,
    /// What the bearer path remembers: verified tokens and provisioned users.
    pub bearer: crate::signin::bearer_cache::BearerCache,
    /// The `local` provider's authorization server (keys, rate limits).
    pub oauth: crate::authserver::authority::LocalAuthority,
    /// Where cache invalidations for the other replicas are queued, once
    /// `crate::invalidation::spawn` runs (PostgreSQL only).
    pub invalidations: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<String>>,
    /// Whether the database was last seen away (the caches' circuit breaker).
    pub database: Arc<crate::database_status::DatabaseStatus>,
}

impl AppState {
    /// The server's state; fails when a SAML provider's SP key pair cannot
    /// be read or created.
    pub fn try_new(config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: Keys, sealer: Sealer) -> Result<Self, String> {
        crate::jwt_crypto::install();
        if !crate::jwt_crypto::installed() {
            tracing::warn!("a JWT was handled before the server's key-keeping crypto provider was installed; bearer tokens are verified on the stock provider, correct and slower");
        }
        let sessions = SessionCache::new(config.session_cache_ttl, 100_000);
        let config_ttl = config.session_cache_ttl;
        let upstream = crate::upstream_client::UpstreamClient::new(&config.trust, config.upstream.connect_timeout, config.upstream.timeout, 64)?;
        let usage = UsageRecorder::start(store.clone());
        let sso = Arc::new(crate::idp::Registry::new(&config)?);
        Ok(Self(Arc::new(Inner {
            config,
            store,
            clock,
            keys,
            sessions,
            automations: TtlCache::new("automations", config_ttl, 100_000),
            throttle: ThrottlePolicy::default(),
            passwords: Passwords::new(),
            sealer,
            upstream,
            usage,
            sso,
            bearer: crate::signin::bearer_cache::BearerCache::default(),
            oauth: crate::authserver::authority::LocalAuthority::default(),
            invalidations: std::sync::OnceLock::new(),
            database: Arc::default(),
        })))
    }
}

impl AppState {
    /// A cached entry to serve while the database is away: `fresh` when
    /// the cache has it, else `load` from the database unless it is known
    /// to be away, and on `database_unavailable` the stale entry if any
    /// (marking the database down).
    pub async fn cached_or_stale<T>(
        &self,
        fresh: Option<Arc<T>>,
        stale: impl Fn() -> Option<Arc<T>>,
        load: impl std::future::Future<Output = crate::error::ApiResult<Arc<T>>>,
    ) -> crate::error::ApiResult<Arc<T>> {
        if let Some(v) = fresh {
            return Ok(v);
        }
        if self.database.is_down() {
            if let Some(v) = stale() {
                return Ok(v);
            }
        }
        match load.await {
            Ok(v) => Ok(v),
            Err(e) if e.code == "database_unavailable" => {
                self.database.mark_down(self.store.clone());
                stale().ok_or(e)
            }
            Err(e) => Err(e),
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

