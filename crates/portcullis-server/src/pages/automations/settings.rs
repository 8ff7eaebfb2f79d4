//! Registering an automation and editing its registration: name,
//! description, upstream URL and the upstream token. The token is typed
//! once and never shown again: the page says only whether one is set. Both
//! go through the API's operations (`api::automations::{register, edit,
//! unregister}`), so validation, the token's binding to its host and the
//! audit entries are the same.

use super::{open, tabs, AutomationQuery, Tab};
use crate::api::automations::{edit, load_with_acl, register, unregister};
use crate::pages;
use crate::pages::scope::{self, OrgSwitch};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_api as api;
use portcullis_domain::{Action, AutomationAccess, Feature, Level};
use serde::Deserialize;

#[derive(askama::Template)]
#[template(path = "automation_register.html")]
struct RegisterView {
    switch: OrgSwitch,
    csrf_token: String,
}

/// `GET /automations/new` (needs `crews_dashboards: read`, as registering does).
pub async fn new_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<AutomationQuery>) -> Response {
    let scope = match scope::for_view(&state, &headers, &q.org, "/automations/new").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(r) = scope::refusal(&scope, Action::Feature(Feature::CrewsDashboards, Level::Read), "Registering an automation") {
        return r;
    }
    let view = RegisterView { switch: OrgSwitch::new(&scope, "/automations/new"), csrf_token: scope.caller.csrf_token(&state) };
    let nav = pages::nav::for_caller(&state, &scope.caller, "/automations");
    pages::render("Register an automation", &nav, &view)
}

/// The register and settings forms, as posted.
#[derive(Deserialize)]
pub struct AutomationForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    upstream_url: String,
    #[serde(default)]
    upstream_token: String,
    #[serde(default)]
    visibility: Option<String>,
}

/// `POST /automations/new`.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<AutomationQuery>, Form(f): Form<AutomationForm>) -> Response {
    let back = format!("/automations/new?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = api::CreateAutomation { name: f.name, description: f.description, visibility: f.visibility, upstream_url: f.upstream_url, upstream_token: f.upstream_token };
    match register(&state, &scope, body).await {
        Ok(a) => Redirect::to(&scope::href(&scope, &format!("/automations/{}", a.id))).into_response(),
        Err(e) => pages::forms::refused(e, &back),
    }
}

#[derive(askama::Template)]
#[template(path = "automation_settings.html")]
struct SettingsView {
    name: String,
    tabs: Vec<Tab>,
    id: String,
    org_id: String,
    description: String,
    upstream_url: String,
    has_token: bool,
    csrf_token: String,
    saved: bool,
}

/// `GET /automations/{id}/settings` (needs `manage_settings`).
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<AutomationQuery>) -> Response {
    let (scope, a, acl) = match open(&state, &headers, &id, &q.org, &format!("/automations/{id}/settings"), AutomationAccess::ManageSettings).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let view = SettingsView {
        name: a.name.clone(),
        tabs: tabs(&scope, &acl, &a, "/settings"),
        id: a.id.to_string(),
        org_id: scope.org.id.to_string(),
        description: a.description.clone(),
        upstream_url: a.upstream_url.clone(),
        has_token: a.upstream_token_sealed.is_some(),
        csrf_token: scope.caller.csrf_token(&state),
        saved: q.saved.is_some(),
    };
    let nav = pages::nav::for_caller(&state, &scope.caller, "/automations");
    pages::render(&format!("Settings of {}", a.name), &nav, &view)
}

/// `POST /automations/{id}/settings`: what changed; an empty token field
/// keeps the token (unless the host changes, which drops it, as in the API).
pub async fn save(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<AutomationQuery>, Form(f): Form<AutomationForm>) -> Response {
    let back = format!("/automations/{id}/settings?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let current = match load_with_acl(&state, &scope, &id, AutomationAccess::ManageSettings).await {
        Ok((a, _)) => a,
        Err(e) => return pages::forms::refused(e, &back),
    };
    let changed = |new: String, old: &str| (new != old).then_some(new);
    let body = api::UpdateAutomation {
        name: changed(f.name, &current.name),
        description: changed(f.description, &current.description),
        upstream_url: changed(f.upstream_url.trim().trim_end_matches('/').to_owned(), &current.upstream_url),
        upstream_token: (!f.upstream_token.is_empty()).then_some(f.upstream_token),
    };
    if body.name.is_none() && body.description.is_none() && body.upstream_url.is_none() && body.upstream_token.is_none() {
        return Redirect::to(&scope::href(&scope, &format!("/automations/{id}/settings?saved=1"))).into_response();
    }
    match edit(&state, &scope, &id, body).await {
        Ok(a) => Redirect::to(&scope::href(&scope, &format!("/automations/{}/settings?saved=1", a.id))).into_response(),
        Err(e) => pages::forms::refused(e, &back),
    }
}

/// The delete form.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /automations/{id}/delete`.
pub async fn delete(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<AutomationQuery>, Form(f): Form<DeleteForm>) -> Response {
    let back = format!("/automations/{id}/settings?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match unregister(&state, &scope, &id).await {
        Ok(_) => Redirect::to(&scope::href(&scope, "/automations")).into_response(),
        Err(e) => pages::forms::refused(e, &back),
    }
}
