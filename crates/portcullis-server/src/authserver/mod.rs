//! The `local` provider as an OAuth 2.0 authorization server, so that the
//! CLI can log in without any external identity provider.
//!
//! It speaks the WorkOS layout of the CLI wire contract (§2), so that
//! `/auth/parameters` can point even the platform's existing CLI at
//! Portcullis itself: `POST /oauth2/device_authorization` (RFC 8628 §3.1),
//! `POST /oauth2/token` (the device-code grant, RFC 8628 §3.4, and the
//! refresh-token grant, RFC 6749 §6, with rotation and reuse detection),
//! `POST /oauth2/revoke` (RFC 7009), `GET /oauth2/jwks` and the metadata at
//! `/.well-known/openid-configuration` and
//! `/.well-known/oauth-authorization-server` (RFC 8414). A signed-in user
//! approves a device on `GET /device`.
//!
//! - [`signing`]: the RS256 keys, kept in the database and rotated.
//! - [`device`]: device authorization and the verification page.
//! - [`token`]: the token and revocation endpoints, and access-token checks.

// The helpers here fail with the finished OAuth error answer (RFC 6749
// §5.2), returned once per request: boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod authority;
pub mod client;
pub mod device;
pub mod signing;
pub mod token;

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::time::Duration;

/// The scopes the local authority grants (what the CLIs ask for).
pub const SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

pub use crate::config::local_auth::LocalAuthConfig;

/// What the key ring needs of the server's state.
pub fn key_storage(state: &AppState) -> signing::KeyStorage<'_> {
    signing::KeyStorage { store: state.store.as_ref(), clock: state.clock.as_ref(), sealer: &state.sealer }
}

/// The issuer of local tokens: the public URL, without a trailing slash
/// (the WorkOS layout's `https://{domain}`).
pub fn issuer(state: &AppState) -> String {
    state.config.public("")
}

/// The audience of local access tokens: this server's API.
pub fn audience(state: &AppState) -> String {
    state.config.public("/api")
}

/// How long a retired key stays published: the longest-lived token it
/// signed, plus the verifiers' leeway and a minute of replica lag.
pub fn publish_retired_for(c: &LocalAuthConfig) -> Duration {
    c.access_token_ttl + Duration::from_secs(crate::idp::oidc::jwt::LEEWAY_SECS as u64 + 60)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/device_authorization", post(device::authorize))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/revoke", post(token::revoke))
        .route("/device", get(device::page).post(device::decide))
}

pub use crate::error::oauth::error as oauth_error;

/// A form-encoded request body (RFC 6749 §3.2: `application/x-www-form-urlencoded`,
/// and no parameter twice, §3.1).
pub fn parse_form(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<std::collections::HashMap<String, String>, Response> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(oauth_error("invalid_request", "send the parameters as application/x-www-form-urlencoded (RFC 6749 §4.1.3)"));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| oauth_error("invalid_request", "the body is not a valid form"))?;
    let mut map = std::collections::HashMap::new();
    for (k, v) in pairs {
        if map.contains_key(&k) {
            return Err(oauth_error("invalid_request", format!("parameter `{}` is given twice", k.chars().take(40).collect::<String>())));
        }
        map.insert(k, v);
    }
    Ok(map)
}

/// Refuses every endpoint when `local` is not a provider of this server.
pub fn disabled(state: &AppState) -> Option<Response> {
    (!state.config.sso.local).then(|| {
        oauth_error("not_found",
            "this server's own authorization server is off because `local` is not AUTH_PROVIDER nor in PORTCULLIS_AUTH_PROVIDERS; log in through the identity provider that /auth/parameters names",
        )
    })
}

/// RFC 8414 metadata (also served as OpenID discovery, which the CLIs read).
async fn metadata(State(state): State<AppState>) -> Response {
    if let Some(r) = disabled(&state) {
        return r;
    }
    let p = |path: &str| state.config.public(path);
    Json(serde_json::json!({
        "issuer": issuer(&state),
        "device_authorization_endpoint": p("/oauth2/device_authorization"),
        "token_endpoint": p("/oauth2/token"),
        "revocation_endpoint": p("/oauth2/revoke"),
        "jwks_uri": p("/oauth2/jwks"),
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": SCOPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "email", "name"],
    }))
    .into_response()
}

/// `GET /oauth2/jwks`: the active key and the retired ones whose tokens may
/// still be in use. Cacheable for a minute only: after a rotation, clients
/// must see the new key soon.
async fn jwks(State(state): State<AppState>) -> Response {
    if let Some(r) = disabled(&state) {
        return r;
    }
    match state.oauth.keys.current(key_storage(&state)).await {
        Ok(set) => {
            let mut r = Json(set.jwks.clone()).into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
            r
        }
        Err(e) => crate::error::ApiError::internal(e).into_response(),
    }
}

/// Replaces the signing key when due (from the hourly housekeeping).
pub async fn rotate_keys_if_due(state: &AppState) {
    if !state.config.sso.local {
        return;
    }
    let c = &state.config.local_auth;
    match state.oauth.keys.rotate_if_due(key_storage(state), c.key_rotation, publish_retired_for(c)).await {
        Ok(true) => crate::invalidation::broadcast(state, crate::invalidation::Invalidation::SigningKeys),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "signing key rotation failed; the current key stays in use"),
    }
}
