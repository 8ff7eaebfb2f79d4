//! Sign-in through an external identity provider, whatever its protocol:
//! `GET /auth/{provider}/login` starts it, the IdP sends the browser back
//! to `/auth/{provider}/callback` (a GET for OpenID Connect, the ACS POST for
//! SAML), and everything after the protocol's own checks is the same for
//! every provider: provisioning (`super::provision`), then the session
//! (`super::complete`, or for SAML first the same-site hand-over of
//! `super::saml_complete`).
//!
//! The protocols themselves are `crate::idp`'s, behind
//! [`IdentityProvider`]; this file only carries their pending transactions
//! in cookies and their results into the pipeline.

use super::complete::Success;
use super::provision::{self, IdpRef};
use crate::audit::{self, Entry};
use crate::idp::error::SignInError;
use crate::idp::provider::{Answer, Exchange, IdentityProvider, Protocol, Started};
use crate::session::transaction::{clear_pending, read_pending, set_pending};
use crate::session::ClientIp;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_domain::validation::safe_return_to;
use serde::Deserialize;
use crate::idp::saml::SamlProvider;
use axum::http::HeaderValue;
use std::sync::Arc;

/// The largest ACS request body read (the form around `SAMLResponse`);
/// the response itself is capped lower, with an explanation.
pub const MAX_ACS_BODY: usize = 2 * 1024 * 1024;

/// What the protocols get of the server's state.
pub fn exchange(state: &AppState) -> Exchange<'_> {
    Exchange {
        store: state.store.as_ref(),
        clock: state.clock.as_ref(),
        http: &state.sso.http,
        sealer: &state.sealer,
        public_origin: state.config.public_origin(),
        logged_out_url: state.config.public("/auth/logged-out"),
    }
}

/// The browser sent to where a trip to the IdP starts, keeping its pending
/// transaction, if the protocol has one.
pub fn go(state: &AppState, started: Started) -> Response {
    let mut resp = Redirect::to(&started.redirect_to).into_response();
    if let Some(v) = started.pending.as_ref().and_then(|p| set_pending(state, p)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn unknown(provider: &str, headers: &HeaderMap) -> Response {
    SignInError::UnknownProvider(provider.chars().take(40).collect()).respond(provider, "", headers)
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /auth/{provider}/login?return_to=/path`.
pub async fn login_route(State(state): State<AppState>, Path(provider): Path<String>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let Some(p) = state.sso.provider(&provider) else { return unknown(&provider, &headers) };
    let return_to = safe_return_to(q.return_to.as_deref(), &state.config.public_origin());
    match p.start_sign_in(exchange(&state), return_to).await {
        Ok(started) => go(&state, started),
        Err(e) => e.respond(p.name(), p.callback_url(), &headers),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/{provider}/callback`: an OpenID provider's answer.
pub async fn callback_route(State(state): State<AppState>, Path(provider): Path<String>, ClientIp(ip): ClientIp, headers: HeaderMap, Query(q): Query<CallbackQuery>) -> Response {
    let Some(p) = state.sso.provider(&provider).filter(|p| p.protocol() == Protocol::OpenIdConnect) else { return unknown(&provider, &headers) };
    let answer = Answer::Callback {
        code: q.code.as_deref(),
        state: q.state.as_deref(),
        iss: q.iss.as_deref(),
        error: q.error.as_deref(),
        error_description: q.error_description.as_deref(),
    };
    finish(&state, p, ip, &headers, answer).await
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse", default)]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `POST /auth/{provider}/callback`: a SAML IdP's Response, at the
/// assertion consumer service.
pub async fn acs_route(State(state): State<AppState>, Path(provider): Path<String>, ClientIp(ip): ClientIp, headers: HeaderMap, axum::Form(form): axum::Form<AcsForm>) -> Response {
    let Some(p) = state.sso.provider(&provider).filter(|p| p.protocol() == Protocol::Saml) else { return unknown(&provider, &headers) };
    let answer = Answer::Post { saml_response: &form.saml_response, relay_state: form.relay_state.as_deref() };
    finish(&state, p, ip, &headers, answer).await
}

async fn finish(state: &AppState, p: Arc<dyn IdentityProvider>, ip: Option<String>, headers: &HeaderMap, answer: Answer<'_>) -> Response {
    // The pending transaction is spent whatever happens next.
    let cookie = p.pending_for(&answer);
    let pending = cookie.as_ref().and_then(|c| read_pending(state, headers, c));
    // A test sign-in from Sign-in settings: checked and reported, no session.
    if let Some(admin) = super::test_sign_in::marked(state, headers, p.name()) {
        let mut resp = super::test_sign_in::finish(state, p.clone(), admin, answer, pending).await;
        if let Some(v) = cookie.as_ref().and_then(|c| clear_pending(state, c)) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        return resp;
    }
    let mut resp = match signed_in(state, p.as_ref(), ip.clone(), headers, answer, pending).await {
        Ok(resp) => resp,
        Err(e) => {
            let reason: String = match p.protocol() {
                Protocol::OpenIdConnect => format!("{e:?}"),
                Protocol::Saml => e.detail(),
            };
            // The cause and fix as the page said them, for Sign-in settings.
            let (_, cause, fix) = e.explain(p.callback_url());
            let mut detail = serde_json::json!({ "provider": p.name(), "reason": reason.chars().take(300).collect::<String>(), "cause": cause, "fix": fix });
            if p.protocol() == Protocol::Saml {
                detail["protocol"] = "saml".into();
            }
            audit::record(state, Entry::new("login", false).ip(ip).detail(detail)).await;
            super::complete::record_attempt(state, None, p.name(), false).await;
            crate::telemetry::sign_in(p.name(), Some(e.code()));
            e.respond(p.name(), p.callback_url(), headers)
        }
    };
    if let Some(v) = cookie.as_ref().and_then(|c| clear_pending(state, c)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The protocol's checks, then the pipeline every sign-in shares.
async fn signed_in(state: &AppState, p: &dyn IdentityProvider, ip: Option<String>, headers: &HeaderMap, answer: Answer<'_>, pending: Option<Vec<u8>>) -> Result<Response, SignInError> {
    let finished = p.finish_sign_in(exchange(state), answer, pending).await?;
    let who = IdpRef { provider: p.name(), display_name: p.display_name(), issuer: &finished.issuer, require_role: p.require_role() };
    let user = provision::sign_in(state, who, &finished.identity).await?;
    let idp_session = finished.name_at_idp.as_ref().map(|n| n.seal(&state.sealer, &user.id));
    let roles = finished.identity.roles;
    match p.protocol() {
        // The session starts on the next, same-site request: the ACS POST
        // came from the IdP's site, so the browser did not send its
        // SameSite=Lax session cookie, and the session it holds could not
        // be ended here.
        Protocol::Saml => Ok(super::saml_complete::hand_over(state, p.name(), &user, idp_session, &finished.return_to, roles)),
        Protocol::OpenIdConnect => {
            let success = Success {
                user: &user,
                provider: p.name(),
                ip,
                idp_session,
                login_audit: Some(Entry::new("login", true).detail(serde_json::json!({ "provider": p.name(), "roles": roles }))),
                return_to: &finished.return_to,
                also_set: vec![],
            };
            super::complete::complete(state, headers, success).await
        }
    }
}

/// `GET /auth/<provider>/metadata`: this SP's metadata, for the IdP.
fn metadata(p: &SamlProvider) -> Response {
    let mut r = p.sp.metadata_xml().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/samlmetadata+xml"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// `GET /auth/<provider>/metadata`.
pub async fn metadata_route(State(state): State<AppState>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    match state.sso.saml(&provider) {
        Some(p) => metadata(&p),
        None => SignInError::UnknownProvider(provider.chars().take(40).collect()).respond(&provider, "", &headers),
    }
}
