//! Sealed transactions: what a sign-in or sign-out started (state, nonce,
//! PKCE verifier, request id, where to return) kept in a short-lived cookie
//! of this browser, sealed with the server key (AES-256-GCM) and bound to
//! what it is for by its associated data, so it can be neither read nor
//! moved to another provider or purpose. The one helper every protocol uses.

use super::cookies::{cookie, cookie_name, set_cookie, transaction_cookie};
use crate::idp::provider::{Pending, PendingCookie};
use axum::http::HeaderValue;
use crate::state::AppState;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// `tx` sealed with the server key for its cookie, bound to `aad`.
pub fn seal_transaction<T: Serialize>(state: &AppState, tx: &T, aad: &str) -> String {
    state.sealer.seal(&serde_json::to_vec(tx).expect("serializable"), aad)
}

/// The transaction in this browser's cookie `name`, if it opens under `aad`.
pub fn open_transaction<T: DeserializeOwned>(state: &AppState, headers: &HeaderMap, name: &str, aad: &str) -> Option<T> {
    let sealed = cookie(headers, name)?;
    serde_json::from_slice(&state.sealer.open(sealed, aad).ok()?).ok()
}

/// The `Set-Cookie` that keeps an identity provider's pending transaction
/// in this browser until the IdP sends it back.
pub fn set_pending(state: &AppState, p: &Pending) -> Option<HeaderValue> {
    let sealed = state.sealer.seal(&p.value, &p.cookie.aad);
    HeaderValue::from_str(&pending_cookie(state, &p.cookie, &sealed, p.lifetime.as_secs())).ok()
}

/// The pending transaction this browser kept: `Some` (empty when it does
/// not open under its associated data) when the cookie is there.
pub fn read_pending(state: &AppState, headers: &HeaderMap, c: &PendingCookie) -> Option<Vec<u8>> {
    let sealed = cookie(headers, &cookie_name(state, &c.name))?;
    Some(state.sealer.open(sealed, &c.aad).unwrap_or_default())
}

/// The `Set-Cookie` that ends a pending transaction, used or not.
pub fn clear_pending(state: &AppState, c: &PendingCookie) -> Option<HeaderValue> {
    HeaderValue::from_str(&pending_cookie(state, c, "", 0)).ok()
}

fn pending_cookie(state: &AppState, c: &PendingCookie, value: &str, max_age: u64) -> String {
    let name = cookie_name(state, &c.name);
    if c.returns_by_post {
        transaction_cookie(state, &name, value, max_age)
    } else {
        set_cookie(state, &name, value, max_age)
    }
}
