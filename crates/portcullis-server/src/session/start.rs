//! Starting a session: a new id at every sign-in (the old one ends).

use super::cookies::{cookie, set_cookie};
use crate::error::{ApiError, ApiResult};
use crate::keys::{random_token, token_hash};
use crate::idp::session_link::IdpSessionInfo;
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use portcullis_domain::{SessionId, SessionTimes};
use portcullis_storage::{NewSession, User};

/// Starts a new session for `user` and returns its `Set-Cookie` header.
/// The session the browser had before (if any) is revoked: the id always
/// changes at sign-in, so a planted cookie cannot be upgraded.
pub async fn start_session(
    state: &AppState,
    user: &User,
    provider: &str,
    ip: Option<String>,
    headers: &HeaderMap,
    idp: Option<IdpSessionInfo>,
) -> ApiResult<HeaderValue> {
    let now = state.clock.now();
    if let Some(old) = cookie(headers, crate::session::cookies::session_cookie_name(state)) {
        let old_hash = token_hash(old);
        if let Some(rec) = state.store.find_session_by_token_hash(&old_hash).await? {
            state.store.revoke_session(rec.user_id, rec.id, now).await?;
        }
        crate::invalidation::broadcast(state, crate::invalidation::Invalidation::Session(old_hash.as_str().to_owned()));
    }
    let token = random_token();
    let policy = state.config.session;
    state
        .store
        .create_session(NewSession {
            id: SessionId::new(),
            token_hash: token_hash(&token),
            user_id: user.id,
            times: SessionTimes::start(now, &policy),
            provider: provider.to_owned(),
            ip,
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
            idp_sid: idp.as_ref().and_then(|i| i.sid.clone()),
            idp_name_id_hash: idp.as_ref().and_then(|i| i.name_id_hash.clone()),
            id_token_sealed: idp.map(|i| i.id_token_sealed),
        })
        .await?;
    let cookie = set_cookie(state, crate::session::cookies::session_cookie_name(state), &token, policy.absolute_lifetime.as_secs());
    HeaderValue::from_str(&cookie).map_err(ApiError::internal)
}
