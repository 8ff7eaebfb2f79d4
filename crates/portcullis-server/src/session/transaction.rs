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

/// `tx` sealed with the server key for its cookie, bound to `aad`.
pub fn seal_transaction<T: Serialize>(state: &AppState, tx: &T, aad: &str) -> String {
    state.sealer.seal(&serde_json::to_vec(tx).expect("serializable"), aad)
}

/// The transaction in this browser's cookie `name`, if it opens under `aad`.
pub fn open_transaction<T: DeserializeOwned>(state: &AppState, headers: &HeaderMap, name: &str, aad: &str) -> Option<T> {
    let sealed = cookie(headers, name)?;
    serde_json::from_slice(&state.sealer.open(sealed, aad).ok()?).ok()
}
