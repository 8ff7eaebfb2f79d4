//! Sealed transactions: what a sign-in or sign-out started (state, nonce,
//! PKCE verifier, request id, where to return) kept in a short-lived cookie
//! of this browser, sealed with the server key (AES-256-GCM) and bound to
//! what it is for by its associated data, so it can be neither read nor
//! moved to another provider or purpose. The one helper every protocol uses.

use super::cookies::cookie;
use crate::state::AppState;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// `name`, with the `__Host-` prefix over https.
pub fn cookie_name(state: &AppState, name: &str) -> String {
    let prefix = if state.config.https() { "__Host-" } else { "" };
    format!("{prefix}{name}")
}

/// A cookie that carries a SAML transaction across the trip to the IdP.
/// The IdP may answer with a cross-site POST, so the cookie must travel on
/// one: `SameSite=None; Secure` over https. Over plain http (local testing
/// only) `Secure` is impossible; without a SameSite attribute browsers
/// still send a cookie younger than two minutes on a top-level POST.
pub fn transaction_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> String {
    if state.config.https() {
        format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=None; Max-Age={max_age}")
    } else {
        format!("{name}={value}; Path=/; HttpOnly; Max-Age={max_age}")
    }
}

/// `tx` sealed with the server key for its cookie, bound to `aad`.
pub fn seal_transaction<T: Serialize>(state: &AppState, tx: &T, aad: &str) -> String {
    state.sealer.seal(&serde_json::to_vec(tx).expect("serializable"), aad)
}

/// The transaction in this browser's cookie `name`, if it opens under `aad`.
pub fn open_transaction<T: DeserializeOwned>(state: &AppState, headers: &HeaderMap, name: &str, aad: &str) -> Option<T> {
    let sealed = cookie(headers, name)?;
    serde_json::from_slice(&state.sealer.open(sealed, aad).ok()?).ok()
}
