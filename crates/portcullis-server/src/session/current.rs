//! The signed-in caller of a request, from its session cookie.

use super::cookies::cookie;
use crate::error::{ApiError, ApiResult};
use crate::keys::token_hash;
use crate::state::{AppState, CachedSession};
use axum::http::HeaderMap;
use portcullis_domain::SessionStatus;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A signed-in caller, from the session cookie or a bearer token.
#[derive(Clone)]
pub struct Caller {
    /// The key of `ctx` in the session cache.
    pub token_hash: String,
    pub ctx: Arc<CachedSession>,
    /// Authenticated by `Authorization: Bearer` (no ambient credential, so
    /// no CSRF check; `ctx.session` stands for the token, not a stored session).
    pub bearer: bool,
}

impl Caller {
    /// Whether a form posted with this session came from one of our pages:
    /// same origin, and its `csrf_token` field is this session's.
    pub fn verify_form(&self, state: &AppState, headers: &HeaderMap, presented: &str) -> bool {
        super::request::check_same_origin(state, headers).is_ok() && state.keys.verify_csrf("session", &self.ctx.session.id.to_string(), presented)
    }

    /// The CSRF token of this session, for its pages' forms and for
    /// `X-CSRF-Token`.
    pub fn csrf_token(&self, state: &AppState) -> String {
        state.keys.csrf_token("session", &self.ctx.session.id.to_string())
    }

    /// Loads the session behind the cookie, from memory when fresh enough.
    pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
        let sign_in = state.config.public("/auth/login");
        let token = cookie(headers, crate::session::cookies::session_cookie_name(state))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized(format!("not signed in; sign in at {sign_in}")))?;
        let hash = token_hash(token);
        let now = state.clock.now();
        // While the database is away, a session this replica was just
        // serving keeps working (its status is still checked below).
        let ctx = state
            .cached_or_stale(state.sessions.get(hash.as_str()), || state.sessions.get_stale(hash.as_str()), async {
                let session = state.store.find_session_by_token_hash(&hash).await?.ok_or_else(|| {
                    ApiError::unauthorized(format!("this session does not exist (it was signed out, revoked or tampered with); sign in again at {sign_in}"))
                })?;
                let user = state.store.get_user(session.user_id).await?.ok_or_else(|| {
                    ApiError::unauthorized(format!("the account of this session was deleted; sign in again at {sign_in}"))
                })?;
                let memberships = state.store.list_memberships(user.id).await?;
                Ok(state.sessions.insert(hash.as_str().to_owned(), session, user, memberships))
            })
            .await?;
        match ctx.session.times.status(now, &state.config.session) {
            SessionStatus::Active => {}
            SessionStatus::Revoked => {
                return Err(ApiError::unauthorized(format!("this session was revoked; sign in again at {sign_in}")))
            }
            SessionStatus::Expired => {
                return Err(ApiError::unauthorized(format!(
                    "this session reached its maximum lifetime; sign in again at {sign_in}"
                )))
            }
            SessionStatus::IdleTimedOut => {
                return Err(ApiError::unauthorized(format!(
                    "this session ended after being idle too long; sign in again at {sign_in}"
                )))
            }
        }
        if ctx.user.is_disabled() {
            return Err(ApiError::unauthorized("this account is disabled; ask an organization owner to enable it"));
        }
        // Write `last_seen_at` back at most once per touch interval.
        let touched = ctx.touched_at.load(Ordering::Relaxed);
        if now.since(portcullis_domain::Timestamp(touched)) >= state.config.session.touch_interval
            && ctx.touched_at.compare_exchange(touched, now.0, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            let store = state.store.clone();
            let id = ctx.session.id;
            tokio::spawn(async move {
                if let Err(e) = store.update_session_last_seen(id, now).await {
                    tracing::warn!(error = %e, "could not record session activity");
                }
            });
        }
        Ok(Caller { token_hash: hash.as_str().to_owned(), ctx, bearer: false })
    }
}
