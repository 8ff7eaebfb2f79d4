//! The routes the platform's existing CLI calls (`cli-wire-contract.md`
//! §3 and §4), mapped onto Portcullis's organizations and automations with
//! the same RBAC. `X-Crewai-Organization-Id` selects the organization.

use crate::error::{Status, NoContent};
use crate::api::automations::load;
use crate::api::convert;
use crate::audit::{self, Entry};
use crate::session::{Caller, OrgScope};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use portcullis_domain::AutomationAccess;
use portcullis_storage::Automation;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/organizations", get(organizations))
        .route("/crews", get(list).post(not_here))
        .route("/crews/zip", post(not_here))
        .route("/crews/{uuid}", delete(remove))
        .route("/crews/{uuid}/status", get(status))
        .route("/crews/{uuid}/deploy", post(not_here))
        .route("/crews/{uuid}/logs/{log_type}", get(logs))
        .route("/crews/by-name/{name}", delete(remove_by_name))
        .route("/crews/by-name/{name}/status", get(status_by_name))
        .route("/crews/by-name/{name}/deploy", post(not_here))
        .route("/tools/login", post(not_here))
        .fallback(unknown)
}

/// `GET /crewai_plus/api/v1/me/organizations` → `[{"uuid", "name"}]`.
async fn organizations(caller: Caller) -> Json<Vec<Value>> {
    Json(caller.ctx.memberships.iter().map(|m| json!({ "uuid": m.org.id, "name": m.org.name })).collect())
}

fn crew(a: &Automation) -> Value {
    json!({
        "uuid": a.id,
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "status": a.health.state,
        "public_url": a.upstream_url,
        "visibility": a.visibility.as_str(),
        "created_at": convert::rfc3339(a.created_at),
        "updated_at": convert::rfc3339(a.updated_at),
    })
}

async fn list(State(state): State<AppState>, scope: OrgScope) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(crate::api::automations::visible(&state, &scope).await?.iter().map(crew).collect()))
}

async fn by_name(state: &AppState, scope: &OrgScope, name: &str, access: AutomationAccess) -> ApiResult<Automation> {
    let key = name.trim().to_lowercase();
    let a = state
        .store
        .list_automations(scope.org.id)
        .await?
        .into_iter()
        .find(|a| a.name.to_lowercase() == key)
        .ok_or_else(|| ApiError::not_found("crew"))?;
    // The same answer whether the crew does not exist or is private and hidden.
    load(state, scope, &a.id.to_string(), access).await.map_err(|e| if e.status == Status::NotFound { ApiError::not_found("crew") } else { e })
}

fn status_body(a: &Automation) -> Value {
    json!({ "name": a.name, "status": a.health.state, "reason": a.health.reason, "checked_at": a.health.checked_at.map(convert::rfc3339) })
}

async fn status(State(state): State<AppState>, scope: OrgScope, Path(uuid): Path<String>) -> ApiResult<Json<Value>> {
    let a = load(&state, &scope, &uuid, AutomationAccess::View).await?;
    Ok(Json(status_body(&a)))
}

async fn status_by_name(State(state): State<AppState>, scope: OrgScope, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let a = by_name(&state, &scope, &name, AutomationAccess::View).await?;
    Ok(Json(status_body(&a)))
}

/// Logs of a crew: Portcullis knows the executions it proxied (needs `traces`).
async fn logs(State(state): State<AppState>, scope: OrgScope, Path((uuid, log_type)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let a = load(&state, &scope, &uuid, AutomationAccess::Traces).await?;
    state.usage.flush().await;
    let execs = state.store.list_executions(a.id, 100).await?;
    Ok(Json(json!({ "log_type": log_type, "executions": execs.iter().map(convert::execution).collect::<Vec<_>>() })))
}

async fn delete_automation(state: &AppState, scope: &OrgScope, a: &Automation) -> ApiResult<NoContent> {
    state.store.delete_automation(scope.org.id, a.id).await?;
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::Automation(a.id));
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("automation.delete", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("automation:{}", a.id)).detail(json!({ "name": a.name, "via": "crewai_plus" }))).await;
    Ok(NoContent)
}

async fn remove(State(state): State<AppState>, scope: OrgScope, Path(uuid): Path<String>) -> ApiResult<NoContent> {
    let a = load(&state, &scope, &uuid, AutomationAccess::ManageSettings).await?;
    delete_automation(&state, &scope, &a).await
}

async fn remove_by_name(State(state): State<AppState>, scope: OrgScope, Path(name): Path<String>) -> ApiResult<NoContent> {
    let a = by_name(&state, &scope, &name, AutomationAccess::ManageSettings).await?;
    delete_automation(&state, &scope, &a).await
}

/// Building deployments is not Portcullis's job.
async fn not_here() -> ApiError {
    ApiError::new(
        Status::NotImplemented,
        "not_implemented",
        "Portcullis fronts automations deployed elsewhere and does not build deployments from a zip or a git repository. \
         Deploy the crew with your own tooling, then register it: POST /api/v1/automations with name, upstream_url and upstream_token.",
    )
}

async fn unknown(uri: axum::http::Uri) -> ApiError {
    ApiError::new(Status::NotFound, "not_found", format!("Portcullis does not implement {}; see /api/v1/openapi.json for its API", uri.path()))
}
