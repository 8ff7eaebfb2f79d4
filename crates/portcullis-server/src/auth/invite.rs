//! The one-time invitation link: an invited local user chooses a password
//! and is signed in.

use super::local::{form_cookie, start_session, verify_form_csrf, with_cookie, ClientIp};
use crate::audit::{self, Entry};
use crate::error::ApiError;
use crate::keys::token_hash;
use crate::pages;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_domain::validation;
use serde::Deserialize;
use std::time::Duration;

/// How long an invitation link stays valid.
pub const LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

fn invalid_link() -> Response {
    pages::message(
        StatusCode::NOT_FOUND,
        "Invitation not valid",
        "This invitation link is unknown, expired (links last 7 days) or already used. Ask an administrator of your organization for a new one, or sign in if you have set your password.",
        Some(("/auth/local/login", "Sign in")),
    )
}

#[derive(Deserialize)]
pub struct InviteQuery {
    #[serde(default)]
    token: String,
}

async fn invited_email(state: &AppState, token: &str) -> Result<Option<String>, ApiError> {
    let Some(user) = state.store.peek_invitation(&token_hash(token), state.clock.now()).await? else { return Ok(None) };
    Ok(state.store.get_user(user).await?.map(|u| u.email))
}

pub async fn invite_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<InviteQuery>) -> Response {
    let email = match invited_email(&state, &q.token).await {
        Ok(Some(e)) => e,
        Ok(None) => return invalid_link(),
        Err(e) => return e.into_response(),
    };
    let (binding, set) = form_cookie(&state, &headers);
    let csrf = state.keys.csrf_token("form", &binding);
    let resp = pages::invite(StatusCode::OK, &pages::InviteView { csrf_token: &csrf, token: &q.token, email: &email, error: None });
    with_cookie(resp, set)
}

#[derive(Deserialize)]
pub struct InviteSubmit {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn invite_submit(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, Form(f): Form<InviteSubmit>) -> Response {
    let email = match invited_email(&state, &f.token).await {
        Ok(Some(e)) => e,
        Ok(None) => return invalid_link(),
        Err(e) => return e.into_response(),
    };
    let (binding, _) = form_cookie(&state, &headers);
    let again = |status: StatusCode, msg: &str| {
        let csrf = state.keys.csrf_token("form", &binding);
        pages::invite(status, &pages::InviteView { csrf_token: &csrf, token: &f.token, email: &email, error: Some(msg) })
    };
    if !verify_form_csrf(&state, &headers, &f.csrf_token) {
        return again(StatusCode::FORBIDDEN, "This form expired or was not sent from this site. Fill it in again.");
    }
    if let Err(e) = validation::new_password(&f.password) {
        return again(StatusCode::BAD_REQUEST, &e.to_string());
    }
    if f.password != f.password_confirm {
        return again(StatusCode::BAD_REQUEST, "The two passwords differ. Type the same password twice.");
    }
    let hash = match state.passwords.hash(f.password.clone()).await {
        Ok(h) => h,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    // Uses the link and sets the password in one transaction.
    let user_id = match state.store.accept_invitation(&token_hash(&f.token), &hash, state.clock.now()).await {
        Ok(Some(u)) => u,
        Ok(None) => return invalid_link(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let user = match state.store.get_user(user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return invalid_link(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    audit::record(&state, Entry::new("user.invitation_accepted", true).actor(user.id, &user.email).target(format!("user:{}", user.id)).ip(ip.clone())).await;
    if user.is_disabled() {
        return pages::message(StatusCode::FORBIDDEN, "Account disabled", "Your password is set, but this account is disabled. Ask an owner of your organization to enable it.", None);
    }
    match start_session(&state, &user, "local", ip, &headers, None).await {
        Ok(cookie) => {
            let mut resp = Redirect::to("/").into_response();
            *resp.status_mut() = StatusCode::SEE_OTHER;
            resp.headers_mut().append(header::SET_COOKIE, cookie);
            resp
        }
        Err(e) => e.into_response(),
    }
}
