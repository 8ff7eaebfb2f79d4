//! Bearer access tokens (RFC 6750) issued by the configured identity
//! provider, as the CLI presents them after its device login.
//!
//! A token is verified once: signature against the provider's published
//! keys (algorithm allow-list), `iss` (which also picks the provider), `aud`
//! (the provider's API audience), `exp`/`nbf`/`iat` with 60 s leeway, then
//! the same just-in-time account and roles as a browser sign-in. The result
//! is cached by the token's hash until it expires, so a repeated token costs
//! no signature check; the account itself is re-read within the session
//! cache's TTL, and evicted at once when it is disabled, so a disabled user
//! is refused even with a cached token.

use crate::idp::vendors::VendorOf;
use crate::error::Status;
use crate::session::Caller;
use crate::error::{ApiError, ApiResult};
use crate::idp::identity::Identity;
use crate::idp::oidc::jwt::{self, JwtError};
use super::bearer_cache::VerifiedToken;
use crate::state::AppState;
use axum::http::{header, HeaderMap};
use base64::Engine;
use portcullis_domain::{SessionId, SessionTimes, Timestamp};
use portcullis_storage::SessionRecord;
use sha2::{Digest, Sha256};

use crate::idp::oidc::jwt::LEEWAY_SECS;

/// 401 with the RFC 6750 §3 challenge; the description is kept to the
/// characters a header may carry.
pub fn invalid(description: impl Into<String>) -> ApiError {
    let d: String = description.into();
    let safe: String = d.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { if c == '"' || c == '\\' { '\'' } else { c } } else { '?' }).collect();
    let mut e = ApiError::new(Status::Unauthorized, "invalid_token", d);
    e.www_authenticate = Some(format!("Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"{safe}\""));
    e
}

/// The token of `Authorization: Bearer <token>`, if that scheme is used.
pub fn from_header(headers: &HeaderMap) -> ApiResult<Option<&str>> {
    let Some(v) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let v = v.to_str().map_err(|_| invalid("the Authorization header is not ASCII"))?;
    match v.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(Some(token.trim())),
        _ => Ok(None),
    }
}

/// The `iss` claim before anything is verified: only to pick the provider
/// whose keys then verify the token. Read into a struct of one field, so
/// the rest of the payload is skipped, not built into a `Value` (this runs
/// for every fresh token).
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Issuer {
        iss: String,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Issuer>(&bytes).ok().map(|p| p.iss)
}

/// The caller behind a bearer token (counted in the
/// `portcullis_bearer_verifications_total` metric).
pub async fn caller(state: &AppState, token: &str) -> ApiResult<Caller> {
    let mut cached = false;
    let result = resolve(state, token, &mut cached).await;
    let outcome = match &result {
        Ok(_) => "accepted",
        Err(e) if e.message.contains("token expired") => "expired",
        Err(_) => "refused",
    };
    crate::telemetry::bearer_verification(outcome, cached);
    result
}

/// The account behind a verified token, with its memberships, cached under
/// the token's context key.
async fn load_context(state: &AppState, verified: &VerifiedToken, now: Timestamp) -> ApiResult<std::sync::Arc<crate::cache::CachedSession>> {
    let user = state.store.get_user(verified.user_id).await?.ok_or_else(|| invalid("Invalid token: its account was deleted in Portcullis"))?;
    let memberships = state.store.list_memberships(user.id).await?;
    // Stands for the token in `/me`; never stored.
    let session = SessionRecord {
        id: SessionId::new(),
        user_id: user.id,
        provider: verified.provider.to_owned(),
        times: SessionTimes { created_at: now, last_seen_at: now, expires_at: verified.expires_at, revoked_at: None },
        ip: None,
        user_agent: None,
    };
    Ok(state.sessions.insert(verified.context_key.clone(), session, user, memberships))
}

async fn resolve(state: &AppState, token: &str, cached: &mut bool) -> ApiResult<Caller> {
    let now = state.clock.now();
    // The raw digest (no hex string): this runs on every bearer request.
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let hit = state.bearer.tokens.get(&hash);
    *cached = hit.is_some();
    let verified = match hit {
        Some(v) if v.expires_at.0 + LEEWAY_SECS * 1000 >= now.0 => v,
        Some(_) => {
            state.bearer.tokens.evict(&hash);
            return Err(invalid("Invalid token: token expired; run `portcullis login` again"));
        }
        None => {
            let v = verify_and_provision(state, token, now).await?;
            state.bearer.tokens.insert(hash, v)
        }
    };
    // The account, per user (not per token), for at most the session cache TTL.
    let key = &verified.context_key;
    // While the database is away, the account as this replica just knew it.
    let ctx = state.cached_or_stale(state.sessions.get(key), || state.sessions.get_stale(key), load_context(state, &verified, now)).await?;
    if ctx.user.is_disabled() {
        return Err(invalid("Invalid token: this account is disabled in Portcullis; ask an organization owner to enable it"));
    }
    Ok(Caller { token_hash: key.clone(), ctx, bearer: true })
}

fn describe(e: &JwtError, p: &crate::idp::vendors::OidcSettings, audience: &str, claims_aud: Option<String>) -> String {
    match e {
        JwtError::Signature(why) => format!("Invalid token: Signature verification failed ({why}). {}", p.vendor().signature_hint()),
        JwtError::Audience => format!(
            "Invalid token: audience mismatch: got {}, expected `{audience}`. Check {} (the API audience {} issues tokens for) and `portcullis config get oauth2_audience`",
            claims_aud.unwrap_or_else(|| "none".into()),
            p.vendor().audience_variable(),
            p.vendor().display_name()
        ),
        other => format!("Invalid token: {other}"),
    }
}

/// A verified token is only accepted as an access token for this
/// installation: not an ID token (RFC 9068 §2.1 `typ`, OpenID Connect
/// `nonce`/`at_hash`, the vendor's own marks), and issued to one of this
/// installation's clients in the vendor's claim (`azp`, `cid`, `client_id`,
/// `appid`). The audience alone does not say so: Keycloak's `account` is in
/// every client's tokens, and WorkOS's ID tokens carry the API audience.
fn check_access_token(s: &crate::idp::vendors::OidcSettings, header: &jsonwebtoken::Header, claims: &serde_json::Value) -> Result<(), String> {
    let send_access = "send the access token from `portcullis login`, not the ID token";
    if let Some(typ) = &header.typ {
        let t = typ.to_ascii_lowercase();
        if !matches!(t.as_str(), "jwt" | "at+jwt" | "application/at+jwt") {
            return Err(format!("Invalid token: its type is `{}`, not an access token; {send_access}", typ.chars().take(40).collect::<String>()));
        }
    }
    if let Some(c) = ["nonce", "at_hash", "c_hash"].into_iter().find(|c| claims.get(*c).is_some()) {
        return Err(format!("Invalid token: this is an ID token (it carries `{c}`); {send_access}"));
    }
    if s.vendor().marks_id_token(claims) {
        return Err(format!("Invalid token: {} marks this as an ID token; {send_access}", s.vendor().display_name()));
    }
    let expected = s.own_clients().iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" or ");
    match s.issued_to(claims) {
        Some((_, client)) if s.own_clients().contains(&client) => Ok(()),
        Some((claim, client)) => Err(format!(
            "Invalid token: it was issued to client `{}` (claim `{claim}`), not to this installation's {expected}; log in with `portcullis login`, which uses this server's device client",
            client.chars().take(120).collect::<String>()
        )),
        None => Err(format!(
            "Invalid token: it names no client in `{}` (an ID token, or a token {} did not issue to an application); this installation accepts access tokens of {expected}",
            s.vendor().client_claims().join("` or `"),
            s.vendor().display_name()
        )),
    }
}

/// The checks an access token of provider `p` passes before it is taken
/// as a caller: its API audience is configured, signature, issuer,
/// audience, times, an access token (not an ID token) of one of this
/// installation's clients, `iat`. Its claims, and the discovered provider.
/// Also what Test sign-in runs on the token of a real sign-in.
pub async fn check_api_token(state: &AppState, p: &crate::idp::oidc::discovery::Provider, token: &str, now: Timestamp) -> ApiResult<(serde_json::Value, std::sync::Arc<crate::idp::oidc::discovery::Discovered>)> {
    let s = &p.settings;
    let Some(audience) = s.audience.as_ref().map(|a| a.as_str()) else {
        return Err(invalid(format!(
            "Invalid token: {} has no API audience configured, so its access tokens cannot be checked; set {}",
            s.vendor().display_name(),
            s.vendor().audience_variable()
        )));
    };
    let d = p.ready(&state.sso.http).await.map_err(|e| {
        tracing::warn!(provider = s.provider, error = %e, "bearer token: identity provider unreachable");
        ApiError::new(Status::Unavailable, "idp_unreachable", "the identity provider's keys cannot be fetched right now; try again shortly")
    })?;
    let (claims, header) = match jwt::verify(&d, &state.sso.http, token, &s.issuer, audience, &["iss", "aud", "exp", "sub"]).await {
        Ok(c) => c,
        Err(e) => {
            let payload = token.split('.').nth(1).and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok());
            let aud = payload.and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok()).and_then(|v| v.get("aud").map(|a| a.to_string()));
            return Err(invalid(describe(&e, s, audience, aud.map(|a| a.chars().take(120).collect()))));
        }
    };
    jwt::check_times(&claims, now.0 / 1000, LEEWAY_SECS, true).map_err(|e| invalid(format!("Invalid token: {e}")))?;
    check_access_token(s, &header, &claims).map_err(invalid)?;
    if claims.get("iat").is_none() {
        return Err(invalid("Invalid token: the token has no `iat` claim"));
    }
    Ok((claims, d))
}

async fn verify_and_provision(state: &AppState, token: &str, now: Timestamp) -> ApiResult<VerifiedToken> {
    let iss = unverified_issuer(token).ok_or_else(|| invalid("Invalid token: not a JWT with an `iss` claim"))?;
    if state.config.sso.local && iss == crate::authserver::issuer(state) {
        let t = crate::authserver::token::verify_access_token(state, token).await.map_err(|why| {
            if why == crate::authserver::token::UNCHECKABLE {
                // A 503 the CLI retries, not a 401 that sends its user to log in again.
                ApiError::database_unavailable()
            } else {
                invalid(why)
            }
        })?;
        let mut v = VerifiedToken::new("local", t.user_id, t.expires_at);
        v.family = Some(t.family);
        return Ok(v);
    }
    let Some(p) = state.sso.all().iter().find(|p| p.settings.issuer == iss).cloned() else {
        let expected: Vec<&str> = state.sso.all().iter().map(|p| p.settings.issuer.as_str()).collect();
        return Err(invalid(format!(
            "Invalid token: issuer `{}` is not an identity provider of this server (expected {})",
            iss.chars().take(120).collect::<String>(),
            if expected.is_empty() && state.config.sso.local {
                format!("{}, this server's own", crate::authserver::issuer(state))
            } else if expected.is_empty() {
                "none: this server has no identity provider that issues tokens".into()
            } else {
                expected.join(" or ")
            }
        )));
    };
    let s = &p.settings;
    let (claims, d) = check_api_token(state, &p, token, now).await?;
    let sub = claims.get("sub").and_then(|v| v.as_str()).filter(|v| !v.is_empty()).ok_or_else(|| invalid("Invalid token: empty `sub`"))?.to_owned();
    let expires_at = Timestamp(claims["exp"].as_i64().unwrap_or_default() * 1000);
    // Provisioning writes; the same person with the same roles within a
    // minute needs none (a fresh token per request must stay cheap).
    let who = |roles: &[String]| {
        let mut sorted = roles.to_vec();
        sorted.sort();
        format!("{}\n{sub}\n{}", s.issuer, sorted.join("\n"))
    };
    if crate::idp::identity::has_roles_claim(s, &claims) {
        if let Some(user_id) = state.bearer.users.get(&who(&s.vendor().roles(s, &claims))) {
            return Ok(VerifiedToken::new(s.provider, *user_id, expires_at));
        }
    }
    // What provisioning needs may be missing: Okta's and Auth0's access
    // tokens carry no e-mail address by default, and some carry no roles.
    // The provider's userinfo endpoint (OpenID Connect Core §5.3) answers
    // for the token's own subject; it is asked once per token, which is
    // then cached until it expires.
    let known = match crate::idp::identity::email(&claims) {
        Some(_) => None,
        None => state.store.find_user_by_idp(s.issuer.as_str(), &sub).await?,
    };
    let needs_email = crate::idp::identity::email(&claims).is_none() && known.is_none();
    let claims = if needs_email || !crate::idp::identity::has_roles_claim(s, &claims) {
        let info = crate::idp::identity::userinfo(&d.client, &state.sso.http, openidconnect::AccessToken::new(token.to_owned()), &sub).await.map_err(|e| match e {
            crate::idp::error::SignInError::Unreachable(why) => {
                tracing::warn!(provider = s.provider, error = %why, "bearer token: userinfo unreachable");
                ApiError::new(Status::Unavailable, "idp_unreachable", format!("the identity provider's userinfo endpoint cannot be reached right now ({}); try again shortly", crate::outbound::short(&why)))
            }
            other => invalid(format!("Invalid token: the provider's userinfo endpoint refused it ({})", other.detail())),
        })?;
        crate::idp::identity::merge(claims, info)
    } else {
        claims
    };
    let roles = s.vendor().roles(s, &claims);
    let email = match crate::idp::identity::email(&claims).or(known.map(|u| u.email)) {
        Some(e) => e,
        None => {
            return Err(invalid(
                "Invalid token: neither it nor the provider's userinfo names an e-mail address; add the email scope to the CLI's device client, or the email claim to access tokens",
            ))
        }
    };
    let ident = Identity {
        email_verified: claims.get("email_verified").and_then(|v| v.as_bool()).unwrap_or(true),
        subject: sub.clone(),
        name: claims.get("name").and_then(|v| v.as_str()).map(str::to_owned).unwrap_or_else(|| email.clone()),
        email,
        roles: roles.clone(),
        claims: claims.clone(),
        sid: None,
        id_token: String::new(),
        group_overage: p.group_overage.clone().filter(|_| crate::idp::vendors::entra_id_overage::left_out(&claims, crate::idp::vendors::entra_id_overage::GROUPS)),
    };
    let user = crate::signin::provision::sign_in(state, s.into(), &ident).await.map_err(|e| match e {
        crate::idp::error::SignInError::NotAssigned { .. } => ApiError::new(
            Status::Forbidden,
            "not_assigned",
            "this account has neither the member nor the factory-admin role for this application; ask your administrator to assign you in the identity provider",
        ),
        crate::idp::error::SignInError::NoRoleRule { orgs, .. } => ApiError::new(
            Status::Forbidden,
            "no_matching_group_rule",
            format!("the group-to-role rules of {} match none of this account's groups; ask your administrator to add you to a group the rules name", orgs.join(", ")),
        ),
        crate::idp::error::SignInError::Disabled => invalid("Invalid token: this account is disabled in Portcullis; ask an organization owner to enable it"),
        crate::idp::error::SignInError::Deprovisioned => invalid("Invalid token: your organization's identity provider deactivated this account (SCIM); ask your IT administrator to assign you to the application again"),
        crate::idp::error::SignInError::GroupOverage { cause, fix, .. } => ApiError::new(Status::Unavailable, "group_overage", format!("{cause} {fix}")),
        crate::idp::error::SignInError::Unreachable(why) => {
            ApiError::new(Status::Unavailable, "idp_unreachable", format!("the identity provider cannot be reached right now ({}); try again shortly", crate::outbound::short(&why)))
        }
        other => ApiError::internal(other.detail()),
    })?;
    state.bearer.users.insert(who(&roles), user.id);
    Ok(VerifiedToken::new(s.provider, user.id, expires_at))
}
