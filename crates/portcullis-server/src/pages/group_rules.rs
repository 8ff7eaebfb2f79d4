//! Settings → Group rules: the organization's ordered group-to-role rules,
//! read by anyone who may see the roles and edited in one form by
//! `organization_settings: manage` (what the page offers is the domain's
//! decision). Saving is the API's own operation (`api::group_rules::save`:
//! the same validation, version check and audit entry); a refused save
//! shows the form again with what was typed and what was wrong, so nothing
//! typed is lost.
//!
//! Without script, order is a number per rule (rows are sorted by it when
//! saved), a rule is dropped with its Remove box, and three empty rows add
//! rules; an empty row is ignored.

use crate::api::group_rules as ops;
use crate::pages;
use crate::pages::scope::{self, OrgSwitch};
use crate::session::OrgScope;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_api as api;
use portcullis_domain::{Action, Feature, Level, Role, RoleKind};
use serde::Deserialize;

const AREA: &str = "Group rules";
const HERE: &str = "/settings/group-rules";
/// Empty rows offered for new rules.
const NEW_ROWS: usize = 3;

/// One rule as the form shows it.
struct RuleRow {
    index: usize,
    order: String,
    source: String,
    claim: String,
    glob: bool,
    pattern: String,
    /// `kind:owner`, `id:<uuid>` or `key:<key>`.
    role: String,
}

/// A choice in a role list: (value, label).
type RoleOption = (String, String);

#[derive(askama::Template)]
#[template(path = "group_rules.html")]
struct GroupRulesView {
    switch: OrgSwitch,
    can_manage: bool,
    enabled: bool,
    seeded_from_env: bool,
    version: i64,
    rows: Vec<RuleRow>,
    refuse: bool,
    default_role: String,
    roles: Vec<RoleOption>,
    csrf_token: String,
    saved: bool,
    /// Why the last save was refused (the form then shows what was sent).
    problem: Option<String>,
}

impl GroupRulesView {
    fn source_label(source: &str) -> &'static str {
        match source {
            "idp_roles" => "IdP roles",
            "claim" => "Claim",
            _ => "SCIM group",
        }
    }
    fn role_label(&self, value: &str) -> String {
        self.roles.iter().find(|(v, _)| v == value).map(|(_, l)| l.clone()).unwrap_or_else(|| value.to_owned())
    }
}

/// The page's query.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    saved: Option<String>,
}

fn role_value(r: &api::RoleRef) -> String {
    match (&r.kind, &r.id, &r.key) {
        (Some(k), _, _) => format!("kind:{k}"),
        (_, Some(id), _) => format!("id:{id}"),
        (_, _, Some(key)) => format!("key:{key}"),
        _ => String::new(),
    }
}

fn role_ref(value: &str) -> api::RoleRef {
    match value.split_once(':') {
        Some(("kind", k)) => api::RoleRef { kind: Some(k.into()), ..Default::default() },
        Some(("id", id)) => api::RoleRef { id: id.parse().ok(), ..Default::default() },
        Some(("key", k)) => api::RoleRef { key: Some(k.into()), ..Default::default() },
        _ => api::RoleRef::default(),
    }
}

/// The organization's roles as choices: the predefined ones by kind (the
/// way that survives renaming), custom ones by id.
fn role_options(roles: &[Role], also: &[String]) -> Vec<RoleOption> {
    let mut out: Vec<RoleOption> = roles
        .iter()
        .map(|r| match r.kind {
            RoleKind::Owner | RoleKind::Member => (format!("kind:{}", r.kind.as_str()), r.name.clone()),
            _ => (format!("id:{}", r.id.0), r.name.clone()),
        })
        .collect();
    // A rule may name a custom role by key (through the API): keep it selectable.
    for v in also.iter().filter(|v| v.starts_with("key:")) {
        if !out.iter().any(|(o, _)| o == v) {
            out.push((v.clone(), format!("role with key {}", &v[4..])));
        }
    }
    out
}

fn rows_of(info: &api::GroupRulesInfo) -> Vec<RuleRow> {
    info.rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleRow {
            index: i,
            order: (i + 1).to_string(),
            source: r.source.clone(),
            claim: r.claim.clone().unwrap_or_default(),
            glob: r.match_ == "glob",
            pattern: r.pattern.clone(),
            role: role_value(&r.role),
        })
        .collect()
}

fn with_new_rows(mut rows: Vec<RuleRow>) -> Vec<RuleRow> {
    let n = rows.len();
    rows.extend((0..NEW_ROWS).map(|k| RuleRow { index: n + k, order: (n + k + 1).to_string(), source: "claim".into(), claim: "groups".into(), glob: false, pattern: String::new(), role: "kind:member".into() }));
    rows
}

struct Draft {
    enabled: bool,
    version: i64,
    rows: Vec<RuleRow>,
    refuse: bool,
    default_role: String,
}

async fn view(state: &AppState, scope: &OrgScope, draft: Option<Draft>, saved: bool, problem: Option<String>) -> Response {
    if let Some(r) = scope::refusal(scope, Action::Feature(Feature::Invitations, Level::Read), AREA) {
        return r;
    }
    let (stored, roles) = match (ops::load(state, scope).await, state.store.list_roles(scope.org.id).await) {
        (Ok(s), Ok(r)) => (s, r),
        (Err(e), _) => return e.into_response(),
        (_, Err(e)) => return crate::error::ApiError::from(e).into_response(),
    };
    let info = ops::info(stored.as_ref(), &roles);
    let draft = draft.unwrap_or_else(|| Draft {
        enabled: info.enabled || stored.is_none(),
        version: info.version,
        rows: rows_of(&info),
        refuse: info.no_match.action == "refuse",
        default_role: info.no_match.role.as_ref().map(role_value).unwrap_or_else(|| "kind:member".into()),
    });
    let can_manage = scope.allows(Action::Feature(Feature::OrganizationSettings, Level::Manage));
    let mut named: Vec<String> = draft.rows.iter().map(|r| r.role.clone()).collect();
    named.push(draft.default_role.clone());
    let view = GroupRulesView {
        switch: OrgSwitch::new(scope, HERE),
        can_manage,
        enabled: draft.enabled,
        seeded_from_env: info.seeded_from_env,
        version: draft.version,
        rows: if can_manage { with_new_rows(draft.rows) } else { draft.rows },
        refuse: draft.refuse,
        default_role: draft.default_role,
        roles: role_options(&roles, &named),
        csrf_token: scope.caller.csrf_token(state),
        saved,
        problem,
    };
    let nav = pages::nav::for_caller(state, &scope.caller, HERE);
    let mut resp = pages::render(AREA, &nav, &view);
    if view.problem.is_some() {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

/// `GET /settings/group-rules`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let scope = match scope::for_view(&state, &headers, &q.org, HERE).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    view(&state, &scope, None, q.saved.is_some(), None).await
}

/// The form as sent: `rule-<n>-<field>` for each row, and the set's own fields.
fn draft_of(fields: &[(String, String)]) -> (String, Draft) {
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned());
    let mut indices: Vec<usize> = fields.iter().filter_map(|(k, _)| k.strip_prefix("rule-")?.split_once('-')?.0.parse().ok()).collect();
    indices.sort_unstable();
    indices.dedup();
    let mut rows: Vec<(f64, RuleRow, bool)> = indices
        .into_iter()
        .take(500)
        .map(|i| {
            let f = |name: &str| get(&format!("rule-{i}-{name}")).unwrap_or_default();
            let order = f("order");
            let row = RuleRow { index: i, order: order.clone(), source: f("source"), claim: f("claim"), glob: f("match") == "glob", pattern: f("pattern"), role: f("role") };
            (order.parse::<f64>().unwrap_or(f64::MAX), row, !f("remove").is_empty())
        })
        .filter(|(_, row, removed)| !*removed && !row.pattern.is_empty())
        .collect();
    // Sorted by the order typed; ties keep the page's order.
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let rows = rows.into_iter().enumerate().map(|(n, (_, mut r, _))| {
        r.index = n;
        r.order = (n + 1).to_string();
        r
    });
    let draft = Draft {
        enabled: get("enabled").is_some(),
        version: get("version").and_then(|v| v.parse().ok()).unwrap_or(0),
        rows: rows.collect(),
        refuse: get("no_match").as_deref() != Some("default"),
        default_role: get("default_role").unwrap_or_default(),
    };
    (get("csrf_token").unwrap_or_default(), draft)
}

fn put_of(d: &Draft) -> api::PutGroupRules {
    api::PutGroupRules {
        enabled: d.enabled,
        rules: d
            .rows
            .iter()
            .map(|r| api::GroupRuleInfo {
                source: r.source.clone(),
                claim: (r.source == "claim").then(|| r.claim.clone()),
                match_: if r.glob { "glob" } else { "exact" }.into(),
                pattern: r.pattern.clone(),
                role: role_ref(&r.role),
            })
            .collect(),
        no_match: if d.refuse { api::NoMatchInfo { action: "refuse".into(), role: None } } else { api::NoMatchInfo { action: "default".into(), role: Some(role_ref(&d.default_role)) } },
        version: d.version,
    }
}

/// `POST /settings/group-rules`: saves the whole set over the version the
/// form was read at.
pub async fn save(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<PageQuery>, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let back = format!("{HERE}?org={}", q.org);
    let (csrf, draft) = draft_of(&fields);
    let scope = match scope::for_form(&state, &headers, &csrf, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match ops::save(&state, &scope, &put_of(&draft)).await {
        Ok(_) => Redirect::to(&scope::href(&scope, &format!("{HERE}?saved=1"))).into_response(),
        Err(e) if e.status == crate::error::Status::Forbidden => pages::forms::refused(e, &back),
        Err(e) if e.status == crate::error::Status::Internal => e.into_response(),
        Err(e) => {
            let why = if e.status == crate::error::Status::Conflict {
                "Someone else saved the rules after you opened this page. Your version is shown below, unsaved: reload the page to see theirs, then make your change again.".to_owned()
            } else {
                e.message.clone()
            };
            view(&state, &scope, Some(draft), false, Some(why)).await
        }
    }
}
