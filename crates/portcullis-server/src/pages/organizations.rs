//! Organizations (factory-admins): every organization of the installation
//! with its members, and a new one, optionally with its first owner
//! invited. Creating is the API's own operation (`api::orgs::create_org`,
//! the creator its first owner); the owner's invitation is the Members
//! page's (`api::invitations::invite`, to the Owner role).

use crate::pages;
use crate::session::{Caller, OrgScope};
use crate::state::AppState;
use crate::timestamps::human;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Form;
use portcullis_api as api;
use portcullis_domain::{decide, Action, Principal, RoleKind};
use serde::Deserialize;

struct OrgRow {
    name: String,
    href: String,
    members: usize,
    owners: Vec<String>,
    created: String,
}

#[derive(askama::Template)]
#[template(path = "organizations.html")]
struct OrgsView {
    rows: Vec<OrgRow>,
    csrf_token: String,
    done: Option<String>,
    invite_url: Option<String>,
}

/// The page's query: what was just done.
#[derive(Deserialize, Default)]
pub struct OrgsQuery {
    #[serde(default)]
    done: Option<String>,
}

/// Installation administration, decided by the domain: the refusal, if not.
fn refusal(caller: &Caller) -> Option<Response> {
    let user = &caller.ctx.user;
    pages::scope::refusal_of(decide(&Principal { user_id: user.id, factory_admin: user.factory_admin, org: None }, Action::InstallationAdmin), "Organizations")
}

/// `GET /organizations`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<OrgsQuery>) -> Response {
    let Ok(caller) = Caller::from_headers(&state, &headers).await else { return pages::scope::sign_in_first("/organizations") };
    render(&state, &caller, q.done, None).await
}

async fn render(state: &AppState, caller: &Caller, done: Option<String>, invite_url: Option<String>) -> Response {
    if let Some(r) = refusal(caller) {
        return r;
    }
    let orgs = match state.store.list_orgs().await {
        Ok(o) => o,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let mut rows = Vec::with_capacity(orgs.len());
    for o in &orgs {
        let members = match state.store.list_members(o.id).await {
            Ok(m) => m,
            Err(e) => return crate::error::ApiError::from(e).into_response(),
        };
        rows.push(OrgRow {
            name: o.name.clone(),
            href: format!("/members?org={}", o.id),
            members: members.len(),
            owners: members.iter().filter(|m| m.role.kind == RoleKind::Owner).map(|m| m.user.email.clone()).collect(),
            created: human(o.created_at),
        });
    }
    let view = OrgsView { rows, csrf_token: caller.csrf_token(state), done, invite_url };
    let nav = pages::nav::for_caller(state, caller, "/organizations");
    pages::render("Organizations", &nav, &view)
}

/// The new organization form.
#[derive(Deserialize)]
pub struct NewOrgForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    /// Who to invite as its owner; empty: only the creator.
    #[serde(default)]
    owner_email: String,
}

/// `POST /organizations`.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<NewOrgForm>) -> Response {
    let caller = match pages::forms::caller(&state, &headers, &f.csrf_token, "/organizations").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(r) = refusal(&caller) {
        return r;
    }
    let org = match crate::api::orgs::create_org(&state, &caller, &f.name).await {
        Ok(o) => o,
        Err(e) => return pages::forms::refused(e, "/organizations"),
    };
    let email = f.owner_email.trim();
    if email.is_empty() {
        return render(&state, &caller, Some(format!("{} is created, with you as its owner", org.name)), None).await;
    }
    let owner_role = match state.store.get_predefined_role(org.id, RoleKind::Owner).await {
        Ok(r) => r,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let scope = match OrgScope::for_page(&state, caller, Some(org.id)).await {
        Ok(s) => s,
        Err(e) => return pages::forms::refused(e, "/organizations"),
    };
    match crate::api::invitations::invite(&state, &scope, api::CreateInvitation { email: email.to_owned(), role_id: Some(owner_role.id.0) }).await {
        Ok(inv) => {
            let what = format!("{} is created; {} is invited as its owner{}", org.name, inv.email, if inv.invite_url.is_some() { " (send them the link below)" } else { " and joins at their first sign-in" });
            render(&state, &scope.caller, Some(what), inv.invite_url).await
        }
        Err(e) => pages::forms::refused(e, "/organizations"),
    }
}
