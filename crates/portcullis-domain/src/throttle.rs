//! Throttling of failed sign-ins, per account and per client address.
//!
//! The counts come from the database (which every replica shares): the
//! failures inside the window, and the checks running right now, each
//! registered before its password is hashed. The rules here are pure
//! functions of those counts, so parallel guesses, on one replica or many,
//! cannot all pass a count taken before any of them failed.

use crate::clock::Timestamp;
use std::time::Duration;

/// How failed sign-ins slow down further attempts, per account and per client address.
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
    /// How many attempts failed.
    pub count: u32,
    /// When the last one did.
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

/// What one sign-in attempt sees when it asks to be checked, for the
/// account or for the address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pressure {
    /// Failed checks inside the window.
    pub failures: FailureStats,
    /// Checks running now, this attempt included (so at least 1).
    pub in_flight: u32,
}

/// Whether an attempt may have its password checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Check the password now.
    Check,
    /// Over the limit: not before then.
    WaitUntil(Timestamp),
    /// Under the limit only if the checks already running all succeed; try
    /// again in a moment.
    Busy,
}

impl ThrottlePolicy {
    /// At most `limit` failed-or-running checks inside the window; past the
    /// limit, one check at a time, after the growing delay of [`retry_at`](Self::retry_at).
    /// Serial attempts see exactly the delays `retry_at` gives; parallel
    /// ones cannot exceed the limit.
    pub fn admit(&self, p: Pressure, limit: u32, now: Timestamp) -> Admission {
        if p.failures.count.saturating_add(p.in_flight) <= limit {
            return Admission::Check;
        }
        match self.retry_at(p.failures, limit, now) {
            Some(at) => Admission::WaitUntil(at),
            None if p.in_flight <= 1 && p.failures.count >= limit => Admission::Check,
            None => Admission::Busy,
        }
    }
}

/// What the per-address limits count an address as: IPv4 addresses one by
/// one, IPv6 addresses by their /64, which is what one network (one
/// customer, one attacker) is given, so that cheap IPv6 addresses buy no
/// extra guesses or limiter entries.
pub fn address_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
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

    #[test]
    fn parallel_checks_cannot_pass_the_limit() {
        let p = ThrottlePolicy::default();
        let now = Timestamp(10_000_000);
        let at = |count, in_flight| Pressure { failures: FailureStats { count, last: (count > 0).then_some(now) }, in_flight };
        assert_eq!(p.admit(at(0, 1), 5, now), Admission::Check);
        assert_eq!(p.admit(at(0, 5), 5, now), Admission::Check);
        assert_eq!(p.admit(at(3, 2), 5, now), Admission::Check);
        assert_eq!(p.admit(at(0, 6), 5, now), Admission::Busy, "the sixth running check waits for the others");
        assert_eq!(p.admit(at(4, 2), 5, now), Admission::Busy);
        assert_eq!(p.admit(at(5, 1), 5, now), Admission::WaitUntil(now.plus(Duration::from_secs(30))));
        // After the delay, one check at a time.
        let later = now.plus(Duration::from_secs(31));
        assert_eq!(p.admit(at(5, 1), 5, later), Admission::Check);
        assert_eq!(p.admit(at(5, 2), 5, later), Admission::Busy);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let k = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(k("203.0.113.9"), "203.0.113.9");
        assert_eq!(k("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(k("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(k("2001:db8:1:3::1"), k("2001:db8:1:2::1"));
        assert_eq!(k("::ffff:198.51.100.7"), "198.51.100.7");
    }
}
