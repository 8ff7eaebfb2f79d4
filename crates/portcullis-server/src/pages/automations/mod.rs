//! The automations dashboard: the automations a person can see (decided per
//! automation by the domain, as the API's listing is), with health, last
//! execution and the last day's kickoffs and errors; searched, filtered and
//! paged. An automation's own pages are in the sibling files: its overview
//! and kickoff form (`overview.rs`), its registration (`settings.rs`) and
//! its Visibility tab (`visibility.rs`).

pub mod overview;
pub mod settings;
pub mod visibility;

use crate::pages;
use crate::pages::scope::{self, OrgSwitch};
use crate::session::OrgScope;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use portcullis_domain::{decide, Action, AutomationAccess, Feature, Level};
use portcullis_storage::Automation;
use serde::Deserialize;
use std::time::Duration;

/// Rows on one page of the list.
pub const PAGE_SIZE: usize = 50;

/// The list's query: organization, search text, filters, page.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    pub org: String,
    /// Words the name or description contains (any case).
    #[serde(default)]
    pub q: String,
    /// `healthy`, `unhealthy`, `unknown`, or empty for all.
    #[serde(default)]
    pub health: String,
    /// `organization`, `private`, or empty for all.
    #[serde(default)]
    pub visibility: String,
    #[serde(default)]
    pub page: Option<usize>,
}

struct Row {
    href: String,
    name: String,
    description: String,
    health: String,
    health_reason: String,
    visibility: &'static str,
    last_run: String,
    kickoffs_24h: i64,
    errors_24h: i64,
}

#[derive(askama::Template)]
#[template(path = "automations.html")]
struct ListView {
    switch: OrgSwitch,
    rows: Vec<Row>,
    total_visible: usize,
    matching: usize,
    q: String,
    /// Each filter's choices, and whether it is the one applied.
    health_options: Vec<(&'static str, bool)>,
    visibility_options: Vec<(&'static str, bool)>,
    page: usize,
    pages: usize,
    prev_href: Option<String>,
    next_href: Option<String>,
    register_href: Option<String>,
}

/// One of an automation's pages in the tab bar: offered when the domain
/// allows what the page needs.
pub struct Tab {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// The tabs of automation `a` for this person, with `current` marked.
pub fn tabs(scope: &OrgScope, acl: &portcullis_domain::AutomationAcl, a: &Automation, current: &str) -> Vec<Tab> {
    let base = format!("/automations/{}", a.id);
    let offered = [("", "Overview", AutomationAccess::View), ("/settings", "Settings", AutomationAccess::ManageSettings), ("/visibility", "Visibility", AutomationAccess::ManageSettings)];
    offered
        .iter()
        .filter(|(_, _, access)| decide(&scope.principal, Action::Automation(acl, *access)).is_allowed())
        .map(|(suffix, label, _)| Tab { href: scope::href(scope, &format!("{base}{suffix}")), label, current: *suffix == current })
        .collect()
}

/// The query of an automation's pages: its organization, and whether a
/// change was just saved.
#[derive(Deserialize, Default)]
pub struct AutomationQuery {
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub saved: Option<String>,
}

/// What an automation's page starts with: the signed-in caller in the
/// organization of the address (or the way to sign in, from `here`), and
/// the automation with its access list if `access` is allowed (else the
/// API's refusal as a page: 403 naming what is missing, or 404).
pub async fn open(state: &AppState, headers: &HeaderMap, id: &str, org: &str, here: &str, access: AutomationAccess) -> Result<(OrgScope, Automation, portcullis_domain::AutomationAcl), Response> {
    let scope = scope::for_view(state, headers, org, here).await?;
    let (a, acl) = crate::api::automations::load_with_acl(state, &scope, id, access).await.map_err(|e| pages::forms::refused(e, "/automations"))?;
    Ok((scope, a, acl))
}

fn matches(a: &Automation, q: &ListQuery, words: &[String]) -> bool {
    let text = format!("{} {}", a.name, a.description).to_lowercase();
    words.iter().all(|w| text.contains(w.as_str()))
        && (q.health.is_empty() || a.health.state == q.health)
        && (q.visibility.is_empty() || a.visibility.as_str() == q.visibility)
}

/// `GET /automations`.
pub async fn list(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let scope = match scope::for_view(&state, &headers, &q.org, "/automations").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let visible = match crate::api::automations::visible(&state, &scope).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    // With nothing to see, say why when the dashboard itself is not theirs.
    if visible.is_empty() {
        if let Some(r) = scope::refusal(&scope, Action::Feature(Feature::CrewsDashboards, Level::Read), "The automations dashboard") {
            return r;
        }
    }
    state.usage.flush().await;
    let since = state.clock.now().minus(Duration::from_secs(24 * 3600));
    let mut stats = match state.store.list_execution_stats(scope.org.id, since).await {
        Ok(s) => s,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let words: Vec<String> = q.q.split_whitespace().map(str::to_lowercase).collect();
    let mut found: Vec<&Automation> = visible.iter().filter(|a| matches(a, &q, &words)).collect();
    found.sort_by_key(|a| a.name.to_lowercase());
    let pages_n = found.len().div_ceil(PAGE_SIZE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages_n);
    let rows = found
        .iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|a| {
            let s = stats.remove(&a.id).unwrap_or_default();
            Row {
                href: scope::href(&scope, &format!("/automations/{}", a.id)),
                name: a.name.clone(),
                description: a.description.clone(),
                health: a.health.state.clone(),
                health_reason: a.health.reason.clone().unwrap_or_default(),
                visibility: a.visibility.as_str(),
                last_run: s.last.map(|e| format!("{}, {}", e.state, crate::timestamps::human(e.started_at))).unwrap_or_else(|| "never".into()),
                kickoffs_24h: s.executions,
                errors_24h: s.failures,
            }
        })
        .collect();
    let page_href = |p: usize| {
        let query = serde_urlencoded::to_string([("org", scope.org.id.to_string()), ("q", q.q.clone()), ("health", q.health.clone()), ("visibility", q.visibility.clone()), ("page", p.to_string())]).unwrap_or_default();
        format!("/automations?{query}")
    };
    let can_register = scope.allows(Action::Feature(Feature::CrewsDashboards, Level::Read));
    let view = ListView {
        switch: OrgSwitch::new(&scope, "/automations"),
        rows,
        total_visible: visible.len(),
        matching: found.len(),
        prev_href: (page > 1).then(|| page_href(page - 1)),
        next_href: (page < pages_n).then(|| page_href(page + 1)),
        health_options: ["healthy", "unhealthy", "unknown"].into_iter().map(|h| (h, q.health == h)).collect(),
        visibility_options: ["organization", "private"].into_iter().map(|v| (v, q.visibility == v)).collect(),
        q: q.q,
        page,
        pages: pages_n,
        register_href: can_register.then(|| scope::href(&scope, "/automations/new")),
    };
    let nav = pages::nav::for_caller(&state, &scope.caller, "/automations");
    pages::render("Automations", &nav, &view)
}
