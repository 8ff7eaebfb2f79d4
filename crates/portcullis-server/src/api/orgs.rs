//! Organizations.

use crate::error::Created;
use super::{convert, Json};
use crate::audit::{self, Entry};
use crate::session::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use portcullis_api as api;
use portcullis_domain::{decide, validation, Action, Decision, Principal, RoleKind};

/// `GET /api/v1/organizations`: mine, or every one for a factory-admin.
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Vec<api::OrganizationInfo>>> {
    let orgs = if caller.ctx.user.factory_admin {
        state.store.list_orgs().await?
    } else {
        caller.ctx.memberships.iter().map(|m| m.org.clone()).collect()
    };
    Ok(axum::Json(orgs.iter().map(convert::org).collect()))
}

/// `POST /api/v1/organizations` (factory-admin): creates an organization with
/// the caller as its first owner.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<api::CreateOrganization>,
) -> ApiResult<Created<axum::Json<api::OrganizationInfo>>> {
    Ok(Created(axum::Json(convert::org(&create_org(&state, &caller, &body.name).await?))))
}

/// Creates an organization with `caller` (a factory-admin) as its first
/// owner (the API's `POST` and the Organizations page).
pub async fn create_org(state: &AppState, caller: &Caller, name: &str) -> ApiResult<portcullis_storage::Organization> {
    let user = &caller.ctx.user;
    let principal = Principal { user_id: user.id, factory_admin: user.factory_admin, org: None };
    if let Decision::Deny(d) = decide(&principal, Action::InstallationAdmin) {
        return Err(ApiError::forbidden(d));
    }
    let name = validation::name("name", name)?;
    let now = state.clock.now();
    let org = state.store.create_org(&name, now).await?;
    let owner = state.store.get_predefined_role(org.id, RoleKind::Owner).await?;
    state.store.create_member(org.id, user.id, owner.id, now).await?;
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserSessions(user.id));
    audit::record(state, Entry::new("organization.create", true).org(org.id).actor(user.id, &user.email).target(format!("organization:{}", org.id)).detail(serde_json::json!({ "name": name }))).await;
    Ok(org)
}
