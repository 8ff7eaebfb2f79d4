//! The token endpoint (RFC 6749 §3.2): the device-code grant (RFC 8628
//! §3.4–3.5) and the refresh-token grant (RFC 6749 §6) with rotation and
//! reuse detection (RFC 9700 §4.14.2); revocation (RFC 7009); and the
//! checks of the access tokens it issues (RFC 9068 profile).

use crate::error::Status;
use super::client::check_client;
use super::{audience, disabled, issuer, oauth_error, parse_form};
use crate::audit::{self, Entry};
use crate::session::ClientIp;
use crate::keys::{random_token, token_hash};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use portcullis_domain::{PollOutcome, RefreshOutcome, Timestamp, UserId};
use portcullis_storage::{NewRefreshToken, RefreshToken};
use std::collections::HashMap;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The JWT `typ` of access tokens (RFC 9068 §2.1), so that an ID token can
/// never pass for one.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

fn invalid_grant(description: impl Into<String>) -> Response {
    oauth_error("invalid_grant", description)
}

/// `POST /oauth2/token`.
pub async fn token(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = disabled(&state) {
        return r;
    }
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let client = match check_client(&state, &form) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match form.get("grant_type").map(String::as_str) {
        Some(DEVICE_CODE_GRANT) => device_code(&state, &form, &client).await,
        Some("refresh_token") => refresh(&state, &form, &client, ip).await,
        Some(other) => oauth_error("unsupported_grant_type",
            format!("grant_type `{}` is not offered; use {DEVICE_CODE_GRANT} or refresh_token", other.chars().take(80).collect::<String>()),
        ),
        None => oauth_error("invalid_request", "grant_type is missing"),
    }
}

async fn device_code(state: &AppState, form: &HashMap<String, String>, client: &str) -> Response {
    let Some(code) = form.get("device_code").filter(|c| !c.is_empty()) else {
        return oauth_error("invalid_request", "device_code is missing");
    };
    let hash = token_hash(code);
    let d = match state.store.find_device_by_code(&hash).await {
        Ok(Some(d)) if d.client_id == client => d,
        Ok(_) => return invalid_grant("unknown device code; run `portcullis login` again"),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let now = state.clock.now();
    let policy = &state.config.local_auth.device;
    let outcome = portcullis_domain::device::poll(&d.grant(), now, policy);
    let polled = |interval: Option<i64>| async move {
        if let Err(e) = state.store.update_device_poll(&hash, now, interval).await {
            tracing::warn!(error = %e, "could not record a device poll");
        }
    };
    match outcome {
        PollOutcome::Pending => {
            polled(None).await;
            oauth_error("authorization_pending", "waiting for the user to approve the code on the verification page")
        }
        PollOutcome::SlowDown { new_interval_secs } => {
            polled(Some(new_interval_secs)).await;
            oauth_error("slow_down",
                format!("polled sooner than every {} s; wait {new_interval_secs} s between polls from now on", d.interval_secs),
            )
        }
        PollOutcome::Denied => oauth_error("access_denied", "the login was denied on the verification page"),
        PollOutcome::Expired => oauth_error("expired_token",
            format!("the code expired after {} minutes without approval; run `portcullis login` again", policy.expires_in.as_secs() / 60),
        ),
        PollOutcome::AlreadyRedeemed => invalid_grant("tokens were already issued for this device code; run `portcullis login` again"),
        PollOutcome::Issue(user) => match state.store.consume_device(&d.device_code_hash).await {
            Ok(true) => issue(state, user, client, &d.scope, None).await,
            Ok(false) => invalid_grant("tokens were already issued for this device code; run `portcullis login` again"),
            Err(e) => crate::error::ApiError::from(e).into_response(),
        },
    }
}

async fn refresh(state: &AppState, form: &HashMap<String, String>, client: &str, ip: Option<String>) -> Response {
    let Some(presented) = form.get("refresh_token").filter(|c| !c.is_empty()) else {
        return oauth_error("invalid_request", "refresh_token is missing");
    };
    // A narrower scope may be asked for; the token keeps its original grant.
    if let Err(r) = super::client::checked_scope(form.get("scope").map(String::as_str)) {
        return r;
    }
    let c = &state.config.local_auth;
    let now = state.clock.now();
    let next = random_token();
    let successor = NewRefreshToken {
        token_hash: token_hash(&next),
        // User, client and scope are the presented token's (the store copies them).
        user_id: UserId::new(),
        client_id: client.to_owned(),
        scope: String::new(),
        created_at: now,
        expires_at: now.plus(c.refresh_idle),
        family_expires_at: now.plus(c.refresh_lifetime),
    };
    let outcome = match state.store.rotate_refresh_token(&token_hash(presented), &successor, now).await {
        Ok(o) => o,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    match outcome {
        RefreshOutcome::Rotated(rt) if rt.client_id != client => {
            let _ = state.store.revoke_refresh_family(&rt.token_hash, now).await;
            invalid_grant("this refresh token was issued to another client")
        }
        RefreshOutcome::Rotated(rt) => {
            let user = rt.user_id;
            let scope = rt.scope.clone();
            issue(state, user, client, &scope, Some((rt, next))).await
        }
        RefreshOutcome::Reused => {
            // The family is revoked in storage; its access tokens verified
            // on this replica stop now (the family check catches the rest).
            if let Ok(Some(family)) = state.store.revoke_refresh_family(&token_hash(presented), now).await {
                crate::invalidation::broadcast(state, crate::invalidation::Invalidation::CliLogin(family.clone()));
            }
            tracing::warn!("a used refresh token was presented again; its whole login was revoked");
            audit::record(state, Entry::new("oauth.refresh_reuse", false).ip(ip).detail(serde_json::json!({ "client_id": client }))).await;
            invalid_grant("this refresh token was used before, so a copy of it may exist elsewhere; every token of this login has been revoked. Run `portcullis login` again")
        }
        RefreshOutcome::Revoked => invalid_grant("this login was ended (logout, a disabled account or revoked sessions); run `portcullis login` again"),
        RefreshOutcome::Expired => invalid_grant(format!(
            "the refresh token expired (unused for {} days, or {} days after login); run `portcullis login` again",
            c.refresh_idle.as_secs() / 86400,
            c.refresh_lifetime.as_secs() / 86400
        )),
        RefreshOutcome::Unknown => invalid_grant("unknown refresh token; run `portcullis login` again"),
    }
}

/// Issues an access token (and an ID token for `openid`), with a new
/// refresh-token family at login or the rotated token on refresh.
async fn issue(state: &AppState, user_id: UserId, client: &str, scope: &str, rotated: Option<(RefreshToken, String)>) -> Response {
    let now = state.clock.now();
    let c = &state.config.local_auth;
    let user = match state.store.get_user(user_id).await {
        Ok(Some(u)) if !u.is_disabled() => u,
        Ok(_) => {
            let _ = state.store.revoke_user_refresh_tokens(user_id, now).await;
            return invalid_grant("this account is disabled or deleted in Portcullis; ask an organization owner");
        }
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let (family, refresh_token) = match rotated {
        Some((rt, token)) => (rt.family_id, token),
        None => {
            let token = random_token();
            let new = NewRefreshToken {
                token_hash: token_hash(&token),
                user_id,
                client_id: client.to_owned(),
                scope: scope.to_owned(),
                created_at: now,
                expires_at: now.plus(c.refresh_idle),
                family_expires_at: now.plus(c.refresh_lifetime),
            };
            match state.store.create_refresh_token(&new).await {
                Ok(rt) => (rt.family_id, token),
                Err(e) => return crate::error::ApiError::from(e).into_response(),
            }
        }
    };
    let keys = match state.oauth.keys.current(super::key_storage(state)).await {
        Ok(k) => k,
        Err(e) => return crate::error::ApiError::internal(e).into_response(),
    };
    let (iat, exp) = (now.0 / 1000, now.plus(c.access_token_ttl).0 / 1000);
    let access = serde_json::json!({
        "iss": issuer(state),
        "sub": user.id.to_string(),
        "aud": audience(state),
        "exp": exp,
        "iat": iat,
        "jti": uuid::Uuid::new_v4().to_string(),
        "client_id": client,
        "scope": scope,
        "sid": family,
        "email": user.email,
        "name": user.display_name,
    });
    let mut body = serde_json::json!({
        "token_type": "Bearer",
        "expires_in": c.access_token_ttl.as_secs(),
        "refresh_token": refresh_token,
        "scope": scope,
    });
    match keys.sign(ACCESS_TOKEN_TYP, &access) {
        Ok(t) => body["access_token"] = t.into(),
        Err(e) => return crate::error::ApiError::internal(e).into_response(),
    }
    if scope.split(' ').any(|s| s == "openid") {
        let id = serde_json::json!({
            "iss": issuer(state), "sub": user.id.to_string(), "aud": client, "exp": exp, "iat": iat,
            "email": user.email, "name": user.display_name,
        });
        match keys.sign("JWT", &id) {
            Ok(t) => body["id_token"] = t.into(),
            Err(e) => return crate::error::ApiError::internal(e).into_response(),
        }
    }
    let mut r = Json(body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// `POST /oauth2/revoke` (RFC 7009): a refresh token ends its whole login.
/// Unknown tokens get 200 too (§2.2), so the endpoint tells nothing.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = disabled(&state) {
        return r;
    }
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = check_client(&state, &form) {
        return r;
    }
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error("invalid_request", "token is missing");
    };
    if token.matches('.').count() == 2 {
        return oauth_error("unsupported_token_type",
            "access tokens expire on their own within minutes; revoke the refresh token to end the login",
        );
    }
    match state.store.revoke_refresh_family(&token_hash(token), state.clock.now()).await {
        Ok(Some(family)) => {
            // Access tokens of the login already verified on this replica
            // stop working now; elsewhere at their next check.
            crate::invalidation::broadcast(&state, crate::invalidation::Invalidation::CliLogin(family.clone()));
            Status::Ok.with(())
        }
        Ok(None) => Status::Ok.with(()),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// A local access token that passed every check.
pub struct LocalToken {
    pub user_id: UserId,
    pub expires_at: Timestamp,
    pub family: String,
}

/// Verifies an access token this server issued: RS256 only, a published
/// `kid`, `typ` `at+jwt`, `iss`, `aud`, times against the injected clock,
/// and a login (refresh-token family) that has not been ended. The error is
/// the `error_description` to send.
/// What [`verify_access_token`] answers when the login could not be looked
/// up (the database is away): not the token's fault.
pub const UNCHECKABLE: &str = "Invalid token: cannot be checked right now; try again shortly";

pub async fn verify_access_token(state: &AppState, token: &str) -> Result<LocalToken, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("Invalid token: not a signed JWT ({e})"))?;
    if header.alg != super::signing::ALG {
        return Err(format!("Invalid token: Signature verification failed (algorithm {:?} is not accepted; Portcullis signs with RS256)", header.alg));
    }
    if !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)) {
        return Err("Invalid token: this is not an access token (send the access_token, not the id_token)".into());
    }
    let kid = header.kid.ok_or("Invalid token: Signature verification failed (the token names no key id)")?;
    let key = match state.oauth.keys.verifying_key(super::key_storage(state), &kid).await {
        Ok(Some((_, k))) => k,
        Ok(None) => return Err(format!("Invalid token: Signature verification failed (no published key has id {})", kid.chars().take(64).collect::<String>())),
        Err(e) => {
            tracing::error!(error = %e, "local signing keys unavailable");
            return Err("Invalid token: the server's signing keys are unavailable; try again shortly".into());
        }
    };
    let mut v = jsonwebtoken::Validation::new(super::signing::ALG);
    v.set_issuer(&[issuer(state)]);
    v.set_audience(&[audience(state)]);
    // Times are checked below against the injected clock.
    v.validate_exp = false;
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAudience => format!("Invalid token: audience mismatch, expected `{}`", audience(state)),
        jsonwebtoken::errors::ErrorKind::InvalidIssuer => format!("Invalid token: issuer mismatch, expected `{}`", issuer(state)),
        jsonwebtoken::errors::ErrorKind::InvalidSignature => "Invalid token: Signature verification failed".into(),
        _ => format!("Invalid token: {e}"),
    })?
    .claims;
    let now = state.clock.now();
    crate::idp::oidc::jwt::check_times(&claims, now.0 / 1000, crate::idp::oidc::jwt::LEEWAY_SECS, true).map_err(|e| format!("Invalid token: {e}; run `portcullis login` again"))?;
    let user_id: UserId = claims["sub"].as_str().and_then(|s| s.parse().ok()).ok_or("Invalid token: `sub` is not an account id")?;
    let family = claims["sid"].as_str().ok_or("Invalid token: no `sid` (login) claim")?.to_owned();
    match state.store.get_refresh_family_active(&family, now).await {
        Ok(true) => {}
        Ok(false) => return Err("Invalid token: this login was ended (logout or revoked sessions); run `portcullis login` again".into()),
        Err(e) if e.is_unavailable() => return Err(UNCHECKABLE.into()),
        Err(e) => {
            tracing::error!(error = %e, "checking a login's refresh tokens");
            return Err(UNCHECKABLE.into());
        }
    }
    Ok(LocalToken { user_id, expires_at: Timestamp(claims["exp"].as_i64().unwrap_or_default() * 1000), family })
}
