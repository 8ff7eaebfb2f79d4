//! Session lifecycle rules: idle timeout, absolute lifetime, revocation.

use crate::clock::Timestamp;
use std::time::Duration;

/// How long sessions live. Defaults: 8 hours idle, 24 hours absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after it started, however active.
    pub absolute_lifetime: Duration,
    /// `last_seen_at` is written back at most this often, so that a busy
    /// session does not turn every read into a write.
    pub touch_interval: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(8 * 3600),
            absolute_lifetime: Duration::from_secs(24 * 3600),
            touch_interval: Duration::from_secs(60),
        }
    }
}

/// The times that decide whether a session is still good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimes {
    /// When the session started.
    pub created_at: Timestamp,
    /// When it was last used (written back at most every `touch_interval`).
    pub last_seen_at: Timestamp,
    /// When it ends at the latest (start plus the absolute lifetime).
    pub expires_at: Timestamp,
    /// When it was signed out or revoked.
    pub revoked_at: Option<Timestamp>,
}

/// Whether a session may still be used, and if not why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    /// Usable.
    Active,
    /// Signed out or revoked.
    Revoked,
    /// Past its absolute lifetime.
    Expired,
    /// Unused for longer than the idle timeout.
    IdleTimedOut,
}

impl SessionTimes {
    /// A session that starts now.
    pub fn start(now: Timestamp, policy: &SessionPolicy) -> Self {
        Self {
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus(policy.absolute_lifetime),
            revoked_at: None,
        }
    }

    /// Where the session stands at `now` under `policy`.
    pub fn status(&self, now: Timestamp, policy: &SessionPolicy) -> SessionStatus {
        if self.revoked_at.is_some() {
            SessionStatus::Revoked
        } else if now >= self.expires_at {
            SessionStatus::Expired
        } else if now.since(self.last_seen_at) >= policy.idle_timeout {
            SessionStatus::IdleTimedOut
        } else {
            SessionStatus::Active
        }
    }

    /// Whether `last_seen_at` should be written back now.
    pub fn needs_touch(&self, now: Timestamp, policy: &SessionPolicy) -> bool {
        now.since(self.last_seen_at) >= policy.touch_interval
    }

    /// When the session ends if it is not used again.
    pub fn ends_at(&self, policy: &SessionPolicy) -> Timestamp {
        self.expires_at.min(self.last_seen_at.plus(policy.idle_timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    #[test]
    fn lifecycle() {
        let p = SessionPolicy::default();
        let t0 = Timestamp(1_000_000);
        let mut s = SessionTimes::start(t0, &p);
        assert_eq!(s.status(t0, &p), SessionStatus::Active);
        assert_eq!(s.status(t0.plus(Duration::from_secs(8 * H - 1)), &p), SessionStatus::Active);
        assert_eq!(s.status(t0.plus(Duration::from_secs(8 * H)), &p), SessionStatus::IdleTimedOut);
        // Used every 7 hours it still ends after 24 hours.
        for k in 1..4 {
            s.last_seen_at = t0.plus(Duration::from_secs(7 * H * k));
        }
        assert_eq!(s.status(t0.plus(Duration::from_secs(23 * H)), &p), SessionStatus::Active);
        assert_eq!(s.status(t0.plus(Duration::from_secs(24 * H)), &p), SessionStatus::Expired);
        s.revoked_at = Some(t0);
        assert_eq!(s.status(t0, &p), SessionStatus::Revoked);
    }

    #[test]
    fn touch_is_throttled() {
        let p = SessionPolicy::default();
        let t0 = Timestamp(0);
        let s = SessionTimes::start(t0, &p);
        assert!(!s.needs_touch(t0.plus(Duration::from_secs(59)), &p));
        assert!(s.needs_touch(t0.plus(Duration::from_secs(60)), &p));
        assert_eq!(s.ends_at(&p), t0.plus(Duration::from_secs(8 * H)));
    }
}
