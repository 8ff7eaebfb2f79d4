//! `GET /account`: My account. Who I am, my organizations and roles, my
//! browser sessions and my CLI logins, each of which I can end (the same
//! operations as `DELETE /api/v1/me/sessions/{id}` and
//! `DELETE /api/v1/me/cli-logins/{id}`, in `crate::signout::own`).

use crate::error::Status;
use crate::pages;
use crate::session::{clear_cookie, Caller};
use crate::signout::own;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_domain::{SessionId, SessionStatus};
use serde::Deserialize;

/// One browser session, as the page shows it.
struct SessionRow {
    id: String,
    provider: String,
    started: String,
    last_used: String,
    /// The address and the browser it started from.
    from: String,
    current: bool,
}

/// One CLI login, as the page shows it.
struct CliLoginRow {
    id: String,
    client_id: String,
    started: String,
    last_used: String,
    ends: String,
}

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountView<'a> {
    display_name: &'a str,
    email: &'a str,
    factory_admin: bool,
    orgs: Vec<pages::OrgRow>,
    sessions: Vec<SessionRow>,
    cli_logins: Vec<CliLoginRow>,
    csrf_token: &'a str,
}

/// `GET /account`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(caller) = Caller::from_headers(&state, &headers).await else {
        return Redirect::to("/auth/login?return_to=/account").into_response();
    };
    let ctx = &caller.ctx;
    let now = state.clock.now();
    let sessions = match state.store.list_sessions(ctx.user.id, now).await {
        Ok(s) => s,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let cli_logins = match own::cli_logins(&state, &caller).await {
        Ok(c) => c,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let time = crate::timestamps::human;
    let csrf = caller.csrf_token(&state);
    let view = AccountView {
        display_name: &ctx.user.display_name,
        email: &ctx.user.email,
        factory_admin: ctx.user.factory_admin,
        orgs: ctx.memberships.iter().map(|m| pages::OrgRow { name: m.org.name.clone(), role: m.role.name.clone() }).collect(),
        sessions: sessions
            .iter()
            .filter(|s| s.times.status(now, &state.config.session) == SessionStatus::Active)
            .map(|s| SessionRow {
                id: s.id.to_string(),
                provider: s.provider.clone(),
                started: time(s.times.created_at),
                last_used: time(s.times.last_seen_at),
                from: format!("{} ({})", s.ip.as_deref().unwrap_or("unknown address"), s.user_agent.as_deref().unwrap_or("unknown browser")),
                current: s.id == ctx.session.id,
            })
            .collect(),
        cli_logins: cli_logins
            .iter()
            .map(|f| CliLoginRow {
                id: f.family_id.clone(),
                client_id: f.client_id.clone(),
                started: time(f.started_at),
                last_used: time(f.last_used_at),
                ends: time(f.expires_at),
            })
            .collect(),
        csrf_token: &csrf,
    };
    let nav = pages::nav::for_caller(&state, &caller, "/account");
    pages::render("My account", &nav, &view)
}

/// The form of an End button.
#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /account/sessions/{id}/end`.
pub async fn end_session(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Form(form): Form<EndForm>) -> Response {
    let caller = match pages::forms::caller(&state, &headers, &form.csrf_token, "/account").await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Ok(id) = id.parse::<uuid::Uuid>().map(SessionId) else { return gone("session") };
    let current = id == caller.ctx.session.id;
    match own::end_session(&state, &caller, id).await {
        Ok(true) if current => {
            // Ending this very session is signing out.
            let mut resp = Redirect::to("/auth/login").into_response();
            if let Ok(v) = HeaderValue::from_str(&clear_cookie(&state, crate::session::cookies::session_cookie_name(&state))) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Ok(true) => Redirect::to("/account#sessions").into_response(),
        Ok(false) => gone("session"),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// `POST /account/cli-logins/{id}/end`.
pub async fn end_cli_login(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap, Form(form): Form<EndForm>) -> Response {
    let caller = match pages::forms::caller(&state, &headers, &form.csrf_token, "/account").await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match own::end_cli_login(&state, &caller, &id).await {
        Ok(true) => Redirect::to("/account#cli-logins").into_response(),
        Ok(false) => gone("CLI login"),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

fn gone(what: &str) -> Response {
    pages::message(
        Status::NotFound,
        "Nothing to end",
        &format!("This {what} is not one of yours, or it has ended already."),
        Some(("/account", "Back to My account")),
    )
}
