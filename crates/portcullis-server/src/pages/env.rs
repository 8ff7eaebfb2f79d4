//! Environment variables (secrets): organization-wide and per automation,
//! values masked. Those with `environment_variables: manage` set, rotate,
//! reveal and delete them; per-automation ones also need `manage_settings`
//! on the automation. A reveal is a POST (it is recorded in the audit log)
//! and its answer is never cached. Every operation is the API's own
//! (`api::env`), so the checks and the audit entries are the same.

use crate::api::env as ops;
use crate::pages;
use crate::pages::scope::{self, OrgSwitch};
use crate::state::AppState;
use crate::timestamps::human;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_api as api;
use portcullis_domain::{Action, Feature, Level};
use serde::Deserialize;
use std::collections::HashMap;

struct VarRow {
    id: String,
    name: String,
    /// The automation's name, empty for organization-wide.
    scope: String,
    automation_id: String,
    bytes: i64,
    updated: String,
    by: String,
}

#[derive(askama::Template)]
#[template(path = "env.html")]
struct EnvView {
    switch: OrgSwitch,
    rows: Vec<VarRow>,
    /// Automations a variable may be set for: (id, name).
    automations: Vec<(String, String)>,
    csrf_token: String,
    saved: Option<String>,
}

/// The page's query.
#[derive(Deserialize, Default)]
pub struct EnvQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    saved: Option<String>,
}

const AREA: &str = "Environment variables";

/// `GET /env`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<EnvQuery>) -> Response {
    let scope = match scope::for_view(&state, &headers, &q.org, "/env").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(r) = scope::refusal(&scope, Action::Feature(Feature::EnvironmentVariables, Level::Manage), AREA) {
        return r;
    }
    let (vars, automations, members) = match tokio::try_join!(
        ops::listed(&state, &scope),
        crate::api::automations::visible(&state, &scope),
        async { state.store.list_members(scope.org.id).await.map_err(crate::error::ApiError::from) },
    ) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let names: HashMap<String, String> = automations.iter().map(|a| (a.id.to_string(), a.name.clone())).collect();
    let people: HashMap<_, _> = members.iter().map(|m| (m.user.id, m.user.display_name.clone())).collect();
    let mut rows: Vec<VarRow> = vars
        .iter()
        .map(|v| VarRow {
            id: v.id.to_string(),
            name: v.name.clone(),
            scope: v.automation_id.map(|a| names.get(&a.to_string()).cloned().unwrap_or_default()).unwrap_or_default(),
            automation_id: v.automation_id.map(|a| a.to_string()).unwrap_or_default(),
            bytes: v.value_bytes,
            updated: human(v.updated_at),
            by: v.updated_by.and_then(|u| people.get(&u).cloned()).unwrap_or_else(|| "—".into()),
        })
        .collect();
    // Organization-wide first, then by automation, each by name.
    rows.sort_by_key(|r| (!r.scope.is_empty(), r.scope.to_lowercase(), r.name.clone()));
    let view = EnvView {
        switch: OrgSwitch::new(&scope, "/env"),
        rows,
        automations: automations.iter().map(|a| (a.id.to_string(), a.name.clone())).collect(),
        csrf_token: scope.caller.csrf_token(&state),
        saved: q.saved,
    };
    let nav = pages::nav::for_caller(&state, &scope.caller, "/env");
    pages::render(AREA, &nav, &view)
}

/// The Set and Rotate forms.
#[derive(Deserialize)]
pub struct SetForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
    /// An automation's id, or empty for organization-wide.
    #[serde(default)]
    automation_id: String,
}

/// The page's forms' query.
#[derive(Deserialize, Default)]
pub struct OrgQuery {
    #[serde(default)]
    org: String,
}

/// `POST /env`: creates a variable, or rotates one (a new value, same name).
pub async fn set(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<OrgQuery>, Form(f): Form<SetForm>) -> Response {
    let back = format!("/env?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let automation_id = match f.automation_id.trim() {
        "" => None,
        a => match a.parse() {
            Ok(id) => Some(id),
            Err(_) => return pages::message(crate::error::Status::BadRequest, "Not saved", "The automation chosen is not an id; pick one from the list.", Some((&back, "Back"))),
        },
    };
    let name = f.name.trim().to_owned();
    match ops::set(&state, &scope, api::PutEnvVar { name, value: f.value, automation_id }).await {
        Ok(v) => saved(&scope, &v.name),
        Err(e) => pages::forms::refused(e, &back),
    }
}

fn saved(scope: &crate::session::OrgScope, name: &str) -> Response {
    let q = serde_urlencoded::to_string([("org", scope.org.id.to_string().as_str()), ("saved", name)]).unwrap_or_default();
    Redirect::to(&format!("/env?{q}")).into_response()
}

/// A form that only carries the CSRF token.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

#[derive(askama::Template)]
#[template(path = "env_value.html")]
struct ValueView {
    name: String,
    value: String,
    back: String,
}

/// `POST /env/{id}/reveal`: the value, once, recorded in the audit log.
pub async fn reveal(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<OrgQuery>, Form(f): Form<TokenForm>) -> Response {
    let back = format!("/env?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match ops::reveal(&state, &scope, &id).await {
        Ok((v, value)) => {
            let nav = pages::nav::for_caller(&state, &scope.caller, "/env");
            let mut resp = pages::render(&format!("Value of {}", v.name), &nav, &ValueView { name: v.name.clone(), value, back: scope::href(&scope, "/env") });
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => pages::forms::refused(e, &back),
    }
}

/// `POST /env/{id}/delete`.
pub async fn delete(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<OrgQuery>, Form(f): Form<TokenForm>) -> Response {
    let back = format!("/env?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match ops::delete(&state, &scope, &id).await {
        Ok(_) => Redirect::to(&scope::href(&scope, "/env")).into_response(),
        Err(e) => pages::forms::refused(e, &back),
    }
}
