//! Signing out: this server's session, then the identity provider's.

use crate::audit::{self, Entry};
use crate::error::{wants_json, ApiError, Status};
use crate::pages;
use crate::session::{clear_cookie, Caller, ClientIp};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;

pub mod oidc;
pub mod own;
pub mod saml;

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
        if let Ok(c) = HeaderValue::from_str(&clear_cookie(&state, crate::session::cookies::session_cookie_name(&state))) {
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
    if !caller.verify_form(&state, &headers, &presented) {
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
    crate::invalidation::broadcast(&state, crate::invalidation::Invalidation::Session(caller.token_hash.clone()));
    audit::record(&state, Entry::new("logout", true).actor(user.id, &user.email).target(format!("session:{}", caller.ctx.session.id)).ip(ip)).await;
    // Signed in through an IdP that offers logout, end the session there
    // too: OpenID RP-initiated logout, or SAML single logout (a signed
    // LogoutRequest, its answer bound to this browser by a cookie).
    let provider = caller.ctx.session.provider.clone();
    let (session, user_id) = (caller.ctx.session.id, user.id);
    let Some(p) = state.sso.provider(&provider) else { return to_login() };
    let Some(started) = p.start_sign_out(crate::signin::federated::exchange(&state), session, user_id).await else { return to_login() };
    let (url, name) = (started.redirect_to.clone(), p.display_name());
    let tx_cookie = started.pending.as_ref().and_then(|t| crate::session::transaction::set_pending(&state, t));
    let mut resp = clearing_cookie(if wants_json(&headers) {
        Json(serde_json::json!({ "signed_out": true, "end_session_url": url })).into_response()
    } else {
        oidc::continue_to_idp(&url, name)
    });
    if let Some(c) = tx_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
