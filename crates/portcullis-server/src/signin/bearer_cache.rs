//! What the bearer path (`super::bearer`) keeps in memory, as plain data:
//! verified tokens by hash, each until its own `exp`, so a repeated token
//! costs no signature check; and recently provisioned IdP users, so fresh
//! tokens of the same person need no database write.

use crate::cache::TtlCache;
use portcullis_domain::{Timestamp, UserId};
use std::time::Duration;

/// The bearer verifier's two caches.
pub struct BearerCache {
    /// Verified tokens by SHA-256 of the token.
    pub tokens: TtlCache<[u8; 32], VerifiedToken>,
    /// (issuer, subject, sorted roles) -> account, for a minute.
    pub users: TtlCache<String, UserId>,
}

impl Default for BearerCache {
    fn default() -> Self {
        Self { tokens: TtlCache::new("verified_tokens", Duration::from_secs(24 * 3600), 100_000), users: TtlCache::new("provisioned_users", Duration::from_secs(60), 100_000) }
    }
}

/// A token that passed every check.
pub struct VerifiedToken {
    pub provider: &'static str,
    pub user_id: UserId,
    pub expires_at: Timestamp,
    /// Where the account's context sits in the session cache (per user and
    /// provider, not per token), computed once.
    pub context_key: String,
    /// The login a `local` token belongs to (its refresh-token family), so
    /// that revoking the login evicts the token from the cache.
    pub family: Option<String>,
}

impl VerifiedToken {
    pub fn new(provider: &'static str, user_id: UserId, expires_at: Timestamp) -> Self {
        Self { provider, user_id, expires_at, context_key: format!("bearer:{provider}:{user_id}"), family: None }
    }
}

