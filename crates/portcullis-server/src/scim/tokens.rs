//! `/api/v1/scim/tokens`: SCIM tokens, created by an owner (or a role with
//! `organization_settings: manage`), shown once, stored as a SHA-256 hash
//! (256 random bits need no salt), listed and revoked. Creation and
//! revocation are audited; every use is audited by `/scim/v2` itself.

use crate::api::{parse_id, Json};
use crate::audit::{self, Entry};
use crate::error::{ApiError, ApiResult, Created, NoContent};
use crate::session::OrgScope;
use crate::state::AppState;
use crate::timestamps::rfc3339;
use axum::extract::{Path, State};
use portcullis_api as api;
use portcullis_domain::{validation, Action, Feature, Level, TokenHash};
use portcullis_storage::{NewScimToken, ScimToken};

/// What every SCIM token starts with, so a leaked one is recognisable (and
/// secret scanners can be taught it).
pub const PREFIX: &str = "pcs_scim_";

fn info(t: &ScimToken) -> api::ScimTokenInfo {
    api::ScimTokenInfo { id: t.id, name: t.name.clone(), created_at: rfc3339(t.created_at), last_used_at: t.last_used_at.map(rfc3339), revoked_at: t.revoked_at.map(rfc3339) }
}

fn allowed(scope: &OrgScope) -> ApiResult<()> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "SCIM tokens")
}

/// `GET /api/v1/scim/tokens`.
pub async fn list(State(state): State<AppState>, scope: OrgScope) -> ApiResult<axum::Json<Vec<api::ScimTokenInfo>>> {
    Ok(axum::Json(listed(&state, &scope).await?))
}

/// The organization's tokens, newest first (shared with the Provisioning page).
pub async fn listed(state: &AppState, scope: &OrgScope) -> ApiResult<Vec<api::ScimTokenInfo>> {
    allowed(scope)?;
    Ok(state.store.list_scim_tokens(scope.org.id).await?.iter().map(info).collect())
}

/// `POST /api/v1/scim/tokens`: the answer carries the token, once.
pub async fn create(State(state): State<AppState>, scope: OrgScope, Json(body): Json<api::CreateScimToken>) -> ApiResult<Created<axum::Json<api::CreatedScimToken>>> {
    Ok(Created(axum::Json(create_token(&state, &scope, &body.name).await?)))
}

/// Creates a token named `name`; audited. The answer is the only time it is shown.
pub async fn create_token(state: &AppState, scope: &OrgScope, name: &str) -> ApiResult<api::CreatedScimToken> {
    allowed(scope)?;
    let name = validation::name("name", name.trim()).map_err(|e| ApiError::bad_request("invalid_input", format!("{e}; name the token after the identity provider that will use it, as in \"Okta\"")))?;
    let token = format!("{PREFIX}{}", crate::keys::random_token());
    let actor = &scope.caller.ctx.user;
    let new = NewScimToken { id: uuid::Uuid::new_v4(), org_id: scope.org.id, name: name.clone(), token_hash: TokenHash::of(&token), created_by: actor.id, created_at: state.clock.now() };
    let created = state.store.create_scim_token(&new).await?;
    audit::record(state, Entry::new("scim.token.create", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("scim-token:{}", created.id)).detail(serde_json::json!({ "name": name }))).await;
    let base_url = format!("{}/scim/v2", state.config.public_url.as_str().trim_end_matches('/'));
    Ok(api::CreatedScimToken { info: info(&created), token, base_url })
}

/// `DELETE /api/v1/scim/tokens/{id}`: refused at once on every replica
/// (each request checks the token in the database).
pub async fn revoke(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<NoContent> {
    revoke_token(&state, &scope, &id).await?;
    Ok(NoContent)
}

/// Revokes token `id` of the organization; audited.
pub async fn revoke_token(state: &AppState, scope: &OrgScope, id: &str) -> ApiResult<()> {
    allowed(scope)?;
    let id: uuid::Uuid = parse_id("SCIM token", id)?;
    if !state.store.revoke_scim_token(scope.org.id, id, state.clock.now()).await? {
        return Err(ApiError::not_found("SCIM token"));
    }
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("scim.token.revoke", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("scim-token:{id}"))).await;
    Ok(())
}
