//! The authorization server's run-time parts, as plain data (held by the
//! server state): its signing keys and the device-request limiter.

use super::signing;
use crate::rate_limit::WindowLimiter;
use std::time::Duration;

/// The authority's run-time parts, shared by every request.
pub struct LocalAuthority {
    pub keys: signing::KeyRing,
    /// Device-code requests per client address (IPv6 by /64), per replica:
    /// a flood is turned away before it writes to the database.
    pub device_requests: WindowLimiter,
}

impl Default for LocalAuthority {
    fn default() -> Self {
        Self { keys: signing::KeyRing::default(), device_requests: WindowLimiter::new(30, Duration::from_secs(600)) }
    }
}

