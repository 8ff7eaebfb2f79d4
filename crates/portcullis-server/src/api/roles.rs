//! Roles: the predefined Owner and Member, and custom roles.

use crate::error::{Created, NoContent};
use super::{convert, parse_id, Json};
use crate::audit::{self, Entry};
use crate::session::OrgScope;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use portcullis_api as api;
use portcullis_domain::{validation, Action, Feature, Level, RoleId};

/// `GET /api/v1/roles` (needs `invitations: read`).
pub async fn list(State(state): State<AppState>, scope: OrgScope) -> ApiResult<axum::Json<Vec<api::RoleInfo>>> {
    scope.authorize(Action::Feature(Feature::Invitations, Level::Read), "roles")?;
    Ok(axum::Json(state.store.list_roles(scope.org.id).await?.iter().map(convert::role).collect()))
}

pub async fn get_one(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<axum::Json<api::RoleInfo>> {
    scope.authorize(Action::Feature(Feature::Invitations, Level::Read), "roles")?;
    let id: RoleId = parse_id("role", &id)?;
    let role = state.store.get_role(scope.org.id, id).await?.ok_or_else(|| ApiError::not_found("role"))?;
    Ok(axum::Json(convert::role(&role)))
}

/// `POST /api/v1/roles` (needs `organization_settings: manage`).
pub async fn create(
    State(state): State<AppState>,
    scope: OrgScope,
    Json(body): Json<api::CreateRole>,
) -> ApiResult<Created<axum::Json<api::RoleInfo>>> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "roles")?;
    let name = validation::name("name", &body.name)?;
    let perms = convert::permissions_in(&body.permissions)?;
    let role = state.store.create_role(scope.org.id, &name, perms, state.clock.now()).await?;
    let actor = &scope.caller.ctx.user;
    audit::record(&state, Entry::new("role.create", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("role:{}", role.id)).detail(serde_json::json!({ "name": name, "permissions": convert::permissions(&perms) }))).await;
    Ok(Created(axum::Json(convert::role(&role))))
}

/// `PATCH /api/v1/roles/{id}` (needs `organization_settings: manage`).
pub async fn update(
    State(state): State<AppState>,
    scope: OrgScope,
    Path(id): Path<String>,
    Json(body): Json<api::UpdateRole>,
) -> ApiResult<axum::Json<api::RoleInfo>> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "roles")?;
    let id: RoleId = parse_id("role", &id)?;
    let name = body.name.as_deref().map(|n| validation::name("name", n)).transpose()?;
    let perms = body.permissions.as_ref().map(convert::permissions_in).transpose()?;
    if name.is_none() && perms.is_none() {
        return Err(ApiError::bad_request("empty_update", "nothing to change: send name and/or permissions"));
    }
    let role = state.store.update_role(scope.org.id, id, name.as_deref(), perms, state.clock.now()).await?;
    // Any cached session may hold this role.
    state.sessions.clear();
    let actor = &scope.caller.ctx.user;
    audit::record(&state, Entry::new("role.update", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("role:{id}")).detail(serde_json::json!({ "name": role.name, "permissions": convert::permissions(&role.permissions) }))).await;
    Ok(axum::Json(convert::role(&role)))
}

/// `DELETE /api/v1/roles/{id}`: custom roles that nobody holds.
pub async fn remove(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<NoContent> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "roles")?;
    let id: RoleId = parse_id("role", &id)?;
    state.store.delete_role(scope.org.id, id).await?;
    state.sessions.clear();
    let actor = &scope.caller.ctx.user;
    audit::record(&state, Entry::new("role.delete", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("role:{id}"))).await;
    Ok(NoContent)
}
