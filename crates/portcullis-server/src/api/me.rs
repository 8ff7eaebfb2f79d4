//! The caller's own account and sessions.

use crate::error::NoContent;
use super::{convert, parse_id};
use crate::session::Caller;
use crate::signout::own;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use portcullis_api as api;

/// `GET /api/v1/me`: who am I, my organizations and roles, and the CSRF
/// token for state-changing requests.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Json<api::Me> {
    let ctx = &caller.ctx;
    Json(api::Me {
        user: convert::user(&ctx.user),
        session: convert::session(&ctx.session, &state.config.session, true),
        organizations: ctx
            .memberships
            .iter()
            .map(|m| api::OrgMembershipInfo { id: m.org.id.0, name: m.org.name.clone(), role: convert::role(&m.role) })
            .collect(),
        csrf_token: caller.csrf_token(&state),
    })
}

/// `GET /api/v1/me/sessions`: my active sessions.
pub async fn sessions(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<api::SessionInfo>>> {
    let now = state.clock.now();
    let list = state.store.list_sessions(caller.ctx.user.id, now).await?;
    Ok(Json(
        list.iter()
            .filter(|s| s.times.status(now, &state.config.session) == portcullis_domain::SessionStatus::Active)
            .map(|s| convert::session(s, &state.config.session, s.id == caller.ctx.session.id))
            .collect(),
    ))
}

/// `DELETE /api/v1/me/sessions/{id}`: end one of my sessions (for example
/// one left open on another computer).
pub async fn revoke_session(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<NoContent> {
    let id = parse_id("session", &id)?;
    if !own::end_session(&state, &caller, id).await? {
        return Err(ApiError::not_found("session"));
    }
    Ok(NoContent)
}

/// `GET /api/v1/me/cli-logins`: my CLI logins (device logins and their renewals).
pub async fn cli_logins(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<api::CliLoginInfo>>> {
    Ok(Json(own::cli_logins(&state, &caller).await?.iter().map(convert::cli_login).collect()))
}

/// `DELETE /api/v1/me/cli-logins/{id}`: end one of my CLI logins.
pub async fn end_cli_login(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<NoContent> {
    if !own::end_cli_login(&state, &caller, &id).await? {
        return Err(ApiError::not_found("CLI login"));
    }
    Ok(NoContent)
}
