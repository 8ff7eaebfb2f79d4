//! Roles: the predefined Owner and Member, and custom roles.

use crate::error::{Created, NoContent};
use super::{convert, parse_id, Json};
use crate::audit::{self, Entry};
use crate::session::OrgScope;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use portcullis_api as api;
use portcullis_domain::{validation, Action, Feature, Level, Role, RoleId};
use std::collections::BTreeMap;

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
    let role = create_role(&state, &scope, &body.name, &body.permissions).await?;
    Ok(Created(axum::Json(convert::role(&role))))
}

/// `PATCH /api/v1/roles/{id}` (needs `organization_settings: manage`).
pub async fn update(
    State(state): State<AppState>,
    scope: OrgScope,
    Path(id): Path<String>,
    Json(body): Json<api::UpdateRole>,
) -> ApiResult<axum::Json<api::RoleInfo>> {
    let id: RoleId = parse_id("role", &id)?;
    let role = update_role(&state, &scope, id, body.name.as_deref(), body.permissions.as_ref()).await?;
    Ok(axum::Json(convert::role(&role)))
}

/// `DELETE /api/v1/roles/{id}`: custom roles that nobody holds.
pub async fn remove(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<NoContent> {
    let id: RoleId = parse_id("role", &id)?;
    delete_role(&state, &scope, id).await?;
    Ok(NoContent)
}

// The operations themselves, shared by the API and the Roles page.

/// Creates a custom role (needs `organization_settings: manage`); audited.
pub async fn create_role(state: &AppState, scope: &OrgScope, name: &str, permissions: &BTreeMap<String, String>) -> ApiResult<Role> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "roles")?;
    let name = validation::name("name", name)?;
    let perms = convert::permissions_in(permissions)?;
    let role = state.store.create_role(scope.org.id, &name, perms, state.clock.now()).await?;
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("role.create", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("role:{}", role.id)).detail(serde_json::json!({ "name": name, "permissions": convert::permissions(&perms) }))).await;
    Ok(role)
}

/// Renames a role and/or replaces its permissions (needs
/// `organization_settings: manage`); every cached session is dropped, so
/// the change holds from the next request on; audited.
pub async fn update_role(state: &AppState, scope: &OrgScope, id: RoleId, name: Option<&str>, permissions: Option<&BTreeMap<String, String>>) -> ApiResult<Role> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "roles")?;
    let name = name.map(|n| validation::name("name", n)).transpose()?;
    let perms = permissions.map(convert::permissions_in).transpose()?;
    if name.is_none() && perms.is_none() {
        return Err(ApiError::bad_request("empty_update", "nothing to change: send name and/or permissions"));
    }
    let role = state.store.update_role(scope.org.id, id, name.as_deref(), perms, state.clock.now()).await?;
    // Any cached session may hold this role.
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::AllSessions);
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("role.update", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("role:{id}")).detail(serde_json::json!({ "name": role.name, "permissions": convert::permissions(&role.permissions) }))).await;
    Ok(role)
}

/// Deletes a custom role nobody holds (needs `organization_settings: manage`); audited.
pub async fn delete_role(state: &AppState, scope: &OrgScope, id: RoleId) -> ApiResult<()> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "roles")?;
    state.store.delete_role(scope.org.id, id).await?;
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::AllSessions);
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("role.delete", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("role:{id}"))).await;
    Ok(())
}
