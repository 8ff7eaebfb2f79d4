//! Throttling of failed sign-ins, per account and per client address.
//!
//! The counts come from the audit log (which every replica shares), so the
//! rule here is a pure function of "how many failures, and when was the last".

use crate::clock::Timestamp;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures counted over this window.
    pub window: Duration,
    /// Failures per account inside the window before sign-in is delayed.
    pub per_account: u32,
    /// Failures per client address inside the window before sign-in is delayed.
    pub per_address: u32,
    /// Delay after the first failure over the limit; doubles with each one
    /// after, up to `window`.
    pub base_delay: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            per_account: 5,
            per_address: 20,
            base_delay: Duration::from_secs(30),
        }
    }
}

/// Failed attempts inside the policy window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureStats {
    pub count: u32,
    pub last: Option<Timestamp>,
}

impl ThrottlePolicy {
    /// When the next attempt may be made, if it may not be made now.
    pub fn retry_at(&self, stats: FailureStats, limit: u32, now: Timestamp) -> Option<Timestamp> {
        let last = stats.last?;
        if stats.count < limit {
            return None;
        }
        let over = (stats.count - limit).min(16);
        let delay = self.base_delay.saturating_mul(1u32 << over).min(self.window);
        let at = last.plus(delay);
        (at > now).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_expire() {
        let p = ThrottlePolicy::default();
        let now = Timestamp(10_000_000);
        let s = |count| FailureStats { count, last: Some(now) };
        assert_eq!(p.retry_at(s(4), 5, now), None);
        assert_eq!(p.retry_at(s(5), 5, now), Some(now.plus(Duration::from_secs(30))));
        assert_eq!(p.retry_at(s(6), 5, now), Some(now.plus(Duration::from_secs(60))));
        assert_eq!(p.retry_at(s(60), 5, now), Some(now.plus(p.window)));
        assert_eq!(p.retry_at(s(5), 5, now.plus(Duration::from_secs(31))), None);
        assert_eq!(p.retry_at(FailureStats::default(), 5, now), None);
    }
}
