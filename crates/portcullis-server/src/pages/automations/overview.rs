//! An automation's overview: its details, its executions (for those with
//! `traces`), and a kickoff form built from the inputs the automation
//! declares (for those with `run`). A run's page follows its progress by
//! reloading itself (`<meta http-equiv="refresh">`, no script) until the
//! automation reports an end. Every call goes through the API's own
//! operations (`api::proxy`), so the checks and the records are the same.

use super::{open, tabs, AutomationQuery, Tab};
use crate::api::proxy;
use crate::pages;
use crate::pages::scope;
use crate::session::OrgScope;
use crate::state::AppState;
use crate::timestamps::human;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_domain::{decide, Action, AutomationAccess, UserId};
use std::collections::HashMap;

/// Executions shown on the overview.
const RUNS_SHOWN: i64 = 50;
/// Seconds between reloads of a running run's page.
const RELOAD_SECS: u32 = 2;
/// Run states after which nothing changes any more.
const FINAL_STATES: &[&str] = &["completed", "complete", "success", "succeeded", "failed", "failure", "error", "cancelled", "canceled"];

struct RunRow {
    state: String,
    who: String,
    when: String,
    latency: String,
    error: String,
    href: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "automation.html")]
struct OverviewView {
    name: String,
    tabs: Vec<Tab>,
    description: String,
    visibility: &'static str,
    health: String,
    health_reason: String,
    checked: String,
    upstream_url: String,
    registered: String,
    /// The kickoff form, when the person may run it.
    kickoff: Option<KickoffForm>,
    /// The executions, when the person may read traces.
    runs: Option<Vec<RunRow>>,
    org_id: String,
    id: String,
    csrf_token: String,
}

struct KickoffForm {
    /// The input names the automation declared.
    inputs: Vec<String>,
    /// Why they could not be read, if so.
    problem: Option<String>,
}

/// The input names in an automation's `GET /inputs` answer: `{"inputs":
/// ["topic", ...]}` as deployed crews answer, or an object of names.
fn input_names(v: &serde_json::Value) -> Vec<String> {
    let inputs = v.get("inputs").unwrap_or(v);
    let mut names: Vec<String> = match inputs {
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned).or_else(|| x.get("name").and_then(|n| n.as_str()).map(str::to_owned))).collect(),
        serde_json::Value::Object(o) => o.keys().cloned().collect(),
        _ => Vec::new(),
    };
    names.retain(|n| !n.is_empty() && n.len() <= 128);
    names.dedup();
    names.truncate(64);
    names
}

/// Names of the organization's members, for "who started it".
async fn member_names(state: &AppState, scope: &OrgScope) -> HashMap<UserId, String> {
    state.store.list_members(scope.org.id).await.unwrap_or_default().into_iter().map(|m| (m.user.id, m.user.display_name)).collect()
}

/// `GET /automations/{id}`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<AutomationQuery>) -> Response {
    let (scope, a, acl) = match open(&state, &headers, &id, &q.org, &format!("/automations/{id}"), AutomationAccess::View).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let may = |access| decide(&scope.principal, Action::Automation(&acl, access)).is_allowed();
    let kickoff = if may(AutomationAccess::Run) {
        Some(match proxy::fetch_inputs(&state, &scope, &id).await {
            Ok(v) => KickoffForm { inputs: input_names(&v), problem: None },
            Err(e) => KickoffForm { inputs: Vec::new(), problem: Some(e.message) },
        })
    } else {
        None
    };
    let runs = if may(AutomationAccess::Traces) {
        let names = member_names(&state, &scope).await;
        match proxy::runs(&state, &scope, &id, RUNS_SHOWN).await {
            Ok(list) => Some(
                list.iter()
                    .map(|e| RunRow {
                        state: e.state.clone(),
                        who: e.user_id.map(|u| names.get(&u).cloned().unwrap_or_else(|| "a former member".into())).unwrap_or_else(|| "—".into()),
                        when: human(e.started_at),
                        latency: e.upstream_latency_ms.map(|l| format!("{l} ms")).unwrap_or_default(),
                        error: e.error.clone().unwrap_or_default(),
                        href: e.kickoff_id.as_ref().map(|k| scope::href(&scope, &format!("/automations/{}/runs/{k}", a.id))),
                    })
                    .collect(),
            ),
            Err(e) => return pages::forms::refused(e, "/automations"),
        }
    } else {
        None
    };
    let view = OverviewView {
        name: a.name.clone(),
        tabs: tabs(&scope, &acl, &a, ""),
        description: a.description.clone(),
        visibility: a.visibility.as_str(),
        health: a.health.state.clone(),
        health_reason: a.health.reason.clone().unwrap_or_default(),
        checked: a.health.checked_at.map(human).unwrap_or_else(|| "not yet".into()),
        upstream_url: a.upstream_url.clone(),
        registered: human(a.created_at),
        kickoff,
        runs,
        org_id: scope.org.id.to_string(),
        id: a.id.to_string(),
        csrf_token: scope.caller.csrf_token(&state),
    };
    let nav = pages::nav::for_caller(&state, &scope.caller, "/automations");
    pages::render(&a.name, &nav, &view)
}

/// `POST /automations/{id}/kickoff`: the form's `input.<name>` fields as
/// `{"inputs": {...}}`, through the API's kickoff; then the run's page.
pub async fn kickoff(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<AutomationQuery>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let back = format!("/automations/{id}?org={}", q.org);
    let csrf = form.iter().find(|(k, _)| k == "csrf_token").map(|(_, v)| v.as_str()).unwrap_or("");
    let scope = match scope::for_form(&state, &headers, csrf, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let inputs: serde_json::Map<String, serde_json::Value> =
        form.iter().filter_map(|(k, v)| k.strip_prefix("input.").map(|name| (name.to_owned(), serde_json::Value::String(v.clone())))).collect();
    let body = serde_json::json!({ "inputs": inputs }).to_string();
    match proxy::start_run(&state, &scope, &id, body.into()).await {
        Ok(answer) => match answer.get("kickoff_id").and_then(|k| k.as_str()) {
            Some(k) => Redirect::to(&scope::href(&scope, &format!("/automations/{id}/runs/{}", urlencode(k)))).into_response(),
            None => pages::message(crate::error::Status::BadGateway, "Not started", "The automation answered without a kickoff id, so the run cannot be followed.", Some((&back, "Back"))),
        },
        Err(e) => pages::forms::refused(e, &back),
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q.trim_start_matches('=').to_owned()).unwrap_or_default()
}

#[derive(askama::Template)]
#[template(path = "automation_run.html")]
struct RunView {
    name: String,
    tabs: Vec<Tab>,
    kickoff_id: String,
    state: String,
    finished: bool,
    result: String,
    back_href: String,
    problem: Option<String>,
}

/// `GET /automations/{id}/runs/{kickoff_id}`: the run's state and result as
/// the automation reports them (needs `traces`, as the API's status does).
pub async fn run(State(state): State<AppState>, headers: HeaderMap, Path((id, kickoff_id)): Path<(String, String)>, Query(q): Query<AutomationQuery>) -> Response {
    let (scope, a, acl) = match open(&state, &headers, &id, &q.org, &format!("/automations/{id}/runs/{kickoff_id}"), AutomationAccess::View).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let back_href = scope::href(&scope, &format!("/automations/{}", a.id));
    let (status, problem) = match proxy::run_status(&state, &scope, &id, &kickoff_id).await {
        Ok(v) => (v, None),
        Err(e) if e.status == crate::error::Status::Forbidden => (serde_json::Value::Null, Some(format!("The run was started. Following it needs more: {}", e.message))),
        Err(e) => (serde_json::Value::Null, Some(e.message)),
    };
    let run_state = status.get("state").or_else(|| status.get("status")).and_then(|s| s.as_str()).unwrap_or(if problem.is_some() { "unknown" } else { "running" }).to_owned();
    let finished = problem.is_some() || FINAL_STATES.contains(&run_state.to_lowercase().as_str());
    let result = match status.get("result") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
        None => String::new(),
    };
    let view = RunView { name: a.name.clone(), tabs: tabs(&scope, &acl, &a, "/runs"), kickoff_id, state: run_state, finished, result, back_href, problem };
    let nav = pages::nav::for_caller(&state, &scope.caller, "/automations");
    let title = format!("Run of {}", a.name);
    if finished {
        pages::render(&title, &nav, &view)
    } else {
        pages::render_reloading(&title, &nav, &view, RELOAD_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::input_names;
    use serde_json::json;

    #[test]
    fn inputs_are_read_as_deployed_crews_declare_them() {
        assert_eq!(input_names(&json!({"inputs": ["topic", "audience"]})), ["topic", "audience"]);
        assert_eq!(input_names(&json!({"inputs": [{"name": "topic"}, 3, ""]})), ["topic"]);
        assert_eq!(input_names(&json!({"inputs": {"topic": "string"}})), ["topic"]);
        assert!(input_names(&json!("nothing")).is_empty());
    }
}
