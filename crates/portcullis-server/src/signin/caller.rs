//! `FromRequestParts` for [`Caller`]: a bearer token (verified here) or the
//! session cookie, with CSRF protection on state changes.

use super::bearer;
use crate::error::{ApiError, Status};
use crate::session::request::{check_same_origin, is_unsafe};
use crate::session::Caller;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer::from_header(&parts.headers)? {
            return bearer::caller(state, token).await;
        }
        let caller = Caller::from_headers(state, &parts.headers).await?;
        if is_unsafe(&parts.method) {
            check_same_origin(state, &parts.headers)?;
            let presented = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if !state.keys.verify_csrf("session", &caller.ctx.session.id.to_string(), presented) {
                return Err(ApiError::new(
                    Status::Forbidden,
                    "csrf",
                    "missing or wrong X-CSRF-Token header: requests that change state with a session cookie must send the csrf_token that GET /api/v1/me returns",
                ));
            }
        }
        Ok(caller)
    }
}
