//! Settings → Check access: whether a member may use a feature at a level,
//! or do something with an automation, and why. The answer is the domain's
//! `decide`, as every request gets it; the page adds only the facts the
//! decision read (the member's roles and their levels, the automation's
//! visibility and grants). Needs `organization_settings: manage`.
//!
//! Below it, the group-to-role rules' dry run: paste a token's claims and/or
//! pick a person (their SCIM groups), and see which rules match and which
//! role results, from the same evaluation sign-ins use
//! (`api::group_rules::run`).

use crate::error::Status;
use crate::pages;
use crate::pages::scope::OrgSwitch;
use crate::session::{principal_in, Caller, OrgScope};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_domain::{decide, Action, AutomationAccess, Decision, Feature, Level};
use portcullis_storage::StoreError;
use serde::Deserialize;

const ACCESSES: &[(AutomationAccess, &str)] = &[
    (AutomationAccess::View, "see"),
    (AutomationAccess::Run, "run"),
    (AutomationAccess::Traces, "read the traces of"),
    (AutomationAccess::ManageSettings, "manage the settings of"),
    (AutomationAccess::HumanInTheLoop, "answer for"),
];

/// What was asked.
#[derive(Deserialize, Default)]
pub struct CheckQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    member: String,
    /// `feature:<feature>:<level>` or `automation:<id>:<access index>`.
    #[serde(default)]
    what: String,
    /// The dry run's person (a user id, or empty).
    #[serde(default)]
    rules_member: String,
    /// The dry run's pasted claims (a JSON object), or empty.
    #[serde(default)]
    claims: String,
    /// Set when the dry-run form was sent.
    #[serde(default)]
    dry_run: String,
}

/// The dry run's answer, as the page shows it.
struct RulesAnswer {
    verdict: String,
    class: &'static str,
    /// (position, values, what became of it)
    matches: Vec<(usize, String, &'static str)>,
}

struct Answer {
    verdict: &'static str,
    class: &'static str,
    explanation: String,
    facts: Vec<String>,
}

#[derive(askama::Template)]
#[template(path = "check_access.html")]
struct CheckView {
    switch: OrgSwitch,
    /// (user id, label, selected)
    members: Vec<(String, String, bool)>,
    feature_options: Vec<(String, String, bool)>,
    automation_options: Vec<(String, String, bool)>,
    result: Option<Answer>,
    /// (user id, label, selected) for the dry run, with "nobody" first.
    rules_members: Vec<(String, String, bool)>,
    claims: String,
    rules_result: Option<Result<RulesAnswer, String>>,
}

/// `GET /settings/check-access`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<CheckQuery>) -> Response {
    let Ok(caller) = Caller::from_headers(&state, &headers).await else {
        return Redirect::to("/auth/login?return_to=/settings/check-access").into_response();
    };
    let requested = match q.org.as_str() {
        "" => None,
        o => match o.parse() {
            Ok(id) => Some(id),
            Err(_) => return pages::message(Status::BadRequest, "No such organization", "The organization in the address is not an id.", Some(("/", "Home"))),
        },
    };
    let scope = match OrgScope::for_page(&state, caller, requested).await {
        Ok(s) => s,
        Err(e) => return pages::forms::refused(e, "/"),
    };
    if let Decision::Deny(d) = decide(&scope.principal, Action::Feature(Feature::OrganizationSettings, Level::Manage)) {
        crate::telemetry::rbac_denied(&d);
        return pages::message(Status::Forbidden, "Not allowed", &format!("Check access: {d}."), Some(("/", "Home")));
    }
    match build(&state, &scope, &q).await {
        Ok(view) => {
            let nav = pages::nav::for_caller(&state, &scope.caller, "/settings/check-access");
            pages::render("Check access", &nav, &view)
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

async fn build(state: &AppState, scope: &OrgScope, q: &CheckQuery) -> Result<CheckView, StoreError> {
    let org = scope.org.id;
    let members = state.store.list_members(org).await?;
    let automations = state.store.list_automations_with_acls(org).await?;
    let feature_options = Feature::ALL
        .iter()
        .flat_map(|f| f.allowed_levels().iter().filter(|l| **l != Level::None).map(move |l| (*f, *l)))
        .map(|(f, l)| {
            let v = format!("feature:{f}:{l}");
            let selected = q.what == v;
            (v, format!("use {f} at {l}"), selected)
        })
        .collect();
    let automation_options = automations
        .iter()
        .flat_map(|(a, _)| ACCESSES.iter().enumerate().map(move |(i, (_, verb))| (a, i, verb)))
        .map(|(a, i, verb)| {
            let v = format!("automation:{}:{i}", a.id);
            let selected = q.what == v;
            (v, format!("{verb} “{}”", a.name), selected)
        })
        .collect();
    let chosen = members.iter().find(|m| m.user.id.to_string() == q.member);
    let result = match chosen {
        Some(m) if !q.what.is_empty() => answer(state, scope, &m.user, &automations, &q.what).await?,
        _ => None,
    };
    let rules_result = if q.dry_run.is_empty() { None } else { Some(dry_run(state, scope, q).await?) };
    let mut rules_members = vec![(String::new(), "nobody: the pasted claims only".to_owned(), q.rules_member.is_empty())];
    rules_members.extend(members.iter().map(|m| (m.user.id.to_string(), format!("{} <{}>", m.user.display_name, m.user.email), q.rules_member == m.user.id.to_string())));
    Ok(CheckView {
        rules_members,
        claims: q.claims.clone(),
        rules_result,
        switch: OrgSwitch::new(scope, "/settings/check-access"),
        members: members.iter().map(|m| (m.user.id.to_string(), format!("{} <{}>", m.user.display_name, m.user.email), chosen.is_some_and(|c| c.user.id == m.user.id))).collect(),
        feature_options,
        automation_options,
        result,
    })
}

async fn answer(
    state: &AppState,
    scope: &OrgScope,
    user: &portcullis_storage::User,
    automations: &[(portcullis_storage::Automation, portcullis_domain::AutomationAcl)],
    what: &str,
) -> Result<Option<Answer>, StoreError> {
    let memberships = state.store.list_memberships(user.id).await?;
    let principal = principal_in(user, &memberships, scope.org.id);
    let roles: Vec<_> = principal.org.as_ref().map(|o| o.roles.clone()).unwrap_or_default();
    let mut facts = Vec::new();
    if user.factory_admin {
        facts.push("They hold the installation-wide factory-admin role.".to_owned());
    }
    let parts: Vec<&str> = what.splitn(3, ':').collect();
    let decision = match parts.as_slice() {
        ["feature", f, l] => {
            let (Ok(feature), Ok(level)) = (f.parse::<Feature>(), l.parse::<Level>()) else { return Ok(None) };
            for r in &roles {
                facts.push(format!("Their role {} grants {feature}: {}.", r.name, r.permissions.get(feature)));
            }
            decide(&principal, Action::Feature(feature, level))
        }
        ["automation", id, i] => {
            let Some((a, acl)) = automations.iter().find(|(a, _)| a.id.to_string() == *id) else { return Ok(None) };
            let Some((access, _)) = i.parse::<usize>().ok().and_then(|i| ACCESSES.get(i)) else { return Ok(None) };
            facts.push(format!("“{}” is visible to {}.", a.name, if acl.visibility == portcullis_domain::Visibility::Private { "its grants only (private)" } else { "the organization" }));
            let user_grant = acl.user_grants.get(&user.id).copied().unwrap_or_default();
            if !user_grant.is_empty() {
                facts.push(format!("They are granted {} on it.", names(user_grant)));
            }
            for r in &roles {
                let g = acl.role_grants.get(&r.id).copied().unwrap_or_default();
                facts.push(format!("Their role {} grants crews_dashboards: {}{}.", r.name, r.permissions.get(Feature::CrewsDashboards), if g.is_empty() { String::new() } else { format!(", and {} on it", names(g)) }));
            }
            decide(&principal, Action::Automation(acl, *access))
        }
        _ => return Ok(None),
    };
    let who = &user.display_name;
    Ok(Some(match decision {
        Decision::Allow => Answer { verdict: "Allowed", class: "ok", explanation: format!("{who} may do this."), facts },
        Decision::Deny(d) => Answer { verdict: "Refused", class: "error", explanation: format!("{who} may not: {d}."), facts },
        Decision::NotFound => Answer {
            verdict: "Not visible",
            class: "error",
            explanation: format!("{who} cannot see this automation at all: it is private and they hold no grant on it, so the API answers 404."),
            facts,
        },
    }))
}

fn names(p: portcullis_domain::PermSet) -> String {
    p.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
}

/// The group rules' dry run: the API's own, so the page cannot disagree with
/// a sign-in. Refusals of the input (bad JSON, no rules) are shown on the page.
async fn dry_run(state: &AppState, scope: &OrgScope, q: &CheckQuery) -> Result<Result<RulesAnswer, String>, StoreError> {
    let claims = match q.claims.trim() {
        "" => None,
        raw => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(v) => Some(v),
            Err(e) => return Ok(Err(format!("The claims are not JSON ({e}). Paste the token's payload, as in {{\"groups\": [\"engineering\"]}}."))),
        },
    };
    let user_id = match q.rules_member.as_str() {
        "" => None,
        id => id.parse::<uuid::Uuid>().ok(),
    };
    let body = portcullis_api::GroupRulesDryRun { claims, user_id, rules: None };
    let r = match crate::api::group_rules::run(state, scope, &body).await {
        Ok(r) => r,
        // A failure on this side is logged and shown generically, as the error layer does.
        Err(e) if e.status.http().is_server_error() => {
            tracing::error!(error = %e.message, "the group rules' dry run failed");
            return Ok(Err("The rules could not be run just now (the server log has the detail); try again shortly.".into()));
        }
        Err(e) => return Ok(Err(e.message)),
    };
    let role = r.role.as_ref().and_then(|r| r.name.clone()).unwrap_or_default();
    let (verdict, class) = match r.outcome.as_str() {
        "rule" => (format!("Rule {} gives the role {role}", r.matches.iter().find(|m| m.status == "decided").map(|m| m.position).unwrap_or(0)), "ok"),
        "default" => (format!("No rule matches: the default role {role}"), "ok"),
        "default_missing" => ("No rule matches, and the default role no longer exists: refused".to_owned(), "error"),
        _ => ("No rule matches: refused".to_owned(), "error"),
    };
    let matches = r
        .matches
        .iter()
        .map(|m| {
            let status = match m.status.as_str() {
                "decided" => "decides",
                "role_missing" => "skipped: its role no longer exists",
                _ => "matches too, but an earlier rule decided",
            };
            (m.position, m.values.join(", "), status)
        })
        .collect();
    Ok(Ok(RulesAnswer { verdict, class, matches }))
}
