//! Automations as far as access control goes: registration, visibility and
//! per-automation grants. Listings show only what the caller may see.

use crate::error::{Created, NoContent};
use super::{convert, parse_id, Json};
use crate::audit::{self, Entry};
use crate::session::OrgScope;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use portcullis_api as api;
use portcullis_domain::{
    decide, validation, Action, AutomationAccess, AutomationAcl, AutomationId, EntityPermission, Feature, Level,
    PermSet, RoleId, Subject, UserId, Visibility,
};
use portcullis_storage::{Automation, Grant, NewAutomation};

const MAX_DESCRIPTION: usize = 2000;
const MAX_TOKEN_BYTES: usize = 4096;

/// An upstream base URL: http or https, a host, no credentials, query or fragment.
fn upstream_url(state: &AppState, raw: &str) -> ApiResult<String> {
    const EX: &str = "e.g. https://research-crew.internal.example.com";
    let u = url::Url::parse(raw.trim())
        .map_err(|e| ApiError::bad_request("invalid_upstream_url", format!("upstream_url `{raw}` is not a URL ({e}); {EX}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(ApiError::bad_request("invalid_upstream_url", format!("upstream_url `{raw}` must be an http:// or https:// URL with a host; {EX}")));
    }
    if !u.username().is_empty() || u.password().is_some() || u.query().is_some() || u.fragment().is_some() {
        return Err(ApiError::bad_request(
            "invalid_upstream_url",
            format!("upstream_url must not carry credentials, a query or a fragment; give the token as upstream_token; {EX}"),
        ));
    }
    if let Err(why) = state.config.upstream.hosts.check(u.host_str().unwrap_or_default()) {
        return Err(ApiError::bad_request("upstream_not_allowed", format!("upstream_url `{raw}` is refused: {why}")));
    }
    Ok(u.as_str().trim_end_matches('/').to_owned())
}

fn upstream_token(raw: &str) -> ApiResult<&str> {
    if raw.trim().is_empty() || raw.len() > MAX_TOKEN_BYTES || raw.chars().any(|c| c.is_control() || c == ' ') {
        return Err(ApiError::bad_request(
            "invalid_upstream_token",
            format!("upstream_token must be the automation's bearer token: 1 to {MAX_TOKEN_BYTES} bytes, no spaces or control characters"),
        ));
    }
    Ok(raw)
}

fn visibility(raw: Option<&str>) -> ApiResult<Visibility> {
    match raw {
        None => Ok(Visibility::Organization),
        Some(v) => Visibility::parse(v).ok_or_else(|| {
            ApiError::bad_request("invalid_visibility", format!("visibility `{v}` is not valid; use `organization` or `private`"))
        }),
    }
}

/// Loads an automation with its access list and checks `access`; a private
/// automation the caller cannot see is 404, as if it did not exist.
pub async fn load(state: &AppState, scope: &OrgScope, raw_id: &str, access: AutomationAccess) -> ApiResult<Automation> {
    Ok(load_with_acl(state, scope, raw_id, access).await?.0)
}

/// [`load`], with the access list the decision read (pages offer what else
/// it allows).
pub async fn load_with_acl(state: &AppState, scope: &OrgScope, raw_id: &str, access: AutomationAccess) -> ApiResult<(Automation, AutomationAcl)> {
    let id: AutomationId = parse_id("automation", raw_id)?;
    // While the database is away, what was just served still is.
    let cached = state
        .cached_or_stale(state.automations.get(&id), || state.automations.get_stale(&id), async {
            let a = state.store.get_automation(scope.org.id, id).await?.ok_or_else(|| ApiError::not_found("automation"))?;
            let acl = state.store.get_acl(&a).await?;
            Ok(state.automations.insert(id, (a, acl)))
        })
        .await?;
    let (a, acl) = &*cached;
    if a.org_id != scope.org.id {
        return Err(ApiError::not_found("automation"));
    }
    scope.authorize(Action::Automation(acl, access), &format!("automation `{}`", a.name))?;
    Ok((a.clone(), acl.clone()))
}

/// The organization's automations the caller may view (private ones
/// without a grant are left out, as if they did not exist).
pub async fn visible(state: &AppState, scope: &OrgScope) -> ApiResult<Vec<Automation>> {
    Ok(state
        .store
        .list_automations_with_acls(scope.org.id)
        .await?
        .into_iter()
        .filter(|(_, acl)| decide(&scope.principal, Action::Automation(acl, AutomationAccess::View)).is_allowed())
        .map(|(a, _)| a)
        .collect())
}

/// `GET /api/v1/automations`: those the caller may view.
pub async fn list(State(state): State<AppState>, scope: OrgScope) -> ApiResult<axum::Json<Vec<api::AutomationInfo>>> {
    Ok(axum::Json(visible(&state, &scope).await?.iter().map(convert::automation).collect()))
}

/// `POST /api/v1/automations` (needs `crews_dashboards: read`). The creator
/// of a private automation gets `full_access` on it.
pub async fn create(
    State(state): State<AppState>,
    scope: OrgScope,
    Json(body): Json<api::CreateAutomation>,
) -> ApiResult<Created<axum::Json<api::AutomationInfo>>> {
    Ok(Created(axum::Json(convert::automation(&register(&state, &scope, body).await?))))
}

/// Registers an automation (the API's `POST` and the register page).
pub async fn register(state: &AppState, scope: &OrgScope, body: api::CreateAutomation) -> ApiResult<Automation> {
    scope.authorize(Action::Feature(Feature::CrewsDashboards, Level::Read), "automations")?;
    let name = validation::name("name", &body.name)?;
    if body.description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::bad_request("invalid_input", format!("description: longer than {MAX_DESCRIPTION} characters")));
    }
    let vis = visibility(body.visibility.as_deref())?;
    let url = upstream_url(state, &body.upstream_url)?;
    let token = upstream_token(&body.upstream_token)?;
    let actor = &scope.caller.ctx.user;
    let now = state.clock.now();
    let id = AutomationId::new();
    let a = state
        .store
        .create_automation(
            NewAutomation {
                id,
                org_id: scope.org.id,
                name: name.clone(),
                description: body.description,
                visibility: vis,
                created_by: Some(actor.id),
                upstream_token_sealed: Some(crate::upstream_policy::seal_token(&state.sealer, id, &url, token)),
                upstream_url: url,
            },
            now,
        )
        .await?;
    if vis == Visibility::Private {
        state.store.upsert_grant(scope.org.id, a.id, Subject::User(actor.id), PermSet::of(&[EntityPermission::FullAccess])).await?;
    }
    audit::record(state, Entry::new("automation.create", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("automation:{}", a.id)).detail(serde_json::json!({ "name": name, "visibility": vis.as_str() }))).await;
    Ok(a)
}

pub async fn get_one(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<axum::Json<api::AutomationInfo>> {
    let a = load(&state, &scope, &id, AutomationAccess::View).await?;
    Ok(axum::Json(convert::automation(&a)))
}

/// `PATCH /api/v1/automations/{id}` (needs `manage_settings`).
pub async fn update(
    State(state): State<AppState>,
    scope: OrgScope,
    Path(id): Path<String>,
    Json(body): Json<api::UpdateAutomation>,
) -> ApiResult<axum::Json<api::AutomationInfo>> {
    Ok(axum::Json(convert::automation(&edit(&state, &scope, &id, body).await?)))
}

/// Changes an automation's registration (the API's `PATCH` and its settings page).
pub async fn edit(state: &AppState, scope: &OrgScope, id: &str, body: api::UpdateAutomation) -> ApiResult<Automation> {
    let a = load(state, scope, id, AutomationAccess::ManageSettings).await?;
    let name = body.name.as_deref().map(|n| validation::name("name", n)).transpose()?;
    if body.description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        return Err(ApiError::bad_request("invalid_input", format!("description: longer than {MAX_DESCRIPTION} characters")));
    }
    let url = body.upstream_url.as_deref().map(|u| upstream_url(state, u)).transpose()?;
    // The token is the automation's key to its host, and goes with it: a
    // new scheme, host or port drops the stored token unless this request
    // gives one (the sealed token is bound to its origin besides, so an
    // old one could not be opened for the new host anyway).
    let target_url = url.clone().unwrap_or_else(|| a.upstream_url.clone());
    let moved = url.is_some() && crate::upstream_policy::origin(&target_url) != crate::upstream_policy::origin(&a.upstream_url);
    let sealed = match body.upstream_token.as_deref() {
        Some(t) => Some(crate::upstream_policy::seal_token(&state.sealer, a.id, &target_url, upstream_token(t)?)),
        None => None,
    };
    let dropped = moved && sealed.is_none() && a.upstream_token_sealed.is_some();
    let changed: Vec<&str> = [("name", name.is_some()), ("description", body.description.is_some()), ("upstream_url", url.is_some()), ("upstream_token", sealed.is_some())]
        .iter()
        .filter(|(_, c)| *c)
        .map(|(n, _)| *n)
        .collect();
    if changed.is_empty() {
        return Err(ApiError::bad_request("empty_update", "nothing to change: send name, description, upstream_url and/or upstream_token"));
    }
    let updated = state
        .store
        .update_automation(
            scope.org.id,
            a.id,
            portcullis_storage::AutomationUpdate { name, description: body.description, upstream_url: url, upstream_token_sealed: sealed, clear_upstream_token: moved },
            state.clock.now(),
        )
        .await?;
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::Automation(a.id));
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("automation.update", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("automation:{}", a.id)).detail(serde_json::json!({ "changed": changed, "upstream_token_dropped": dropped }))).await;
    Ok(updated)
}

/// `DELETE /api/v1/automations/{id}` (needs `manage_settings`).
pub async fn remove(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<NoContent> {
    unregister(&state, &scope, &id).await.map(|_| NoContent)
}

/// Deletes an automation (the API's `DELETE` and its settings page).
pub async fn unregister(state: &AppState, scope: &OrgScope, id: &str) -> ApiResult<Automation> {
    let a = load(state, scope, id, AutomationAccess::ManageSettings).await?;
    state.store.delete_automation(scope.org.id, a.id).await?;
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::Automation(a.id));
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("automation.delete", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("automation:{}", a.id)).detail(serde_json::json!({ "name": a.name }))).await;
    Ok(a)
}

fn access_info(a: &Automation, grants: &[Grant]) -> api::AutomationAccessInfo {
    api::AutomationAccessInfo {
        visibility: a.visibility.as_str().to_owned(),
        grants: grants
            .iter()
            .map(|g| {
                let (t, id) = match g.subject {
                    Subject::User(u) => ("user", u.0),
                    Subject::Role(r) => ("role", r.0),
                };
                api::GrantInfo {
                    subject_type: t.to_owned(),
                    subject_id: id,
                    permissions: g.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
                }
            })
            .collect(),
    }
}

/// `GET /api/v1/automations/{id}/access` (needs `manage_settings`).
pub async fn get_access(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<axum::Json<api::AutomationAccessInfo>> {
    let (a, grants) = access_of(&state, &scope, &id).await?;
    Ok(axum::Json(access_info(&a, &grants)))
}

/// An automation and its grants (needs `manage_settings`).
pub async fn access_of(state: &AppState, scope: &OrgScope, id: &str) -> ApiResult<(Automation, Vec<Grant>)> {
    let a = load(state, scope, id, AutomationAccess::ManageSettings).await?;
    let grants = state.store.list_grants(a.id).await?;
    Ok((a, grants))
}

/// `PUT /api/v1/automations/{id}/access`: replaces visibility and grants
/// (needs `manage_settings`). Every subject must belong to the organization.
pub async fn put_access(
    State(state): State<AppState>,
    scope: OrgScope,
    Path(id): Path<String>,
    Json(body): Json<api::AutomationAccessInfo>,
) -> ApiResult<axum::Json<api::AutomationAccessInfo>> {
    Ok(axum::Json(set_access(&state, &scope, &id, body).await?))
}

/// Replaces an automation's visibility and grants (the API's `PUT` and its
/// Visibility tab).
pub async fn set_access(state: &AppState, scope: &OrgScope, id: &str, body: api::AutomationAccessInfo) -> ApiResult<api::AutomationAccessInfo> {
    let a = load(state, scope, id, AutomationAccess::ManageSettings).await?;
    let vis = visibility(Some(&body.visibility))?;
    if body.grants.len() > 10_000 {
        return Err(ApiError::bad_request("too_many_grants", "at most 10000 grants per automation; grant to roles instead of many users"));
    }
    let mut grants = Vec::with_capacity(body.grants.len());
    for g in &body.grants {
        let subject = match g.subject_type.as_str() {
            "user" => {
                let u = UserId(g.subject_id);
                if state.store.get_member(scope.org.id, u).await?.is_none() {
                    return Err(ApiError::bad_request("unknown_subject", format!("user {} is not a member of this organization", g.subject_id)));
                }
                Subject::User(u)
            }
            "role" => {
                let r = RoleId(g.subject_id);
                if state.store.get_role(scope.org.id, r).await?.is_none() {
                    return Err(ApiError::bad_request("unknown_subject", format!("role {} does not exist in this organization", g.subject_id)));
                }
                Subject::Role(r)
            }
            other => {
                return Err(ApiError::bad_request("invalid_subject", format!("subject_type `{other}` is not valid; use `user` or `role`")))
            }
        };
        let mut perms = PermSet::EMPTY;
        for p in &g.permissions {
            perms = perms.with(p.parse::<EntityPermission>().map_err(|m| ApiError::bad_request("invalid_permission", m))?);
        }
        if perms.is_empty() {
            return Err(ApiError::bad_request("invalid_permission", format!("grant for {} {} lists no permission; leave the grant out instead", g.subject_type, g.subject_id)));
        }
        if grants.iter().any(|x: &Grant| x.subject == subject) {
            return Err(ApiError::bad_request("duplicate_subject", format!("{} {} appears twice; list each subject once", g.subject_type, g.subject_id)));
        }
        grants.push(Grant { subject, permissions: perms });
    }
    state.store.update_access(scope.org.id, a.id, vis, &grants, state.clock.now()).await?;
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::Automation(a.id));
    let actor = &scope.caller.ctx.user;
    let updated = Automation { visibility: vis, ..a };
    let info = access_info(&updated, &grants);
    audit::record(state, Entry::new("automation.access", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("automation:{}", updated.id)).detail(serde_json::to_value(&info).unwrap_or_default())).await;
    Ok(info)
}
