//! The Audit log page: the organization's entries (or, for installation
//! administrators, the whole installation's) filtered by time, actor, action
//! and resource, and the same rows as CSV. Reading needs
//! `organization_settings: manage`, as `GET /api/v1/audit` does; the filter
//! is the API's (`api::audit_log::filter`).

use crate::api::audit_log::{authorized_org, filter};
use crate::error::Status;
use crate::pages;
use crate::pages::scope::OrgSwitch;
use crate::session::{Caller, OrgScope};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_storage::{AuditEvent, AuditFilter};
use serde::Deserialize;

/// Rows shown on the page (the CSV export takes up to 1,000).
const PAGE_ROWS: i64 = 200;
/// The actions the log records, offered as suggestions.
const KNOWN_ACTIONS: &[&str] = &[
    "login", "login.success", "login.failure", "login.throttled", "logout", "session.revoke", "cli_login.revoke", "setup.complete",
    "invitation.create", "invitation.accept", "role.create", "role.update", "role.delete", "member.update", "env.put", "env.reveal",
    "env.delete", "automation.create", "automation.update", "automation.delete", "oauth.refresh_reuse",
];

/// The page's query: the API's filters with days instead of instants.
#[derive(Deserialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource: String,
}

struct Row {
    at: String,
    actor_id: Option<String>,
    actor: String,
    action: String,
    target: String,
    outcome: String,
    ip: String,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditView<'a> {
    switch: OrgSwitch,
    factory_admin: bool,
    installation: bool,
    since: &'a str,
    until: &'a str,
    actor: &'a str,
    action: &'a str,
    resource: &'a str,
    known_actions: &'a [&'a str],
    query: String,
    limit: i64,
    events: Vec<Row>,
}

/// `2026-12-01` as the instant that day starts (UTC), `plus_days` later.
fn day(field: &str, v: &str, plus_days: i64) -> Result<String, String> {
    let date = time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{field}: `{v}` is not a day like 2026-12-01"))?;
    let start = date.midnight().assume_utc() + time::Duration::days(plus_days);
    Ok(start.format(&time::format_description::well_known::Rfc3339).unwrap_or_default())
}

/// The scope and the storage filter of a request, or the page that says why not.
async fn resolve(state: &AppState, headers: &HeaderMap, q: &AuditQuery, limit: i64, back: &str) -> Result<(OrgScope, bool, AuditFilter), Response> {
    let caller = Caller::from_headers(state, headers).await.map_err(|_| Redirect::to("/auth/login?return_to=/audit").into_response())?;
    let requested = match q.org.as_str() {
        "" => None,
        o => Some(o.parse().map_err(|_| pages::message(Status::BadRequest, "No such organization", "The organization in the address is not an id.", Some(("/", "Home"))))?),
    };
    let scope = OrgScope::for_page(state, caller, requested).await.map_err(|e| pages::forms::refused(e, "/"))?;
    let installation = scope.caller.ctx.user.factory_admin && q.scope == "installation";
    let org_id = if installation { None } else { Some(authorized_org(&scope).map_err(|e| pages::forms::refused(e, "/"))?) };
    let bad = |why: String| pages::message(Status::BadRequest, "Not a filter", &why, Some((back, "Back")));
    let since = if q.since.is_empty() { String::new() } else { day("From", &q.since, 0).map_err(bad)? };
    let until = if q.until.is_empty() { String::new() } else { day("To", &q.until, 1).map_err(bad)? };
    let pairs = [("since", since.as_str()), ("until", until.as_str()), ("actor", q.actor.as_str()), ("action", q.action.as_str()), ("resource", q.resource.as_str())];
    let f = filter(org_id, limit, pairs.into_iter()).map_err(|e| pages::forms::refused(e, back))?;
    Ok((scope, installation, f))
}

fn query_string(q: &AuditQuery) -> String {
    let pairs = [("org", &q.org), ("scope", &q.scope), ("since", &q.since), ("until", &q.until), ("actor", &q.actor), ("action", &q.action), ("resource", &q.resource)];
    serde_urlencoded::to_string(pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).unwrap_or_default()
}

/// `GET /audit`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<AuditQuery>) -> Response {
    let (scope, installation, f) = match resolve(&state, &headers, &q, PAGE_ROWS, "/audit").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let events = match state.store.list_audit(&f).await {
        Ok(e) => e,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let rows = events
        .into_iter()
        .map(|e| Row {
            at: crate::timestamps::human(e.at),
            actor_id: e.actor_id.map(|a| a.to_string()),
            actor: e.actor.unwrap_or_else(|| "—".into()),
            action: e.action,
            target: e.target.unwrap_or_default(),
            outcome: e.outcome,
            ip: e.ip.unwrap_or_default(),
            detail: e.detail.to_string().chars().take(200).collect(),
        })
        .collect();
    let nav = pages::nav::for_caller(&state, &scope.caller, "/audit");
    let view = AuditView {
        switch: OrgSwitch::new(&scope, "/audit"),
        factory_admin: scope.caller.ctx.user.factory_admin,
        installation,
        since: &q.since,
        until: &q.until,
        actor: &q.actor,
        action: &q.action,
        resource: &q.resource,
        known_actions: KNOWN_ACTIONS,
        query: query_string(&AuditQuery { org: scope.org.id.to_string(), ..q.clone() }),
        limit: PAGE_ROWS,
        events: rows,
    };
    pages::render("Audit log", &nav, &view)
}

/// `GET /audit.csv`: the filtered rows (up to 1,000) as CSV (RFC 4180).
pub async fn csv(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<AuditQuery>) -> Response {
    let (_, _, f) = match resolve(&state, &headers, &q, 1000, "/audit").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let events = match state.store.list_audit(&f).await {
        Ok(e) => e,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let mut resp = crate::error::html(Status::Ok, to_csv(&events));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"portcullis-audit.csv\""));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn to_csv(events: &[AuditEvent]) -> String {
    let mut out = String::from("at,organization_id,actor_id,actor,action,target,outcome,ip,request_id,detail\r\n");
    for e in events {
        let fields = [
            crate::timestamps::rfc3339(e.at),
            e.org_id.map(|o| o.to_string()).unwrap_or_default(),
            e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
            e.actor.clone().unwrap_or_default(),
            e.action.clone(),
            e.target.clone().unwrap_or_default(),
            e.outcome.clone(),
            e.ip.clone().unwrap_or_default(),
            e.request_id.clone().unwrap_or_default(),
            e.detail.to_string(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV field: quoted when it must be (RFC 4180 §2), and defused when a
/// spreadsheet would read it as a formula (a leading `=`, `+`, `-`, `@`).
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_owned() };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }

    #[test]
    fn days_are_utc_midnights() {
        assert_eq!(day("From", "2026-12-01", 0).unwrap(), "2026-12-01T00:00:00Z");
        assert_eq!(day("To", "2026-12-31", 1).unwrap(), "2027-01-01T00:00:00Z");
        assert!(day("From", "1 Dec", 0).unwrap_err().contains("2026-12-01"));
    }
}
