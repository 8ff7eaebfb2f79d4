//! Signing out: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)
//! after the local session ends, and back-channel logout (OpenID Connect
//! Back-Channel Logout 1.0), where the IdP tells us a session ended there.

use crate::error::Status;
use crate::idp::Provider;
use crate::keys::token_hash;
use crate::pages;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use portcullis_domain::Timestamp;
use std::time::Duration;

/// The event a logout token must carry (Back-Channel Logout §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token's `jti` is remembered against replay.
const JTI_MEMORY: Duration = Duration::from_secs(600);

/// The page that hands the browser to the IdP's logout: a meta refresh, not
/// a redirect, because the sign-out form's page only allows posting to
/// itself (CSP `form-action 'self'`, which browsers apply to redirects).
pub fn continue_to_idp(url: &str, display_name: &str) -> Response {
    let u = html_escape::encode_double_quoted_attribute(url);
    let body = format!(
        "<h1>Signed out of Portcullis</h1><p>Now signing you out of {}…</p><p><a href=\"{u}\">Continue</a></p>",
        html_escape::encode_text(display_name)
    );
    let mut resp = pages::page(Status::Ok, "Signing out", &body);
    if let Ok(v) = HeaderValue::from_str(&format!("0;url={url}")) {
        resp.headers_mut().insert("refresh", v);
    }
    resp
}

/// `GET /auth/logged-out`: where the IdP sends the browser back.
pub async fn logged_out() -> Response {
    pages::message(Status::Ok, "Signed out", "You are signed out.", Some(("/auth/login", "Sign in again")))
}

fn bad(description: &str) -> Response {
    // Back-Channel Logout §2.8: 400 with an OAuth-style error body; never cached.
    crate::error::oauth::error("invalid_request", description)
}

/// Verifies a logout token (Back-Channel Logout §2.6) and returns its claims.
pub async fn verify_logout_token(state: &AppState, p: &Provider, token: &str, now: Timestamp) -> Result<serde_json::Value, String> {
    let d = p.ready(&state.sso.http).await?;
    let c = crate::idp::oidc::jwt::verify(&d, &state.sso.http, token, &p.settings.issuer, p.settings.client_id.as_str(), &["iss", "aud"])
        .await
        .map(|(claims, _)| claims)
        .map_err(|e| e.to_string())?;
    let now_s = now.0 / 1000;
    let iat = c.get("iat").and_then(|v| v.as_i64()).ok_or("no iat")?;
    crate::idp::oidc::jwt::check_times(&c, now_s, crate::idp::oidc::jwt::LEEWAY_SECS, false).map_err(|e| format!("logout token: {e}"))?;
    // Without `exp`, a token older than the jti memory could be replayed.
    if c.get("exp").is_none() && iat + (JTI_MEMORY.as_secs() as i64) < now_s {
        return Err("the logout token is too old".into());
    }
    if c.get("events").and_then(|e| e.get(BACKCHANNEL_EVENT)).is_none_or(|e| !e.is_object()) {
        return Err(format!("the events claim lacks {BACKCHANNEL_EVENT}"));
    }
    if c.get("nonce").is_some() {
        return Err("a logout token must not carry a nonce".into());
    }
    if c.get("sid").and_then(|v| v.as_str()).is_none() && c.get("sub").and_then(|v| v.as_str()).is_none() {
        return Err("the logout token names neither sid nor sub".into());
    }
    let jti = c.get("jti").and_then(|v| v.as_str()).ok_or("no jti")?;
    let fresh = state
        .store
        .consume_once(portcullis_storage::OnceKind::LogoutJti, &token_hash(&format!("{}\n{jti}", p.settings.issuer)), now.plus(JTI_MEMORY))
        .await
        .map_err(|e| format!("database: {e}"))?;
    if !fresh {
        return Err("this logout token was already used".into());
    }
    Ok(c)
}

/// `POST /auth/{provider}/backchannel-logout` with form field `logout_token`.
pub async fn backchannel(State(state): State<AppState>, Path(provider): Path<String>, body: axum::body::Bytes) -> Response {
    let Some(p) = state.sso.get(&provider).cloned() else {
        return bad("unknown provider");
    };
    #[derive(serde::Deserialize)]
    struct Form {
        logout_token: String,
    }
    let Ok(form) = serde_urlencoded::from_bytes::<Form>(&body) else {
        return bad("the form field logout_token is missing");
    };
    let now = state.clock.now();
    let claims = match verify_logout_token(&state, &p, &form.logout_token, now).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(provider, problem = %e, "back-channel logout refused");
            return bad(&e);
        }
    };
    let sid = claims.get("sid").and_then(|v| v.as_str());
    let sub = claims.get("sub").and_then(|v| v.as_str());
    match state.store.revoke_idp_sessions(p.settings.provider, p.settings.issuer.as_str(), sid, sub, now).await {
        Ok(users) => {
            for u in &users {
                crate::invalidation::broadcast(&state, crate::invalidation::Invalidation::UserSessions(*u));
            }
            tracing::info!(provider, users = users.len(), "back-channel logout ended sessions");
            crate::audit::record(&state, crate::audit::Entry::new("logout.backchannel", true).detail(serde_json::json!({ "provider": provider, "users": users.len() }))).await;
            let mut resp = Status::Ok.with(());
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
