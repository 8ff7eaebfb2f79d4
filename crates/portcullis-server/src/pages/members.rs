//! Members of an organization: role, last sign-in and its provider, live
//! browser sessions and CLI logins; invitations; and for those with
//! `organization_settings: manage` a role change, disable or enable, and
//! ending every session and CLI login. Reading needs `invitations: read`, as
//! the API's listing does. Every change is the API's own operation
//! (`api::members`, `api::invitations`), so the rules (only owners touch
//! owners, account-wide actions stay inside the organization) and the audit
//! entries are the same.

use crate::api::{invitations, members};
use crate::pages;
use crate::pages::scope::{self, OrgSwitch};
use crate::state::AppState;
use crate::timestamps::human;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_api as api;
use portcullis_domain::{Action, Feature, Level, RoleKind};
use serde::Deserialize;

struct MemberRow {
    id: String,
    name: String,
    email: String,
    role_id: String,
    role: String,
    last_sign_in: String,
    sessions: i64,
    cli_logins: i64,
    disabled: bool,
    is_me: bool,
    /// The decision allows changing this member (only owners change owners).
    manageable: bool,
}

struct InvitationRow {
    id: String,
    email: String,
    role: String,
    expires: String,
    ended: String,
}

#[derive(askama::Template)]
#[template(path = "members.html")]
struct MembersView {
    switch: OrgSwitch,
    rows: Vec<MemberRow>,
    /// Every role: (id, name, may be given here, may be invited to).
    roles: Vec<(String, String, bool, bool)>,
    invitations: Vec<InvitationRow>,
    can_manage: bool,
    can_invite: bool,
    csrf_token: String,
    done: Option<String>,
    invite_url: Option<String>,
}

/// The page's query: organization, and what was just done.
#[derive(Deserialize, Default)]
pub struct MembersQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    done: Option<String>,
}

const AREA: &str = "Members";

/// `GET /members`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<MembersQuery>) -> Response {
    let scope = match scope::for_view(&state, &headers, &q.org, "/members").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    render(&state, scope, q.done, None).await
}

async fn render(state: &AppState, scope: crate::session::OrgScope, done: Option<String>, invite_url: Option<String>) -> Response {
    if let Some(r) = scope::refusal(&scope, Action::Feature(Feature::Invitations, Level::Read), AREA) {
        return r;
    }
    let now = state.clock.now();
    let loaded = tokio::try_join!(
        async { state.store.list_members(scope.org.id).await.map_err(crate::error::ApiError::from) },
        async { state.store.list_member_activity(scope.org.id, now).await.map_err(crate::error::ApiError::from) },
        async { state.store.list_roles(scope.org.id).await.map_err(crate::error::ApiError::from) },
        invitations::pending(state, &scope),
    );
    let (list, activity, roles, pending) = match loaded {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let me = scope.caller.ctx.user.id;
    let rows = list
        .iter()
        .map(|m| {
            let a = activity.get(&m.user.id).cloned().unwrap_or_default();
            MemberRow {
                id: m.user.id.to_string(),
                name: m.user.display_name.clone(),
                email: m.user.email.clone(),
                role_id: m.role.id.to_string(),
                role: m.role.name.clone(),
                last_sign_in: match (a.last_sign_in_at, a.last_sign_in_provider) {
                    (Some(at), Some(p)) => format!("{} with {p}", human(at)),
                    (Some(at), None) => human(at),
                    _ => "never".into(),
                },
                sessions: a.browser_sessions,
                cli_logins: a.cli_logins,
                disabled: m.user.is_disabled(),
                is_me: m.user.id == me,
                manageable: scope.allows(Action::ManageMember(m.role.kind)),
            }
        })
        .collect();
    let view = MembersView {
        switch: OrgSwitch::new(&scope, "/members"),
        rows,
        roles: roles.iter().map(|r| (r.id.to_string(), r.name.clone(), scope.allows(Action::ManageMember(r.kind)), scope.allows(Action::Invite(r.kind)))).collect(),
        invitations: pending
            .into_iter()
            .map(|i| InvitationRow { id: i.id.to_string(), email: i.email, role: i.role.name, expires: i.expires_at, ended: i.ended.unwrap_or_default() })
            .collect(),
        can_manage: scope.allows(Action::Feature(Feature::OrganizationSettings, Level::Manage)),
        can_invite: scope.allows(Action::Invite(RoleKind::Member)),
        csrf_token: scope.caller.csrf_token(state),
        done,
        invite_url,
    };
    let nav = pages::nav::for_caller(state, &scope.caller, "/members");
    pages::render(AREA, &nav, &view)
}

/// The forms of the page.
#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    role_id: String,
    #[serde(default)]
    email: String,
}

/// The page's forms' query.
#[derive(Deserialize, Default)]
pub struct OrgQuery {
    #[serde(default)]
    org: String,
}

fn done(scope: &crate::session::OrgScope, what: &str) -> Response {
    let q = serde_urlencoded::to_string([("org", scope.org.id.to_string().as_str()), ("done", what)]).unwrap_or_default();
    Redirect::to(&format!("/members?{q}")).into_response()
}

/// `POST /members/{id}/{action}`: `role` (with `role_id`), `disable`,
/// `enable` or `sign-out`.
pub async fn act(State(state): State<AppState>, headers: HeaderMap, Path((id, action)): Path<(String, String)>, Query(q): Query<OrgQuery>, Form(f): Form<MemberForm>) -> Response {
    let back = format!("/members?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let update = |role_id: Option<uuid::Uuid>, disabled: Option<bool>| api::UpdateMember { role_id, disabled };
    let result = match action.as_str() {
        "role" => match f.role_id.parse() {
            Ok(r) => members::change(&state, &scope, &id, update(Some(r), None)).await.map(|m| format!("{} is now {}", m.user.display_name, m.role.name)),
            Err(_) => return pages::message(crate::error::Status::BadRequest, "Not saved", "Choose a role from the list.", Some((&back, "Back"))),
        },
        "disable" => members::change(&state, &scope, &id, update(None, Some(true))).await.map(|m| format!("{} is disabled and signed out everywhere", m.user.display_name)),
        "enable" => members::change(&state, &scope, &id, update(None, Some(false))).await.map(|m| format!("{} may sign in again", m.user.display_name)),
        "sign-out" => members::sign_out_everywhere(&state, &scope, &id).await.map(|n| format!("{n} browser sessions and every CLI login ended")),
        _ => return pages::message(crate::error::Status::NotFound, "Not found", "No such action on a member.", Some((&back, "Back"))),
    };
    match result {
        Ok(what) => done(&scope, &what),
        Err(e) => pages::forms::refused(e, &back),
    }
}

/// `POST /members/invite`: an invitation; where `local` is a provider the
/// page shows its one-time link (once: it is stored only as a hash).
pub async fn invite(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<OrgQuery>, Form(f): Form<MemberForm>) -> Response {
    let back = format!("/members?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let role_id = match f.role_id.trim() {
        "" => None,
        r => match r.parse() {
            Ok(id) => Some(id),
            Err(_) => return pages::message(crate::error::Status::BadRequest, "Not sent", "Choose a role from the list.", Some((&back, "Back"))),
        },
    };
    match invitations::invite(&state, &scope, api::CreateInvitation { email: f.email, role_id }).await {
        Ok(inv) => {
            let what = match inv.invite_url {
                Some(_) => format!("{} is invited; send them the link below", inv.email),
                None => format!("{} is invited and joins at their first sign-in through the identity provider", inv.email),
            };
            render(&state, scope, Some(what), inv.invite_url).await
        }
        Err(e) => pages::forms::refused(e, &back),
    }
}

/// `POST /members/invitations/{id}/withdraw`.
pub async fn withdraw(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<OrgQuery>, Form(f): Form<MemberForm>) -> Response {
    let back = format!("/members?org={}", q.org);
    let scope = match scope::for_form(&state, &headers, &f.csrf_token, &q.org, &back).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match invitations::withdraw(&state, &scope, &id).await {
        Ok(()) => done(&scope, "The invitation is withdrawn"),
        Err(e) => pages::forms::refused(e, &back),
    }
}
