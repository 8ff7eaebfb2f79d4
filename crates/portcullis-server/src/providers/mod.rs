//! Identity-provider settings, read from exactly the variables of the
//! platform's SSO documentation, one file per vendor for its quirks (URL
//! layout, where roles live, what the CLI is told).
//!
//! Each vendor derives its issuer (pinned: tokens from any other issuer are
//! refused), its discovery document's URL, the device-grant client and the
//! `/auth/parameters` answer of the CLI wire contract (§1). A missing or
//! malformed variable is a [`ConfigError`] in the documentation's own words:
//! which variable, and where its value is found in the IdP's console.

mod auth0;
mod entra_id;
mod keycloak;
mod okta;
mod workos;

use crate::config::{secret, ConfigError, Env};
use secrecy::SecretString;
use std::net::IpAddr;
use url::Url;

/// What one OpenID provider needs.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// `okta`, `entra_id`, `keycloak`, `auth0` or `workos`: also the path
    /// segment of the callback, `/auth/<provider>/callback`.
    pub provider: &'static str,
    /// Compared exactly with `iss` (OpenID Connect Core §3.1.3.7), so kept as
    /// a string: `https://host` and `https://host/` are different issuers.
    pub issuer: String,
    pub discovery_url: Url,
    pub client_id: String,
    /// `None` for public clients (WorkOS AuthKit uses PKCE only).
    pub client_secret: Option<SecretString>,
    /// The audience access tokens must carry (bearer tokens, the CLI).
    pub audience: Option<String>,
    /// The public client for the device grant (`*_DEVICE_AUTHORIZATION_CLIENT_ID`).
    pub device_client_id: Option<String>,
    /// Dotted path of the claim with roles (or groups); `PORTCULLIS_ROLES_CLAIM` overrides.
    pub roles_claim: String,
    /// The CLI contract's `domain` and `extra` (§1).
    pub cli_domain: String,
    pub cli_extra: serde_json::Value,
}

pub(crate) fn required(env: &Env, var: &str, where_to_find: &str, example: &str) -> Result<String, ConfigError> {
    match env.get(var).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(v) => Ok(v.to_owned()),
        None => Err(ConfigError { var: var.into(), problem: format!("is missing: {where_to_find}"), example: example.into() }),
    }
}

pub(crate) fn optional(env: &Env, var: &str) -> Option<String> {
    env.get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub(crate) fn required_secret(env: &Env, var: &str, where_to_find: &str) -> Result<SecretString, ConfigError> {
    secret(env, var, "<secret>")?.ok_or_else(|| ConfigError {
        var: var.into(),
        problem: format!("is missing: {where_to_find} (or give a file with {var}_FILE)"),
        example: "<secret>".into(),
    })
}

/// Hosts that may be reached over plain http (so that tests run on loopback).
fn loopback(host: &str) -> bool {
    host == "localhost" || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A provider base URL: `https://host[:port][/path]`, or `http://` for
/// loopback hosts only. A bare host (`your-tenant.auth0.com`) means https.
pub(crate) fn base_url(var: &str, raw: &str, example: &str) -> Result<Url, ConfigError> {
    let with_scheme = if raw.contains("://") { raw.to_owned() } else { format!("https://{raw}") };
    let bad = |problem: String| ConfigError { var: var.into(), problem, example: example.into() };
    let u = Url::parse(&with_scheme).map_err(|e| bad(format!("`{raw}` is not a URL or host name ({e})")))?;
    let host = u.host_str().ok_or_else(|| bad(format!("`{raw}` has no host")))?.to_owned();
    match u.scheme() {
        "https" => {}
        "http" if loopback(&host) => {}
        "http" => return Err(bad(format!("`{raw}` must use https:// (plain http is allowed for loopback hosts only)"))),
        s => return Err(bad(format!("`{raw}` has scheme {s}; use https://"))),
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Err(bad(format!("`{raw}` must not carry credentials, a query or a fragment")));
    }
    Ok(u)
}

/// `base` + `path`, with exactly one slash between them.
pub(crate) fn join(base: &Url, path: &str) -> Url {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push('/');
    s.push_str(path.trim_start_matches('/'));
    Url::parse(&s).expect("a valid base URL joined with a path stays valid")
}

pub(crate) fn discovery(issuer: &str) -> Url {
    Url::parse(&format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))).expect("issuer is a valid URL")
}

/// A root URL without the trailing slash `Url` always prints.
pub(crate) fn bare(u: &Url) -> String {
    u.as_str().trim_end_matches('/').to_owned()
}

/// The configured provider: `None` for the built-in `local` provider.
pub fn from_env(env: &Env) -> Result<Option<OidcSettings>, ConfigError> {
    let provider = optional(env, "AUTH_PROVIDER").unwrap_or_else(|| "local".into());
    let mut settings = match provider.as_str() {
        "local" => return Ok(None),
        "okta" => okta::from_env(env)?,
        "entra_id" => entra_id::from_env(env)?,
        "keycloak" => keycloak::from_env(env)?,
        "auth0" => auth0::from_env(env)?,
        "workos" => workos::from_env(env)?,
        other => {
            return Err(ConfigError {
                var: "AUTH_PROVIDER".into(),
                problem: format!("`{other}` is not a provider; valid values are entra_id, okta, workos, auth0, keycloak, local"),
                example: "local".into(),
            })
        }
    };
    if let Some(claim) = optional(env, "PORTCULLIS_ROLES_CLAIM") {
        if claim.split('.').any(str::is_empty) {
            return Err(ConfigError {
                var: "PORTCULLIS_ROLES_CLAIM".into(),
                problem: format!("`{claim}` is not a dotted claim path"),
                example: "realm_access.roles".into(),
            });
        }
        settings.roles_claim = claim;
    }
    Ok(Some(settings))
}

#[cfg(test)]
mod tests;
