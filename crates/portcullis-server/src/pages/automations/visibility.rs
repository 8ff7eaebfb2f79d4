//! Settings → Visibility of one automation (needs `manage_settings` on it):
//! organization-wide or private, and the grants of entity permissions to
//! members and roles. The form is the API's `PUT .../access` as a table: a
//! row per grant, a checkbox per permission, and an empty row to add one; a
//! row with no permission left is removed. Saved through
//! `api::automations::set_access`, so checks and audit are the same.

use super::{open, tabs, AutomationQuery, Tab};
use crate::api::automations::{access_of, set_access};
use crate::pages;
use crate::pages::scope;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_api as api;
use portcullis_domain::{AutomationAccess, EntityPermission, Subject};
use std::collections::HashMap;

/// A grant row: its subject, and which permissions are checked.
struct GrantRow {
    index: usize,
    /// `user:<id>` or `role:<id>`; empty for the row that adds a grant.
    subject: String,
    label: String,
    checked: Vec<(&'static str, bool)>,
}

#[derive(askama::Template)]
#[template(path = "automation_visibility.html")]
struct VisibilityView {
    name: String,
    tabs: Vec<Tab>,
    id: String,
    org_id: String,
    private: bool,
    rows: Vec<GrantRow>,
    /// The subjects the new row may name: (value, label).
    subjects: Vec<(String, String)>,
    permissions: Vec<&'static str>,
    csrf_token: String,
    saved: bool,
}

/// `GET /automations/{id}/visibility`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<AutomationQuery>) -> Response {
    let (scope, a, acl) = match open(&state, &headers, &id, &q.org, &format!("/automations/{id}/visibility"), AutomationAccess::ManageSettings).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let grants = match access_of(&state, &scope, &id).await {
        Ok((_, g)) => g,
        Err(e) => return pages::forms::refused(e, "/automations"),
    };
    let (members, roles) = match tokio::try_join!(state.store.list_members(scope.org.id), state.store.list_roles(scope.org.id)) {
        Ok(x) => x,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let mut names: HashMap<String, String> = HashMap::new();
    let mut subjects = Vec::new();
    for r in &roles {
        let v = format!("role:{}", r.id);
        names.insert(v.clone(), format!("Role {}", r.name));
        subjects.push((v, format!("Role {}", r.name)));
    }
    for m in &members {
        let v = format!("user:{}", m.user.id);
        let label = format!("{} <{}>", m.user.display_name, m.user.email);
        names.insert(v.clone(), label.clone());
        subjects.push((v, label));
    }
    let mut rows: Vec<GrantRow> = grants
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let subject = match g.subject {
                Subject::User(u) => format!("user:{u}"),
                Subject::Role(r) => format!("role:{r}"),
            };
            GrantRow {
                index: i,
                label: names.get(&subject).cloned().unwrap_or_else(|| subject.clone()),
                subject,
                checked: EntityPermission::ALL.iter().map(|p| (p.as_str(), g.permissions.iter().any(|held| held == *p))).collect(),
            }
        })
        .collect();
    rows.push(GrantRow { index: rows.len(), subject: String::new(), label: String::new(), checked: EntityPermission::ALL.iter().map(|p| (p.as_str(), false)).collect() });
    let view = VisibilityView {
        name: a.name.clone(),
        tabs: tabs(&scope, &acl, &a, "/visibility"),
        id: a.id.to_string(),
        org_id: scope.org.id.to_string(),
        private: a.visibility == portcullis_domain::Visibility::Private,
        rows,
        subjects,
        permissions: EntityPermission::ALL.iter().map(|p| p.as_str()).collect(),
        csrf_token: scope.caller.csrf_token(&state),
        saved: q.saved.is_some(),
    };
    let nav = pages::nav::for_caller(&state, &scope.caller, "/automations");
    pages::render(&format!("Visibility of {}", a.name), &nav, &view)
}

/// The grants of the posted form: `grant.<n>.subject` and `grant.<n>.<permission>`.
fn grants_of(form: &[(String, String)]) -> Result<Vec<api::GrantInfo>, String> {
    let mut subjects: Vec<(usize, String)> = Vec::new();
    let mut perms: HashMap<usize, Vec<String>> = HashMap::new();
    for (k, v) in form {
        let Some(rest) = k.strip_prefix("grant.") else { continue };
        let Some((n, field)) = rest.split_once('.') else { continue };
        let Ok(n) = n.parse::<usize>() else { continue };
        if field == "subject" {
            subjects.push((n, v.clone()));
        } else {
            perms.entry(n).or_default().push(field.to_owned());
        }
    }
    let mut out = Vec::new();
    for (n, subject) in subjects {
        let permissions = perms.remove(&n).unwrap_or_default();
        if subject.is_empty() || permissions.is_empty() {
            continue; // an empty row, or a grant with everything unchecked: no grant
        }
        let (t, id) = subject.split_once(':').ok_or_else(|| format!("`{subject}` is not a member or a role"))?;
        let subject_id = id.parse().map_err(|_| format!("`{subject}` is not a member or a role"))?;
        out.push(api::GrantInfo { subject_type: t.to_owned(), subject_id, permissions });
    }
    Ok(out)
}

/// `POST /automations/{id}/visibility`.
pub async fn save(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<AutomationQuery>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let back = format!("/automations/{id}/visibility?org={}", q.org);
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let scope = match scope::for_form(&state, &headers, &field("csrf_token"), &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let grants = match grants_of(&form) {
        Ok(g) => g,
        Err(why) => return pages::message(crate::error::Status::BadRequest, "Not saved", &why, Some((&back, "Back"))),
    };
    let visibility = field("visibility");
    match set_access(&state, &scope, &id, api::AutomationAccessInfo { visibility, grants }).await {
        Ok(_) => Redirect::to(&scope::href(&scope, &format!("/automations/{id}/visibility?saved=1"))).into_response(),
        Err(e) => pages::forms::refused(e, &back),
    }
}

#[cfg(test)]
mod tests {
    use super::grants_of;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn rows_become_grants_and_empty_rows_none() {
        let role = uuid::Uuid::new_v4();
        let g = grants_of(&form(&[
            ("csrf_token", "x"),
            ("grant.0.subject", &format!("role:{role}")),
            ("grant.0.run", "on"),
            ("grant.0.traces", "on"),
            ("grant.1.subject", &format!("user:{}", uuid::Uuid::new_v4())),
            ("grant.2.subject", ""),
            ("grant.2.run", "on"),
        ]))
        .unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].subject_type, "role");
        assert_eq!(g[0].subject_id, role);
        assert_eq!(g[0].permissions, ["run", "traces"]);
        assert!(grants_of(&form(&[("grant.0.subject", "nobody"), ("grant.0.run", "on")])).is_err());
    }
}
