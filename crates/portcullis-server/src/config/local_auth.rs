//! The `local` provider's authorization server settings: the CLI's client
//! id and the token lifetimes (`PORTCULLIS_CLI_CLIENT_ID`,
//! `PORTCULLIS_ACCESS_TOKEN_TTL`, ...).

use super::{ConfigError, Env};
use portcullis_domain::DevicePolicy;
use std::time::Duration;

/// `PORTCULLIS_CLI_*` and token lifetimes.
#[derive(Clone, Debug)]
pub struct LocalAuthConfig {
    /// The public client the CLIs use (`PORTCULLIS_CLI_CLIENT_ID`).
    pub client_id: String,
    pub access_token_ttl: Duration,
    /// A refresh token unused this long expires.
    pub refresh_idle: Duration,
    /// No refresh token of a login outlives this, however often rotated.
    pub refresh_lifetime: Duration,
    /// The signing key is replaced this often.
    pub key_rotation: Duration,
    pub device: DevicePolicy,
}

impl LocalAuthConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = |name: &str, default: Duration, example: &str| super::duration(env, name, default, example);
        let client_id = env.get("PORTCULLIS_CLI_CLIENT_ID").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).unwrap_or_else(|| "portcullis-cli".into());
        if !client_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) || client_id.len() > 100 {
            return Err(super::err("PORTCULLIS_CLI_CLIENT_ID", format!("`{client_id}` may only hold letters, digits, `-`, `_` and `.`"), "portcullis-cli"));
        }
        let c = LocalAuthConfig {
            client_id,
            access_token_ttl: d("PORTCULLIS_ACCESS_TOKEN_TTL", Duration::from_secs(600), "10m")?,
            refresh_idle: d("PORTCULLIS_REFRESH_TOKEN_IDLE_TIMEOUT", Duration::from_secs(14 * 86400), "14d")?,
            refresh_lifetime: d("PORTCULLIS_REFRESH_TOKEN_LIFETIME", Duration::from_secs(90 * 86400), "90d")?,
            key_rotation: d("PORTCULLIS_SIGNING_KEY_ROTATION", Duration::from_secs(30 * 86400), "30d")?,
            device: DevicePolicy::default(),
        };
        if c.access_token_ttl > Duration::from_secs(86400) {
            return Err(super::err("PORTCULLIS_ACCESS_TOKEN_TTL", "must be at most 1d: access tokens cannot be recalled before they expire", "10m"));
        }
        if c.refresh_idle > c.refresh_lifetime {
            return Err(super::err("PORTCULLIS_REFRESH_TOKEN_IDLE_TIMEOUT", "is longer than PORTCULLIS_REFRESH_TOKEN_LIFETIME, so it would never apply", "14d"));
        }
        if c.key_rotation < c.access_token_ttl * 2 {
            return Err(super::err("PORTCULLIS_SIGNING_KEY_ROTATION", "must be at least twice PORTCULLIS_ACCESS_TOKEN_TTL", "30d"));
        }
        Ok(c)
    }
}

