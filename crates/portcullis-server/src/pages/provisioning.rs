//! Settings → Provisioning: the organization's SCIM tokens (what its
//! identity provider provisions people and groups with, at `/scim/v2`),
//! created here and shown once, listed and revoked. Needs
//! `organization_settings: manage`. Every operation is the API's own
//! (`scim::tokens`), so the checks and the audit entries are the same.

use crate::pages;
use crate::pages::scope::{self, OrgSwitch};
use crate::scim::tokens as ops;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_domain::{Action, Feature, Level};
use serde::Deserialize;

const AREA: &str = "Provisioning";

struct TokenRow {
    id: String,
    name: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "provisioning.html")]
struct ProvisioningView {
    switch: OrgSwitch,
    base_url: String,
    rows: Vec<TokenRow>,
    csrf_token: String,
    /// The token just created: (name, token), shown this once.
    created: Option<(String, String)>,
}

/// The page's query.
#[derive(Deserialize, Default)]
pub struct OrgQuery {
    #[serde(default)]
    org: String,
}

/// RFC 3339 (as the API answers) to the page's wording.
fn when(rfc3339: &str) -> String {
    rfc3339.replace('T', " ").trim_end_matches('Z').split('.').next().unwrap_or_default().to_owned() + " UTC"
}

async fn view(state: &AppState, headers: &HeaderMap, org: &str, created: Option<(String, String)>) -> Response {
    let scope = match scope::for_view(state, headers, org, "/settings/provisioning").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(r) = scope::refusal(&scope, Action::Feature(Feature::OrganizationSettings, Level::Manage), AREA) {
        return r;
    }
    let tokens = match ops::listed(state, &scope).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let rows = tokens
        .iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            name: t.name.clone(),
            created: when(&t.created_at),
            last_used: t.last_used_at.as_deref().map(when).unwrap_or_else(|| "never".into()),
            revoked: t.revoked_at.as_deref().map(when),
        })
        .collect();
    let view = ProvisioningView {
        switch: OrgSwitch::new(&scope, "/settings/provisioning"),
        base_url: format!("{}/scim/v2", state.config.public_url.as_str().trim_end_matches('/')),
        rows,
        csrf_token: scope.caller.csrf_token(state),
        created,
    };
    let nav = pages::nav::for_caller(state, &scope.caller, "/settings/provisioning");
    let mut resp = pages::render(AREA, &nav, &view);
    // The page may carry a token just created: never keep it in a cache.
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /settings/provisioning`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<OrgQuery>) -> Response {
    view(&state, &headers, &q.org, None).await
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
}

/// `POST /settings/provisioning/tokens`: the answer shows the token, once.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<OrgQuery>, Form(f): Form<CreateForm>) -> Response {
    let back = format!("/settings/provisioning?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match ops::create_token(&state, &scope, &f.name).await {
        Ok(c) => view(&state, &headers, &scope.org.id.to_string(), Some((c.info.name, c.token))).await,
        Err(e) => pages::forms::refused(e, &back),
    }
}

/// A form that only carries the CSRF token.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /settings/provisioning/tokens/{id}/revoke`.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<OrgQuery>, Form(f): Form<TokenForm>) -> Response {
    let back = format!("/settings/provisioning?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match ops::revoke_token(&state, &scope, &id).await {
        Ok(()) => Redirect::to(&scope::href(&scope, "/settings/provisioning")).into_response(),
        Err(e) => pages::forms::refused(e, &back),
    }
}
