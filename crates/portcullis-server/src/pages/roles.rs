//! Settings → Roles: the permission matrix of every role of an
//! organization, editable by those with `organization_settings: manage`
//! (viewing needs `invitations: read`, as `GET /api/v1/roles` does). The
//! changes go through the same operations as the API (`api::roles`), so a
//! change holds from the next request.

use crate::api::roles::{create_role, delete_role, update_role};
use crate::error::Status;
use crate::pages;
use crate::pages::scope::OrgSwitch;
use crate::session::{Caller, OrgScope};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_domain::{decide, Action, Decision, Feature, Level, OrgId, RoleId, RoleKind};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

struct RoleColumn {
    id: String,
    name: String,
    editable: bool,
    renamable: bool,
    deletable: bool,
}

struct Cell {
    role_id: String,
    role_name: String,
    level: &'static str,
    /// Every level the feature allows, and whether it is the role's.
    options: Vec<(&'static str, bool)>,
    editable: bool,
}

struct FeatureRow {
    name: &'static str,
    label: String,
    cells: Vec<Cell>,
}

#[derive(askama::Template)]
#[template(path = "roles.html")]
struct RolesView<'a> {
    switch: OrgSwitch,
    can_manage: bool,
    roles: Vec<RoleColumn>,
    features: Vec<FeatureRow>,
    csrf_token: &'a str,
    saved: Option<String>,
}

/// The query of the Roles pages: which organization, and what was saved.
#[derive(Deserialize)]
pub struct RolesQuery {
    org: Option<String>,
    saved: Option<String>,
}

/// A feature as the platform's pages name it.
fn label(f: Feature) -> String {
    match f {
        Feature::UsageDashboards => "Usage dashboards",
        Feature::CrewsDashboards => "Automations (crews) dashboards",
        Feature::Invitations => "Invitations and members",
        Feature::TrainingUi => "Training UI",
        Feature::Tools => "Tools",
        Feature::Agents => "Agents",
        Feature::EnvironmentVariables => "Environment variables",
        Feature::LlmConnections => "LLM connections",
        Feature::DefaultSettings => "Default settings",
        Feature::OrganizationSettings => "Organization settings",
        Feature::StudioProjects => "Studio projects",
    }
    .to_owned()
}

fn back(org: OrgId) -> String {
    format!("/settings/roles?org={org}")
}

async fn scope(state: &AppState, caller: Caller, org: Option<&str>) -> Result<OrgScope, Response> {
    pages::scope::in_org(state, caller, org.unwrap_or("")).await
}

/// `GET /settings/roles`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<RolesQuery>) -> Response {
    let Ok(caller) = Caller::from_headers(&state, &headers).await else {
        return Redirect::to("/auth/login?return_to=/settings/roles").into_response();
    };
    let scope = match scope(&state, caller, q.org.as_deref()).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if let Decision::Deny(d) = decide(&scope.principal, Action::Feature(Feature::Invitations, Level::Read)) {
        crate::telemetry::rbac_denied(&d);
        return pages::message(Status::Forbidden, "Not allowed", &format!("Roles: {d}."), Some(("/", "Home")));
    }
    let roles = match state.store.list_roles(scope.org.id).await {
        Ok(r) => r,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let can_manage = scope.allows(Action::Feature(Feature::OrganizationSettings, Level::Manage));
    let columns: Vec<RoleColumn> = roles
        .iter()
        .map(|r| RoleColumn {
            id: r.id.to_string(),
            name: r.name.clone(),
            editable: can_manage && r.kind != RoleKind::Owner,
            renamable: can_manage && r.kind == RoleKind::Custom,
            deletable: can_manage && r.kind == RoleKind::Custom,
        })
        .collect();
    let features = Feature::ALL
        .iter()
        .map(|&f| FeatureRow {
            name: f.as_str(),
            label: label(f),
            cells: roles
                .iter()
                .map(|r| {
                    let level = r.effective_permissions().get(f);
                    Cell {
                        role_id: r.id.to_string(),
                        role_name: r.name.clone(),
                        level: level.as_str(),
                        options: f.allowed_levels().iter().map(|l| (l.as_str(), *l == level)).collect(),
                        editable: can_manage && r.kind != RoleKind::Owner,
                    }
                })
                .collect(),
        })
        .collect();
    let csrf = scope.caller.csrf_token(&state);
    let nav = pages::nav::for_caller(&state, &scope.caller, "/settings/roles");
    let view = RolesView {
        switch: OrgSwitch::new(&scope, "/settings/roles"),
        can_manage,
        roles: columns,
        features,
        csrf_token: &csrf,
        saved: q.saved,
    };
    pages::render("Roles", &nav, &view)
}

/// A role's column of the matrix, as posted: its name (custom roles), and
/// a level per feature.
type Posted = HashMap<String, String>;

fn csrf_of(form: &Posted) -> &str {
    form.get("csrf_token").map(String::as_str).unwrap_or("")
}

/// The scope of a form post from the Roles page: its signed-in caller
/// (same origin, the session's CSRF token) in the organization of the
/// address.
async fn form_scope(state: &AppState, headers: &HeaderMap, form: &Posted, q: &RolesQuery) -> Result<OrgScope, Response> {
    let caller = pages::forms::caller(state, headers, csrf_of(form), "/settings/roles").await?;
    scope(state, caller, q.org.as_deref()).await
}

/// `POST /settings/roles/{id}`: saves one role's column.
pub async fn save(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Query(q): Query<RolesQuery>, Form(form): Form<Posted>) -> Response {
    let scope = match form_scope(&state, &headers, &form, &q).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let Ok(id) = id.parse::<RoleId>() else { return pages::message(Status::NotFound, "Not found", "No such role.", Some((&back(scope.org.id), "Back"))) };
    let permissions: BTreeMap<String, String> = form.iter().filter(|(k, _)| k.as_str() != "csrf_token" && k.as_str() != "name").map(|(k, v)| (k.clone(), v.clone())).collect();
    match update_role(&state, &scope, id, form.get("name").map(String::as_str), Some(&permissions)).await {
        Ok(role) => saved(scope.org.id, &role.name),
        Err(e) => pages::forms::refused(e, &back(scope.org.id)),
    }
}

/// `POST /settings/roles/new`: a custom role with no permissions.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<RolesQuery>, Form(form): Form<Posted>) -> Response {
    let scope = match form_scope(&state, &headers, &form, &q).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let name = form.get("name").map(String::as_str).unwrap_or("");
    match create_role(&state, &scope, name, &BTreeMap::new()).await {
        Ok(role) => saved(scope.org.id, &role.name),
        Err(e) => pages::forms::refused(e, &back(scope.org.id)),
    }
}

/// `POST /settings/roles/{id}/delete`: a custom role nobody holds.
pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Query(q): Query<RolesQuery>, Form(form): Form<Posted>) -> Response {
    let scope = match form_scope(&state, &headers, &form, &q).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let Ok(id) = id.parse::<RoleId>() else { return pages::message(Status::NotFound, "Not found", "No such role.", Some((&back(scope.org.id), "Back"))) };
    match delete_role(&state, &scope, id).await {
        Ok(()) => Redirect::to(&back(scope.org.id)).into_response(),
        Err(e) => pages::forms::refused(e, &back(scope.org.id)),
    }
}

fn saved(org: OrgId, role: &str) -> Response {
    let q = serde_urlencoded::to_string([("org", org.to_string().as_str()), ("saved", role)]).unwrap_or_default();
    Redirect::to(&format!("/settings/roles?{q}")).into_response()
}
