//! The `local` authorization server: signing keys, device authorizations
//! (RFC 8628) and refresh tokens.

use portcullis_domain::{Timestamp, TokenHash, UserId};

/// A key the `local` authorization server signs access tokens with.
#[derive(Clone)]
pub struct SigningKey {
    /// The key id (`kid`), an RFC 7638 thumbprint.
    pub kid: String,
    /// The JWS algorithm (`RS256`).
    pub alg: String,
    /// The private key, sealed with the installation key by the server.
    pub private_sealed: String,
    /// The public key as a JSON Web Key.
    pub public_jwk: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// `None` while it is the signing key.
    pub retired_at: Option<Timestamp>,
    /// Until when a retired key stays published.
    pub publish_until: Option<Timestamp>,
}

// The sealed private key stays out of logs even though it is encrypted.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).field("retired_at", &self.retired_at).finish_non_exhaustive()
    }
}

/// A device authorization request (RFC 8628 §3.1) being created.
#[derive(Clone, Debug)]
pub struct NewDeviceAuthorization {
    /// The device code's hash (the code itself is never stored).
    pub device_code_hash: TokenHash,
    /// The code the person types (normalised).
    pub user_code: String,
    /// The client that asked.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// The polling interval, in seconds.
    pub interval_secs: i64,
    /// The address that asked.
    pub client_ip: Option<String>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When the codes stop working.
    pub expires_at: Timestamp,
}

/// A device authorization as stored.
#[derive(Clone, Debug)]
pub struct DeviceAuthorization {
    /// The device code's hash.
    pub device_code_hash: TokenHash,
    /// The code the person types.
    pub user_code: String,
    /// The client that asked.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// Pending, approved, denied or redeemed.
    pub status: portcullis_domain::DeviceStatus,
    /// The polling interval, in seconds (raised by `slow_down`).
    pub interval_secs: i64,
    /// When the client last polled.
    pub last_polled_at: Option<Timestamp>,
    /// The address that asked.
    pub client_ip: Option<String>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When the codes stop working.
    pub expires_at: Timestamp,
}

impl DeviceAuthorization {
    /// What the poll decision needs of it.
    pub fn grant(&self) -> portcullis_domain::DeviceGrant {
        portcullis_domain::DeviceGrant {
            status: self.status,
            expires_at: self.expires_at,
            interval_secs: self.interval_secs,
            last_polled_at: self.last_polled_at,
        }
    }
}

/// A refresh token being issued: the first of a family (at login) or the
/// successor of a rotated one.
#[derive(Clone, Debug)]
pub struct NewRefreshToken {
    /// The token's hash.
    pub token_hash: TokenHash,
    /// Whose it is.
    pub user_id: UserId,
    /// The client it was issued to.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working if not used.
    pub expires_at: Timestamp,
    /// No token of the family is valid after this, however often rotated.
    pub family_expires_at: Timestamp,
}

/// A refresh token as stored (the successor, after a rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    /// The token's hash.
    pub token_hash: TokenHash,
    /// The login it belongs to: every rotation stays in the family, and reuse ends it.
    pub family_id: String,
    /// Whose it is.
    pub user_id: UserId,
    /// The client it was issued to.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// When it stops working if not used.
    pub expires_at: Timestamp,
    /// No token of the family works after this.
    pub family_expires_at: Timestamp,
}

/// A CLI login: one refresh-token family, from the device login through
/// every rotation since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshFamily {
    /// The family, as access tokens name it.
    pub family_id: String,
    /// The client that logged in (the CLI's device client).
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// When the device login happened.
    pub started_at: Timestamp,
    /// When its newest refresh token was issued (its last renewal).
    pub last_used_at: Timestamp,
    /// No token of the family works after this, however often renewed.
    pub expires_at: Timestamp,
}
