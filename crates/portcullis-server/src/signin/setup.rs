//! The one-time setup link: lets the first person create the owner account
//! of the default organization.

use crate::error::Status;
use super::complete::Success;
use crate::session::{form_cookie, verify_form_csrf, with_cookie, ClientIp};
use crate::audit::{self, Entry};
use crate::error::ApiError;
use crate::keys::token_hash;
use crate::pages;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Form;
use portcullis_domain::{validation, RoleKind};
use portcullis_storage::{NewUser, StoreError};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

fn invalid_link() -> Response {
    pages::message(
        Status::NotFound,
        "Setup link not valid",
        "This setup link is unknown, expired or already used. While no account exists, Portcullis prints a new link each time it starts: restart it and use the newest link. If an owner exists already, sign in instead.",
        Some(("/auth/local/login", "Sign in")),
    )
}

pub async fn setup_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<SetupQuery>) -> Response {
    let org = match state.store.find_setup_token(&token_hash(&q.token), state.clock.now()).await {
        Ok(Some(org)) => org,
        Ok(None) => return invalid_link(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let org_name = match state.store.get_org(org).await {
        Ok(Some(o)) => o.name,
        Ok(None) => return invalid_link(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (binding, set) = form_cookie(&state, &headers);
    let csrf = state.keys.csrf_token("form", &binding);
    let resp = pages::setup(
        Status::Ok,
        &pages::SetupView { csrf_token: &csrf, token: &q.token, org_name: &org_name, email: "", display_name: "", error: None },
    );
    with_cookie(resp, set)
}

#[derive(Deserialize)]
pub struct SetupSubmit {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn setup_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<SetupSubmit>,
) -> Response {
    let now = state.clock.now();
    let hash = token_hash(&f.token);
    let org = match state.store.find_setup_token(&hash, now).await {
        Ok(Some(org)) => org,
        Ok(None) => return invalid_link(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let org_name = state.store.get_org(org).await.ok().flatten().map(|o| o.name).unwrap_or_default();
    let (binding, _) = form_cookie(&state, &headers);
    let again = |status: Status, msg: &str| {
        let csrf = state.keys.csrf_token("form", &binding);
        pages::setup(
            status,
            &pages::SetupView {
                csrf_token: &csrf,
                token: &f.token,
                org_name: &org_name,
                email: &f.email,
                display_name: &f.display_name,
                error: Some(msg),
            },
        )
    };
    if !verify_form_csrf(&state, &headers, &f.csrf_token) {
        return again(Status::Forbidden, "This form expired or was not sent from this site. Fill it in again.");
    }
    let email = match validation::email(&f.email) {
        Ok(e) => e,
        Err(e) => return again(Status::BadRequest, &e.to_string()),
    };
    if let Err(e) = validation::new_password(&f.password) {
        return again(Status::BadRequest, &e.to_string());
    }
    if f.password != f.password_confirm {
        return again(Status::BadRequest, "The two passwords differ. Type the same password twice.");
    }
    let display_name = if f.display_name.trim().is_empty() {
        email.split('@').next().unwrap_or("Owner").to_owned()
    } else {
        match validation::name("display_name", &f.display_name) {
            Ok(n) => n,
            Err(e) => return again(Status::BadRequest, &e.to_string()),
        }
    };
    let password_hash = match state.passwords.hash(f.password.clone()).await {
        Ok(h) => h,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    // Use the link up first: of two concurrent submissions exactly one gets
    // past this point.
    match state.store.consume_setup_token(&hash, now).await {
        Ok(Some(_)) => {}
        Ok(None) => return invalid_link(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let failed = |e: StoreError| {
        tracing::error!(error = %e, "setup failed after the link was used");
        pages::message(
            Status::Internal,
            "Setup failed",
            "The owner account could not be created. Restart Portcullis: while no account exists it prints a new setup link.",
            None,
        )
    };
    let user = match state
        .store
        .create_user(NewUser { email: email.clone(), display_name, password_hash: Some(password_hash), factory_admin: true }, now)
        .await
    {
        Ok(u) => u,
        Err(e) => return failed(e),
    };
    let owner_role = match state.store.get_predefined_role(org, RoleKind::Owner).await {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    if let Err(e) = state.store.create_member(org, user.id, owner_role.id, now).await {
        return failed(e);
    }
    audit::record(&state, Entry::new("setup.complete", true).org(org).actor(user.id, &user.email).target(format!("user:{}", user.id)).ip(ip.clone())).await;
    tracing::info!(email = %user.email, "setup complete: owner account created");
    let success = Success { user: &user, provider: "local", ip, idp_session: None, login_audit: None, return_to: "/", also_set: vec![] };
    super::complete::complete(&state, &headers, success).await.unwrap_or_else(|e| e.respond("local", "", &headers))
}
