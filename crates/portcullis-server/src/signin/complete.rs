//! The one path every successful sign-in ends on, whatever proved who the
//! person is (a password, an OpenID provider's callback, a SAML assertion
//! handed over to `/auth/<p>/complete`, an accepted invitation, the first
//! setup): the session the browser had ends and a new one starts (a new id
//! at every sign-in, so a planted cookie is never upgraded), the audit log
//! and the usage dashboard hear of it, and the browser goes where it was
//! going.
//!
//! Bearer tokens share the provisioning step (`super::provision`) but start
//! no session: each request carries its token.

use crate::idp::error::SignInError;
use crate::audit::{self, Entry};
use crate::session::{start_session, IdpSessionInfo};
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_domain::UserId;
use portcullis_storage::User;

/// A sign-in that succeeded.
pub struct Success<'a> {
    pub user: &'a User,
    /// The provider's name (`local`, `okta`, a SAML provider's name).
    pub provider: &'a str,
    pub ip: Option<String>,
    /// What an IdP session keeps for signing out there.
    pub idp_session: Option<IdpSessionInfo>,
    /// The audit log's `login` entry (the pipeline adds who and from where).
    /// `None` where the session starts as part of creating the account
    /// (setup, an invitation accepted): their own entry records it, and the
    /// usage dashboard counts sign-ins, not account creations.
    pub login_audit: Option<Entry>,
    /// Already checked to be this server's own (`safe_return_to`).
    pub return_to: &'a str,
    /// Further `Set-Cookie` values (a spent form cookie cleared).
    pub also_set: Vec<String>,
}

/// Starts the session, records the sign-in and redirects to `return_to`.
pub async fn complete(state: &AppState, headers: &HeaderMap, s: Success<'_>) -> Result<Response, SignInError> {
    let user = s.user;
    let cookie = start_session(state, user, s.provider, s.ip.clone(), headers, s.idp_session)
        .await
        .map_err(|e| SignInError::Internal(format!("session: {}", e.message)))?;
    if let Some(entry) = s.login_audit {
        crate::telemetry::sign_in(s.provider, None);
        audit::record(state, entry.actor(user.id, &user.email).ip(s.ip)).await;
        record_attempt(state, Some(user.id), s.provider, true).await;
    }
    let mut resp = Redirect::to(s.return_to).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    for c in s.also_set.iter().filter_map(|c| HeaderValue::from_str(c).ok()) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// Counts a sign-in attempt on the usage dashboard, for each organization
/// of the account (installation-wide when the account is unknown).
pub async fn record_attempt(state: &AppState, user: Option<UserId>, provider: &str, success: bool) {
    crate::usage::record_signin(state.store.as_ref(), &state.usage, state.clock.now(), user, provider, success).await;
}
