//! The built-in `local` provider: the sign-in form, sign-out, and the
//! signed-in landing page.

use crate::error::Status;
use super::{check_same_origin, clear_cookie, cookie, set_cookie, Caller};
use crate::audit::{self, Entry};
use crate::error::{ApiError, ApiResult};
use crate::keys::{random_token, token_hash};
use crate::pages;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use portcullis_domain::validation::{email as valid_email, safe_return_to};
use portcullis_domain::{SessionId, SessionTimes};
use portcullis_storage::{CheckOutcome, NewSession, User};
use serde::Deserialize;

/// The client's address, as an extractor.
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(super::client_ip(state, parts)))
    }
}

pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// The pre-session cookie for forms, created when absent. Returns its value
/// and the `Set-Cookie` to send when it is new.
pub fn form_cookie(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, state.form_cookie_name()).filter(|v| v.len() >= 32) {
        Some(v) => (v.to_owned(), None),
        None => {
            let v = random_token();
            let set = set_cookie(state, state.form_cookie_name(), &v, 3600);
            (v, Some(set))
        }
    }
}

/// Checks a form's CSRF token against the pre-session cookie.
pub fn verify_form_csrf(state: &AppState, headers: &HeaderMap, presented: &str) -> bool {
    check_same_origin(state, headers).is_ok()
        && cookie(headers, state.form_cookie_name())
            .is_some_and(|c| state.keys.verify_csrf("form", c, presented))
}

/// Adds a `Set-Cookie` (when there is one) to a response.
pub fn with_cookie(mut resp: Response, set: Option<String>) -> Response {
    if let Some(c) = set.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

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
                crate::api::convert::rfc3339(at)
            );
            return fail(Status::TooManyRequests, "throttled", msg, &form.email, Some(secs));
        }
    };

    let user = match state.store.get_local_user_by_email(&account).await {
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
            crate::usage::record_signin(&state, None, "local", false).await;
            return fail(Status::Unauthorized, "invalid_credentials", wrong, &form.email, None);
        }
        (Some(u), false) => {
            let reason = if u.password_hash.is_none() { "no_password_set" } else { "wrong_password" };
            audit::record(&state, entry(false, reason).actor(u.id, &u.email)).await;
            ticket.finish(CheckOutcome::Failed).await;
            crate::usage::record_signin(&state, Some(u.id), "local", false).await;
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

    match start_session(&state, &user, "local", ip.clone(), &headers, None).await {
        Ok(cookie) => {
            audit::record(&state, entry(true, "password").actor(user.id, &user.email)).await;
            crate::usage::record_signin(&state, Some(user.id), "local", true).await;
            let mut resp = Redirect::to(&rt).into_response();
            resp.headers_mut().append(header::SET_COOKIE, cookie);
            if let Ok(c) = HeaderValue::from_str(&clear_cookie(&state, state.form_cookie_name())) {
                resp.headers_mut().append(header::SET_COOKIE, c);
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// What a session started through an IdP keeps for logout: the IdP's
/// session id (OIDC `sid`, SAML `SessionIndex`) and, sealed, what names the
/// session to the IdP (the OIDC ID token, the SAML NameID).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct IdpSessionInfo {
    pub sid: Option<String>,
    pub id_token_sealed: String,
    /// SAML: what the IdP's LogoutRequests name the session by.
    pub name_id_hash: Option<String>,
}

/// Starts a new session for `user` and returns its `Set-Cookie` header.
/// The session the browser had before (if any) is revoked: the id always
/// changes at sign-in, so a planted cookie cannot be upgraded.
pub async fn start_session(
    state: &AppState,
    user: &User,
    provider: &str,
    ip: Option<String>,
    headers: &HeaderMap,
    idp: Option<IdpSessionInfo>,
) -> ApiResult<HeaderValue> {
    let now = state.clock.now();
    if let Some(old) = cookie(headers, state.session_cookie_name()) {
        let old_hash = token_hash(old);
        if let Some(rec) = state.store.get_session_by_token_hash(&old_hash).await? {
            state.store.revoke_session(rec.user_id, rec.id, now).await?;
        }
        state.sessions.evict(&old_hash);
    }
    let token = random_token();
    let policy = state.config.session;
    state
        .store
        .create_session(NewSession {
            id: SessionId::new(),
            token_hash: token_hash(&token),
            user_id: user.id,
            times: SessionTimes::start(now, &policy),
            provider: provider.to_owned(),
            ip,
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
            idp_sid: idp.as_ref().and_then(|i| i.sid.clone()),
            idp_name_id_hash: idp.as_ref().and_then(|i| i.name_id_hash.clone()),
            id_token_sealed: idp.map(|i| i.id_token_sealed),
        })
        .await?;
    let cookie = set_cookie(state, state.session_cookie_name(), &token, policy.absolute_lifetime.as_secs());
    HeaderValue::from_str(&cookie).map_err(ApiError::internal)
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /auth/logout`: ends the session (CSRF-protected: form field
/// `csrf_token` or header `X-CSRF-Token`).
pub async fn logout(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form = serde_urlencoded::from_bytes::<LogoutForm>(&body).ok();
    let clearing_cookie = |mut resp: Response| {
        if let Ok(c) = HeaderValue::from_str(&clear_cookie(&state, state.session_cookie_name())) {
            resp.headers_mut().append(header::SET_COOKIE, c);
        }
        resp
    };
    let to_login = || {
        let resp = Redirect::to("/auth/login").into_response();
        clearing_cookie(resp)
    };
    let caller = match Caller::from_headers(&state, &headers).await {
        Ok(c) => c,
        // No valid session: nothing to end.
        Err(_) => return to_login(),
    };
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(form.map(|f| f.csrf_token))
        .unwrap_or_default();
    if check_same_origin(&state, &headers).is_err()
        || !state.keys.verify_csrf("session", &caller.ctx.session.id.to_string(), &presented)
    {
        return pages::message(
            Status::Forbidden,
            "Sign-out refused",
            "The sign-out request did not come from a Portcullis page (missing or wrong CSRF token). Use the Sign out button.",
            Some(("/", "Back")),
        );
    }
    let user = &caller.ctx.user;
    if let Err(e) = state.store.revoke_session(user.id, caller.ctx.session.id, state.clock.now()).await {
        return ApiError::from(e).into_response();
    }
    state.sessions.evict(&caller.token_hash);
    audit::record(&state, Entry::new("logout", true).actor(user.id, &user.email).target(format!("session:{}", caller.ctx.session.id)).ip(ip)).await;
    // Signed in through an IdP that offers logout, end the session there
    // too: OpenID RP-initiated logout, or SAML single logout (a signed
    // LogoutRequest, its answer bound to this browser by a cookie).
    let provider = caller.ctx.session.provider.clone();
    let (session, user_id) = (caller.ctx.session.id, user.id);
    let handoff = match crate::sso::logout::end_session_url(&state, &provider, session, user_id).await {
        Some(url) => Some((url, state.sso.get(&provider).map(|p| p.settings.vendor().display_name()).unwrap_or("the identity provider"), None)),
        None => crate::saml::logout::start(&state, &provider, session, user_id).await.map(|(url, tx_cookie, name)| (url, name, Some(tx_cookie))),
    };
    let Some((url, name, tx_cookie)) = handoff else { return to_login() };
    let mut resp = clearing_cookie(if wants_json(&headers) {
        Json(serde_json::json!({ "signed_out": true, "end_session_url": url })).into_response()
    } else {
        crate::sso::logout::continue_to_idp(&url, name)
    });
    if let Some(c) = tx_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// `GET /`: who you are, or the way to sign in.
pub async fn landing(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match Caller::from_headers(&state, &headers).await {
        Ok(c) => c,
        Err(_) => return Redirect::to("/auth/login").into_response(),
    };
    let ctx = &caller.ctx;
    let csrf = caller.csrf_token(&state);
    let ends = crate::api::convert::rfc3339(ctx.session.times.ends_at(&state.config.session));
    pages::landing(&pages::LandingView {
        display_name: &ctx.user.display_name,
        email: &ctx.user.email,
        factory_admin: ctx.user.factory_admin,
        orgs: ctx.memberships.iter().map(|m| pages::OrgRow { name: m.org.name.clone(), role: m.role.name.clone() }).collect(),
        csrf_token: &csrf,
        session_ends: &ends,
    })
}
