//! The last step of a SAML sign-in: `GET /auth/<provider>/complete`.
//!
//! The IdP delivers its Response by a cross-site POST, on which the browser
//! withholds Portcullis's `SameSite=Lax` session cookie, so the ACS cannot
//! see (and end) the session the browser already holds. The ACS therefore
//! hands the verified sign-in over in a sealed, single-use, two-minute
//! cookie and redirects here: a top-level GET, which carries the session
//! cookie, so that starting the new session ends the old one, as at every
//! other sign-in (`crate::session::start_session`).

use crate::audit::Entry;
use super::complete::Success;
use crate::session::{ClientIp, IdpSessionInfo};
use crate::keys::token_hash;
use crate::idp::error::SignInError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_domain::UserId;
use portcullis_storage::User;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long the browser has to follow the redirect.
const LIFETIME: Duration = Duration::from_secs(120);

#[derive(Serialize, Deserialize)]
struct Completion {
    user: UserId,
    return_to: String,
    idp: Option<IdpSessionInfo>,
    roles: Vec<String>,
    /// Spent once, so the cookie cannot be replayed.
    nonce: String,
    expires_at: i64,
}

fn cookie_name(state: &AppState, provider: &str) -> String {
    crate::session::cookies::cookie_name(state, &format!("portcullis_saml_done_{provider}"))
}

fn aad(provider: &str) -> String {
    format!("saml-completion:{provider}")
}

/// `SameSite=Lax` is enough: it is set on the ACS's answer (a top-level
/// navigation) and read on the redirect that follows (another one).
fn set_cookie(state: &AppState, provider: &str, value: &str, max_age: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&crate::session::set_cookie(state, &cookie_name(state, provider), value, max_age)).ok()
}

/// The ACS's answer for a verified, provisioned sign-in: the hand-over
/// cookie and a redirect to [`complete`].
pub fn hand_over(state: &AppState, provider: &str, user: &User, idp: Option<IdpSessionInfo>, return_to: &str, roles: Vec<String>) -> Response {
    let c = Completion {
        user: user.id,
        return_to: return_to.to_owned(),
        idp,
        roles,
        nonce: crate::keys::random_token(),
        expires_at: state.clock.now().plus(LIFETIME).0,
    };
    let sealed = crate::session::transaction::seal_transaction(state, &c, &aad(provider));
    let mut resp = Redirect::to(&format!("/auth/{provider}/complete")).into_response();
    if let Some(v) = set_cookie(state, provider, &sealed, LIFETIME.as_secs()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn refused(cause: &str) -> SignInError {
    SignInError::Saml {
        check: "completion",
        cause: cause.into(),
        fix: "Start again from the sign-in page, in the same browser; cookies must be enabled for this site.".into(),
    }
}

async fn finish(state: &AppState, provider: &str, ip: Option<String>, headers: &HeaderMap) -> Result<Response, SignInError> {
    let now = state.clock.now();
    let c = crate::session::transaction::open_transaction::<Completion>(state, headers, &cookie_name(state, provider), &aad(provider))
        .ok_or_else(|| refused("No SAML sign-in is waiting to be completed in this browser."))?;
    if c.expires_at <= now.0 {
        return Err(refused("The SAML sign-in was not completed within two minutes."));
    }
    let db = SignInError::from;
    if !state.store.consume_once(portcullis_storage::OnceKind::SamlCompletion, &token_hash(&c.nonce), portcullis_domain::Timestamp(c.expires_at)).await.map_err(db)? {
        return Err(refused("This SAML sign-in was completed already."));
    }
    let user = state.store.get_user(c.user).await.map_err(db)?.ok_or(SignInError::Disabled)?;
    if user.is_disabled() {
        return Err(SignInError::Disabled);
    }
    // Ends the session this browser presented, and starts a new one.
    super::complete::complete(
        state,
        headers,
        Success {
            user: &user,
            provider,
            ip,
            idp_session: c.idp,
            login_audit: Some(Entry::new("login", true).detail(serde_json::json!({ "provider": provider, "protocol": "saml", "roles": c.roles }))),
            return_to: &c.return_to,
            also_set: vec![],
        },
    )
    .await
}

/// `GET /auth/<provider>/complete`.
pub async fn complete_route(State(state): State<AppState>, Path(provider): Path<String>, ClientIp(ip): ClientIp, headers: HeaderMap) -> Response {
    let Some(p) = state.sso.saml(&provider) else {
        return SignInError::UnknownProvider(provider.chars().take(40).collect()).respond(&provider, "", &headers);
    };
    let provider = p.settings.provider;
    let mut resp = match finish(&state, provider, ip, &headers).await {
        Ok(r) => r,
        Err(e) => e.respond(provider, &p.sp.acs_url, &headers),
    };
    // Used or not, the hand-over is over.
    if let Some(v) = set_cookie(&state, provider, "", 0) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}
