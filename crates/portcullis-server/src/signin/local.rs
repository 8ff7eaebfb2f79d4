//! The built-in `local` provider: the sign-in form, sign-out, and the
//! signed-in landing page.

use crate::error::Status;
use super::complete::Success;
use crate::error::wants_json;
use crate::session::{clear_cookie, form_cookie, verify_form_csrf, with_cookie, ClientIp};
use crate::audit::{self, Entry};
use crate::error::ApiError;
use crate::pages;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use portcullis_domain::validation::{email as valid_email, safe_return_to};
use portcullis_storage::CheckOutcome;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /auth/local/login`: the sign-in form (or, for API clients asking
/// for JSON, just its CSRF token).
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    if !state.config.sso.local {
        return local_off(&headers);
    }
    let (binding, set) = form_cookie(&state, &headers);
    let csrf = state.keys.csrf_token("form", &binding);
    let resp = if wants_json(&headers) {
        Json(portcullis_api::LoginForm { csrf_token: csrf }).into_response()
    } else {
        let rt = safe_return_to(q.return_to.as_deref(), &state.config.public_origin());
        pages::login(Status::Ok, &pages::LoginView { csrf_token: &csrf, return_to: &rt, email: "", error: None })
    };
    with_cookie(resp, set)
}

#[derive(Deserialize)]
pub struct LoginSubmit {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
    return_to: Option<String>,
}

/// With `local` not among the providers, passwords are not accepted at all.
fn local_off(headers: &HeaderMap) -> Response {
    let msg = "Sign-in with a Portcullis password is not enabled on this server: `local` is not AUTH_PROVIDER nor listed in PORTCULLIS_AUTH_PROVIDERS. Sign in through your identity provider at /auth/login.";
    if wants_json(headers) {
        return ApiError::new(Status::NotFound, "local_sign_in_disabled", msg).into_response();
    }
    pages::message(Status::NotFound, "Password sign-in is off", msg, Some(("/auth/login", "Sign in")))
}

/// `POST /auth/local/login`.
pub async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginSubmit>,
) -> Response {
    if !state.config.sso.local {
        return local_off(&headers);
    }
    let json = wants_json(&headers);
    let rt = safe_return_to(form.return_to.as_deref(), &state.config.public_origin());
    let (binding, set) = form_cookie(&state, &headers);
    let fail = |status: Status, code: &'static str, msg: String, email: &str, retry: Option<u64>| -> Response {
        crate::telemetry::sign_in("local", Some(code));
        if json {
            let mut e = ApiError::new(status, code, msg);
            e.retry_after = retry;
            return e.into_response();
        }
        let csrf = state.keys.csrf_token("form", &binding);
        let mut resp = pages::login(status, &pages::LoginView { csrf_token: &csrf, return_to: &rt, email, error: Some(&msg) });
        if let Some(r) = retry {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(r));
        }
        resp
    };

    if !verify_form_csrf(&state, &headers, &form.csrf_token) {
        let resp = fail(
            Status::Forbidden,
            "csrf",
            "This sign-in form expired or was not sent from this site. Reload the page and sign in again.".into(),
            "",
            None,
        );
        return with_cookie(resp, set);
    }

    let now = state.clock.now();
    // What the e-mail field held, as the audit log, the logs and the
    // throttle see it: an address as typed (normalised), anything else only
    // as a keyed fingerprint, since people type passwords into it.
    let account = valid_email(&form.email).unwrap_or_else(|_| format!("(not an e-mail address: {})", state.keys.fingerprint("login-account", form.email.trim())));
    let entry = |ok: bool, reason: &str| {
        Entry::new(if ok { "login.success" } else { "login.failure" }, ok)
            .target(account.clone())
            .ip(ip.clone())
            .detail(serde_json::json!({ "provider": "local", "reason": reason }))
    };

    // The throttle, shared by every replica: the check is registered first,
    // so parallel guesses cannot all pass a count taken before any failed.
    let ticket = match super::throttle::admit(&state, &account, ip.as_deref()).await {
        Ok(t) => t,
        Err(super::throttle::Refusal::Error(e)) => return e.into_response(),
        Err(super::throttle::Refusal::Busy { account_wide }) => {
            let who = if account_wide { "for this account" } else { "from your network address" };
            return fail(
                Status::TooManyRequests,
                "throttled",
                format!("Other sign-ins {who} are being checked right now. Try again in a few seconds."),
                &form.email,
                Some(2),
            );
        }
        Err(super::throttle::Refusal::Wait { at, account_wide }) => {
            let who = if account_wide { "for this account" } else { "from your network address" };
            let secs = at.since(now).as_secs().max(1);
            audit::record(
                &state,
                Entry::new("login.throttled", false).target(account.clone()).ip(ip.clone()).detail(serde_json::json!({ "provider": "local", "retry_after_secs": secs })),
            )
            .await;
            let msg = format!(
                "Too many failed sign-ins {who}. Sign-in is paused until {} (in {secs} seconds); try again then, or ask an administrator to reset the password.",
                crate::timestamps::rfc3339(at)
            );
            return fail(Status::TooManyRequests, "throttled", msg, &form.email, Some(secs));
        }
    };

    let user = match state.store.find_local_user_by_email(&account).await {
        Ok(u) => u,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let password_ok = if form.password.len() > portcullis_domain::validation::MAX_PASSWORD_BYTES {
        false
    } else {
        match state.passwords.verify(form.password.clone(), hash).await {
            Ok(ok) => ok,
            Err(busy) => {
                let mut e = ApiError::new(Status::Unavailable, "busy", format!("Sign-in is busy: {busy}."));
                e.retry_after = Some(2);
                return e.into_response();
            }
        }
    };
    let wrong = "The e-mail address or the password is wrong. Check both and try again.".to_owned();
    let user = match (user, password_ok) {
        (None, _) => {
            audit::record(&state, entry(false, "unknown_account")).await;
            ticket.finish(CheckOutcome::Failed).await;
            super::complete::record_attempt(&state, None, "local", false).await;
            return fail(Status::Unauthorized, "invalid_credentials", wrong, &form.email, None);
        }
        (Some(u), false) => {
            let reason = if u.password_hash.is_none() { "no_password_set" } else { "wrong_password" };
            audit::record(&state, entry(false, reason).actor(u.id, &u.email)).await;
            ticket.finish(CheckOutcome::Failed).await;
            super::complete::record_attempt(&state, Some(u.id), "local", false).await;
            return fail(Status::Unauthorized, "invalid_credentials", wrong, &form.email, None);
        }
        (Some(u), true) if u.is_disabled() => {
            audit::record(&state, entry(false, "account_disabled").actor(u.id, &u.email)).await;
            ticket.finish(CheckOutcome::Withdrawn).await;
            return fail(
                Status::Forbidden,
                "account_disabled",
                "This account is disabled. Ask an owner of your organization to enable it.".into(),
                &form.email,
                None,
            );
        }
        (Some(u), true) => {
            ticket.finish(CheckOutcome::Succeeded).await;
            u
        }
    };

    let success = Success {
        user: &user,
        provider: "local",
        ip: ip.clone(),
        idp_session: None,
        login_audit: Some(entry(true, "password")),
        return_to: &rt,
        also_set: vec![clear_cookie(&state, crate::session::cookies::form_cookie_name(&state))],
    };
    super::complete::complete(&state, &headers, success).await.unwrap_or_else(|e| e.respond("local", "", &headers))
}

