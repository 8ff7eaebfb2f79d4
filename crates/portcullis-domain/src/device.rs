//! The lifecycle of a device authorization (RFC 8628) issued by the `local`
//! provider, and the rules of its user codes.
//!
//! A device authorization starts `Pending`; the signed-in user approves or
//! denies it on the verification page; the CLI polls the token endpoint and
//! receives tokens exactly once (`Redeemed`). Every decision here is a pure
//! function of the stored record and the time, so it is tested without a
//! server or a database.

use crate::clock::Timestamp;
use crate::ids::UserId;
use std::time::Duration;

/// The user code's alphabet: 20 consonants, no vowels (no words can be
/// spelled) and none of the easily confused letters; RFC 8628 §6.1 suggests
/// exactly this set. Eight of them give 20^8 ≈ 2.6 × 10^10 codes.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code (shown as `XXXX-XXXX`).
pub const USER_CODE_LEN: usize = 8;

/// How long device codes live and how often clients may poll.
#[derive(Clone, Copy, Debug)]
pub struct DevicePolicy {
    /// The device code's lifetime (`expires_in`, RFC 8628 §3.2).
    pub expires_in: Duration,
    /// The minimum polling interval first granted (`interval`).
    pub interval: Duration,
    /// Added to the interval on every `slow_down` (RFC 8628 §3.5).
    pub slow_down_step: Duration,
}

impl Default for DevicePolicy {
    fn default() -> Self {
        Self { expires_in: Duration::from_secs(600), interval: Duration::from_secs(5), slow_down_step: Duration::from_secs(5) }
    }
}

/// Where a device authorization stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user to approve or deny on `/device`.
    Pending,
    /// Approved by this user; tokens may be issued once.
    Approved(UserId),
    /// The user refused.
    Denied,
    /// Tokens were issued; the device code cannot be used again.
    Redeemed,
}

/// A device authorization as the poll decision needs it.
#[derive(Clone, Copy, Debug)]
pub struct DeviceGrant {
    /// Where the authorization stands.
    pub status: DeviceStatus,
    /// When the device code stops being valid.
    pub expires_at: Timestamp,
    /// The interval this client must respect now, in seconds.
    pub interval_secs: i64,
    /// When the client last polled, for `slow_down`.
    pub last_polled_at: Option<Timestamp>,
}

/// The answer to one poll of the token endpoint (RFC 8628 §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// `authorization_pending`: ask again after the interval.
    Pending,
    /// `slow_down`: polled sooner than the interval allows; the interval
    /// becomes `new_interval_secs` for every later poll.
    SlowDown {
        /// The interval from now on, in seconds.
        new_interval_secs: i64,
    },
    /// `access_denied`: the user said no.
    Denied,
    /// `expired_token`: the device code ran out.
    Expired,
    /// Approved by this user: issue tokens (once).
    Issue(UserId),
    /// `invalid_grant`: the tokens were already issued for this code.
    AlreadyRedeemed,
}

/// Milliseconds of polling earlier than the interval that are forgiven:
/// a client sleeping exactly `interval` seconds arrives a little early
/// or late by network jitter, and must not be told to slow down for it.
const POLL_JITTER_MS: i64 = 1000;

/// Decides one poll. Expiry wins over everything but a redemption; a poll
/// arriving too early is told to slow down even when the answer is ready,
/// as the RFC lets the server insist on the interval.
pub fn poll(grant: &DeviceGrant, now: Timestamp, policy: &DevicePolicy) -> PollOutcome {
    if grant.status == DeviceStatus::Redeemed {
        return PollOutcome::AlreadyRedeemed;
    }
    if now >= grant.expires_at {
        return PollOutcome::Expired;
    }
    if let Some(last) = grant.last_polled_at {
        if now.0 - last.0 < grant.interval_secs * 1000 - POLL_JITTER_MS {
            return PollOutcome::SlowDown { new_interval_secs: grant.interval_secs + policy.slow_down_step.as_secs() as i64 };
        }
    }
    match grant.status {
        DeviceStatus::Pending => PollOutcome::Pending,
        DeviceStatus::Denied => PollOutcome::Denied,
        DeviceStatus::Approved(user) => PollOutcome::Issue(user),
        DeviceStatus::Redeemed => PollOutcome::AlreadyRedeemed,
    }
}

/// A user code from a source of random bytes, without modulo bias (bytes
/// of 240 and above are drawn again: 240 is the largest multiple of 20
/// that fits a byte).
pub fn user_code(mut random_byte: impl FnMut() -> u8) -> String {
    let mut code = String::with_capacity(USER_CODE_LEN);
    while code.len() < USER_CODE_LEN {
        let b = random_byte();
        if b < 240 {
            code.push(USER_CODE_ALPHABET[(b % 20) as usize] as char);
        }
    }
    code
}

/// `BCDFGHJK` as people read it: `BCDF-GHJK`.
pub fn display_user_code(code: &str) -> String {
    if code.len() == USER_CODE_LEN {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_owned()
    }
}

/// Why a typed user code cannot be one of ours.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserCodeError {
    /// The code has this many letters, not the expected number.
    #[error("a code has {USER_CODE_LEN} letters (like BCDF-GHJK); this one has {0}")]
    Length(usize),
    /// This character is not one of the code alphabet's.
    #[error("`{0}` cannot be in a code: codes use only the consonants BCDFGHJKLMNPQRSTVWXZ")]
    Character(char),
}

/// Normalizes what a person typed (RFC 8628 §6.1: case-insensitive, with
/// dashes and spaces ignored) to the stored form.
pub fn normalize_user_code(typed: &str) -> Result<String, UserCodeError> {
    let mut out = String::with_capacity(USER_CODE_LEN);
    for c in typed.chars() {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        let u = c.to_ascii_uppercase();
        if !u.is_ascii() || !USER_CODE_ALPHABET.contains(&(u as u8)) {
            return Err(UserCodeError::Character(c));
        }
        out.push(u);
        if out.len() > USER_CODE_LEN {
            break;
        }
    }
    if out.len() != USER_CODE_LEN {
        return Err(UserCodeError::Length(out.len()));
    }
    Ok(out)
}

/// What happened to a refresh token that was presented (RFC 6749 §6, with
/// rotation and reuse detection as in the OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshOutcome<T> {
    /// Valid and unused: it is now used, and its successor is `T`.
    Rotated(T),
    /// Already used once: someone holds a copy. The whole family (every
    /// token descended from the same login) has been revoked.
    Reused,
    /// Revoked (logout, account disabled, or an earlier reuse).
    Revoked,
    /// Past its lifetime.
    Expired,
    /// Never issued here.
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(status: DeviceStatus, last: Option<i64>) -> DeviceGrant {
        DeviceGrant { status, expires_at: Timestamp(600_000), interval_secs: 5, last_polled_at: last.map(Timestamp) }
    }

    #[test]
    fn polls_follow_rfc_8628() {
        let p = DevicePolicy::default();
        let user = UserId::new();
        assert_eq!(poll(&grant(DeviceStatus::Pending, None), Timestamp(1000), &p), PollOutcome::Pending);
        assert_eq!(poll(&grant(DeviceStatus::Pending, Some(1000)), Timestamp(6000), &p), PollOutcome::Pending);
        // Network jitter of under a second is forgiven, more is not.
        assert_eq!(poll(&grant(DeviceStatus::Pending, Some(1000)), Timestamp(5200), &p), PollOutcome::Pending);
        assert_eq!(poll(&grant(DeviceStatus::Pending, Some(1000)), Timestamp(4000), &p), PollOutcome::SlowDown { new_interval_secs: 10 });
        assert_eq!(poll(&grant(DeviceStatus::Approved(user), Some(1000)), Timestamp(2000), &p), PollOutcome::SlowDown { new_interval_secs: 10 });
        assert_eq!(poll(&grant(DeviceStatus::Approved(user), Some(1000)), Timestamp(7000), &p), PollOutcome::Issue(user));
        assert_eq!(poll(&grant(DeviceStatus::Denied, None), Timestamp(7000), &p), PollOutcome::Denied);
        assert_eq!(poll(&grant(DeviceStatus::Approved(user), None), Timestamp(600_000), &p), PollOutcome::Expired);
        assert_eq!(poll(&grant(DeviceStatus::Redeemed, None), Timestamp(700_000), &p), PollOutcome::AlreadyRedeemed);
    }

    #[test]
    fn user_codes_use_the_alphabet_without_bias() {
        let mut bytes = [255u8, 240, 0, 19, 20, 239, 1, 2, 3, 4].into_iter().cycle();
        let code = user_code(|| bytes.next().unwrap());
        assert_eq!(code.len(), USER_CODE_LEN);
        // 255 and 240 are drawn again; 0 -> B, 19 -> Z, 20 -> B, 239 -> Z.
        assert!(code.starts_with("BZBZ"), "{code}");
        assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        assert_eq!(display_user_code("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn typed_codes_are_normalized_or_explained() {
        assert_eq!(normalize_user_code(" bcdf-ghjk ").unwrap(), "BCDFGHJK");
        assert_eq!(normalize_user_code("BCDF GHJK").unwrap(), "BCDFGHJK");
        assert_eq!(normalize_user_code("BCDF-GHJ"), Err(UserCodeError::Length(7)));
        assert_eq!(normalize_user_code("BCDF-GHJKL"), Err(UserCodeError::Length(9)));
        assert_eq!(normalize_user_code("ABCD-FGHJ"), Err(UserCodeError::Character('A')));
        assert_eq!(normalize_user_code("BCDF-GHJ0"), Err(UserCodeError::Character('0')));
        assert!(normalize_user_code("BCDF-GHJÉ").is_err());
    }
}
