//! Environment variables (secrets), organization-wide or per automation.
//! Values are sealed at rest (see `crypto.rs`) and never listed; reading one
//! needs `environment_variables: manage` (plus `manage_settings` on the
//! automation for per-automation variables) and is audited.

use crate::error::{Status, NoContent};
use super::{parse_id, Json};
use crate::audit::{self, Entry};
use crate::session::OrgScope;
use crate::crypto::aad;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use portcullis_api as api;
use portcullis_domain::{Action, AutomationAccess, AutomationId, Feature, Level};
use portcullis_storage::EnvVar;

pub const MAX_NAME: usize = 128;
pub const MAX_VALUE_BYTES: usize = 32 * 1024;
const MASK: &str = "********";

/// `[A-Z_][A-Z0-9_]*`, at most 128 characters.
pub fn valid_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().next().is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_name",
            format!("`{name}` is not a valid variable name: use upper-case letters, digits and `_`, not starting with a digit, at most {MAX_NAME} characters (e.g. OPENAI_API_KEY)"),
        ))
    }
}

/// Associated data binding a value to its row: organization, scope, name and id.
fn value_aad(v: &EnvVar) -> String {
    aad(&["env", &v.org_id.to_string(), &v.automation_id.map(|a| a.to_string()).unwrap_or_default(), &v.name, &v.id.to_string()])
}

pub fn seal(state: &AppState, v: &EnvVar, value: &[u8]) -> String {
    state.sealer.seal(value, &value_aad(v))
}

pub fn open(state: &AppState, v: &EnvVar) -> Result<Vec<u8>, crate::crypto::SealError> {
    state.sealer.open(&v.sealed_value, &value_aad(v))
}

fn info(v: &EnvVar) -> api::EnvVarInfo {
    api::EnvVarInfo {
        id: v.id,
        name: v.name.clone(),
        automation_id: v.automation_id.map(|a| a.0),
        masked_value: MASK.into(),
        value_bytes: v.value_bytes,
        updated_by: v.updated_by.map(|u| u.0),
        updated_at: super::convert::rfc3339(v.updated_at),
    }
}

/// Checks access to a per-automation variable's automation.
async fn automation_access(state: &AppState, scope: &OrgScope, id: AutomationId, access: AutomationAccess) -> ApiResult<()> {
    super::automations::load(state, scope, &id.to_string(), access).await.map(|_| ())
}

/// `GET /api/v1/env`: names, scopes, who changed them and when, masked
/// values. Per-automation variables appear only to those who can view the automation.
pub async fn list(State(state): State<AppState>, scope: OrgScope) -> ApiResult<axum::Json<Vec<api::EnvVarInfo>>> {
    Ok(axum::Json(listed(&state, &scope).await?.iter().map(info).collect()))
}

/// The variables the caller may know of: organization-wide ones, and those
/// of automations they can view.
pub async fn listed(state: &AppState, scope: &OrgScope) -> ApiResult<Vec<EnvVar>> {
    let visible: std::collections::HashSet<AutomationId> =
        super::automations::visible(state, scope).await?.into_iter().map(|a| a.id).collect();
    Ok(state.store.list_env(scope.org.id).await?.into_iter().filter(|v| v.automation_id.is_none_or(|a| visible.contains(&a))).collect())
}

/// `PUT /api/v1/env`: creates or replaces a variable (needs
/// `environment_variables: manage`, and `manage_settings` on the automation
/// for a per-automation variable).
pub async fn put(State(state): State<AppState>, scope: OrgScope, Json(body): Json<api::PutEnvVar>) -> ApiResult<axum::Json<api::EnvVarInfo>> {
    Ok(axum::Json(info(&set(&state, &scope, body).await?)))
}

/// Creates or replaces a variable (the API's `PUT` and the page's Set and Rotate).
pub async fn set(state: &AppState, scope: &OrgScope, body: api::PutEnvVar) -> ApiResult<EnvVar> {
    scope.authorize(Action::Feature(Feature::EnvironmentVariables, Level::Manage), "environment variables")?;
    valid_name(&body.name)?;
    if body.value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::bad_request("value_too_large", format!("the value is {} bytes; the limit is {MAX_VALUE_BYTES}", body.value.len())));
    }
    let automation_id = body.automation_id.map(AutomationId);
    if let Some(a) = automation_id {
        automation_access(state, scope, a, AutomationAccess::ManageSettings).await?;
    }
    // Keep the row's id when the variable exists (the id is sealed in).
    let existing = state.store.list_env(scope.org.id).await?.into_iter().find(|v| v.automation_id == automation_id && v.name == body.name);
    let actor = &scope.caller.ctx.user;
    let mut var = EnvVar {
        id: existing.as_ref().map(|e| e.id).unwrap_or_else(uuid::Uuid::new_v4),
        org_id: scope.org.id,
        automation_id,
        name: body.name.clone(),
        sealed_value: String::new(),
        value_bytes: body.value.len() as i64,
        updated_by: Some(actor.id),
        updated_at: state.clock.now(),
    };
    var.sealed_value = seal(state, &var, body.value.as_bytes());
    let stored = state.store.upsert_env(&var).await.map_err(|e| match e {
        portcullis_storage::StoreError::Conflict { .. } => ApiError::conflict("conflict", "this variable was created at the same moment by someone else; send the request again"),
        e => e.into(),
    })?;
    audit::record(
        state,
        Entry::new(if existing.is_some() { "env.update" } else { "env.create" }, true)
            .org(scope.org.id)
            .actor(actor.id, &actor.email)
            .target(format!("env:{}", stored.id))
            .detail(serde_json::json!({ "name": stored.name, "automation_id": stored.automation_id })),
    )
    .await;
    Ok(stored)
}

async fn find(state: &AppState, scope: &OrgScope, raw: &str, access: AutomationAccess) -> ApiResult<EnvVar> {
    scope.authorize(Action::Feature(Feature::EnvironmentVariables, Level::Manage), "environment variables")?;
    let id: uuid::Uuid = parse_id("variable", raw)?;
    let v = state.store.get_env(scope.org.id, id).await?.ok_or_else(|| ApiError::not_found("variable"))?;
    if let Some(a) = v.automation_id {
        automation_access(state, scope, a, access).await.map_err(|e| if e.status == Status::NotFound { ApiError::not_found("variable") } else { e })?;
    }
    Ok(v)
}

/// `GET /api/v1/env/{id}/value`: the clear value (audited).
pub async fn value(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<axum::Json<api::EnvVarValue>> {
    let (v, value) = reveal(&state, &scope, &id).await?;
    Ok(axum::Json(api::EnvVarValue { id: v.id, name: v.name, value }))
}

/// A variable's clear value, the reveal audited (the API's `value` and the page's Reveal).
pub async fn reveal(state: &AppState, scope: &OrgScope, id: &str) -> ApiResult<(EnvVar, String)> {
    let v = find(state, scope, id, AutomationAccess::ManageSettings).await?;
    let clear = open(state, &v).map_err(|e| ApiError::internal(format!("opening variable {}: {e}", v.id)))?;
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("env.read", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("env:{}", v.id)).detail(serde_json::json!({ "name": v.name }))).await;
    Ok((v, String::from_utf8_lossy(&clear).into_owned()))
}

/// `DELETE /api/v1/env/{id}`.
pub async fn remove(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<NoContent> {
    delete(&state, &scope, &id).await.map(|_| NoContent)
}

/// Deletes a variable (the API's `DELETE` and the page's Delete).
pub async fn delete(state: &AppState, scope: &OrgScope, id: &str) -> ApiResult<EnvVar> {
    let v = find(state, scope, id, AutomationAccess::ManageSettings).await?;
    state.store.delete_env(scope.org.id, v.id).await?;
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("env.delete", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("env:{}", v.id)).detail(serde_json::json!({ "name": v.name }))).await;
    Ok(v)
}
