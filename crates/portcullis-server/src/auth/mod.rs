//! Who is calling: the session cookie, CSRF protection, and the organization
//! a request is about.

pub mod bearer;
pub mod invite;
pub mod local;
pub mod setup;
pub mod throttle;

use crate::error::Status;
use crate::error::{ApiError, ApiResult};
use crate::keys::token_hash;
use crate::state::{AppState, CachedSession};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use portcullis_domain::{decide, Action, Decision, OrgContext, Principal, RoleRef, SessionStatus};
use portcullis_storage::Organization;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Reads one cookie from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: always `HttpOnly`, `SameSite=Lax` and `Path=/`, and
/// `Secure` whenever the server is reached over https.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: u64) -> String {
    let secure = if state.config.https() { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

pub fn clear_cookie(state: &AppState, name: &str) -> String {
    set_cookie(state, name, "", 0)
}

/// The client's address: the socket peer, or, when the operator says
/// proxies are in front (`PORTCULLIS_TRUST_X_FORWARDED_FOR`), the
/// `X-Forwarded-For` entry `PORTCULLIS_TRUSTED_PROXY_HOPS` places from the
/// right. Entries are counted over every header line together: a client
/// that sends its own line ahead of the proxy's chooses nothing, since only
/// what the trusted proxies appended is read.
pub fn client_ip(state: &AppState, parts: &Parts) -> Option<String> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    if !state.config.trust_x_forwarded_for {
        return peer;
    }
    forwarded_client(&parts.headers, state.config.trusted_proxy_hops).or(peer)
}

/// The address `hops` entries from the right of all `X-Forwarded-For`
/// lines; `None` when there are fewer entries or that one is not an address.
pub fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<String> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let Some(entry) = entries.len().checked_sub(hops).map(|i| entries[i]) else {
        tracing::warn!(entries = entries.len(), hops, "X-Forwarded-For has fewer entries than PORTCULLIS_TRUSTED_PROXY_HOPS; the nearest proxy's address is used");
        return None;
    };
    entry.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses requests a browser marks as cross-site, and requests whose
/// `Origin` is not ours. Applies to every state change made with a cookie.
pub fn check_same_origin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return Err(ApiError::new(
            Status::Forbidden,
            "csrf",
            "cross-site request refused: state changes must come from Portcullis's own pages or from an API client",
        ));
    }
    if let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) {
        if origin != state.config.public_origin() {
            return Err(ApiError::new(
                Status::Forbidden,
                "csrf",
                format!(
                    "request from origin `{origin}` refused; only {} may change state with a session cookie (check PORTCULLIS_PUBLIC_URL)",
                    state.config.public_origin()
                ),
            ));
        }
    }
    Ok(())
}

/// A signed-in caller, from the session cookie or a bearer token.
#[derive(Clone)]
pub struct Caller {
    /// The key of `ctx` in the session cache.
    pub token_hash: String,
    pub ctx: Arc<CachedSession>,
    /// Authenticated by `Authorization: Bearer` (no ambient credential, so
    /// no CSRF check; `ctx.session` stands for the token, not a stored session).
    pub bearer: bool,
}

impl Caller {
    pub fn csrf_token(&self, state: &AppState) -> String {
        state.keys.csrf_token("session", &self.ctx.session.id.to_string())
    }

    /// Loads the session behind the cookie, from memory when fresh enough.
    pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
        let sign_in = state.config.public("/auth/login");
        let token = cookie(headers, state.session_cookie_name())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized(format!("not signed in; sign in at {sign_in}")))?;
        let hash = token_hash(token);
        let now = state.clock.now();
        let ctx = match state.sessions.get(&hash) {
            Some(c) => c,
            None => {
                let session = state.store.get_session_by_token_hash(&hash).await?.ok_or_else(|| {
                    ApiError::unauthorized(format!("this session does not exist (it was signed out, revoked or tampered with); sign in again at {sign_in}"))
                })?;
                let user = state.store.get_user(session.user_id).await?.ok_or_else(|| {
                    ApiError::unauthorized(format!("the account of this session was deleted; sign in again at {sign_in}"))
                })?;
                let memberships = state.store.memberships_of(user.id).await?;
                state.sessions.insert(hash.clone(), session, user, memberships)
            }
        };
        match ctx.session.times.status(now, &state.config.session) {
            SessionStatus::Active => {}
            SessionStatus::Revoked => {
                return Err(ApiError::unauthorized(format!("this session was revoked; sign in again at {sign_in}")))
            }
            SessionStatus::Expired => {
                return Err(ApiError::unauthorized(format!(
                    "this session reached its maximum lifetime; sign in again at {sign_in}"
                )))
            }
            SessionStatus::IdleTimedOut => {
                return Err(ApiError::unauthorized(format!(
                    "this session ended after being idle too long; sign in again at {sign_in}"
                )))
            }
        }
        if ctx.user.is_disabled() {
            return Err(ApiError::unauthorized("this account is disabled; ask an organization owner to enable it"));
        }
        // Write `last_seen_at` back at most once per touch interval.
        let touched = ctx.touched_at.load(Ordering::Relaxed);
        if now.since(portcullis_domain::Timestamp(touched)) >= state.config.session.touch_interval
            && ctx.touched_at.compare_exchange(touched, now.0, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            let store = state.store.clone();
            let id = ctx.session.id;
            tokio::spawn(async move {
                if let Err(e) = store.touch_session(id, now).await {
                    tracing::warn!(error = %e, "could not record session activity");
                }
            });
        }
        Ok(Caller { token_hash: hash, ctx, bearer: false })
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer::from_header(&parts.headers)? {
            return bearer::caller(state, token).await;
        }
        let caller = Caller::from_headers(state, &parts.headers).await?;
        if is_unsafe(&parts.method) {
            check_same_origin(state, &parts.headers)?;
            let presented = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if !state.keys.verify_csrf("session", &caller.ctx.session.id.to_string(), presented) {
                return Err(ApiError::new(
                    Status::Forbidden,
                    "csrf",
                    "missing or wrong X-CSRF-Token header: requests that change state with a session cookie must send the csrf_token that GET /api/v1/me returns",
                ));
            }
        }
        Ok(caller)
    }
}

/// Who `user` is in organization `org`, for the RBAC decision: their role
/// there (none if they are not a member) and whether they administer the
/// installation. The one place a principal is built from stored records.
pub fn principal_in(user: &portcullis_storage::User, memberships: &[portcullis_storage::Membership], org: portcullis_domain::OrgId) -> Principal {
    let roles = memberships
        .iter()
        .filter(|m| m.org.id == org)
        .map(|m| RoleRef { id: m.role.id, name: m.role.name.clone(), kind: m.role.kind, permissions: m.role.effective_permissions() })
        .collect();
    Principal { user_id: user.id, factory_admin: user.factory_admin, org: Some(OrgContext { org_id: org, roles }) }
}

/// A caller acting inside one organization, chosen by the
/// `X-Organization-Id` header (or the platform CLI's
/// `X-Crewai-Organization-Id`), or implied when they belong to only one.
pub struct OrgScope {
    pub caller: Caller,
    pub org: Organization,
    pub principal: Principal,
}

impl OrgScope {
    /// Runs the RBAC decision; a refusal becomes 403 (what was lacking) or
    /// 404 (the caller may not know the resource exists).
    pub fn authorize(&self, action: Action<'_>, resource: &str) -> ApiResult<()> {
        match decide(&self.principal, action) {
            Decision::Allow => Ok(()),
            Decision::Deny(d) => Err(ApiError::new(Status::Forbidden, "forbidden", format!("{resource}: {d}"))),
            Decision::NotFound => Err(ApiError::not_found(resource)),
        }
    }
}

impl FromRequestParts<AppState> for OrgScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let header = ["x-organization-id", "x-crewai-organization-id"]
            .iter()
            .find_map(|h| parts.headers.get(*h))
            .map(|v| v.to_str().unwrap_or("").trim().to_owned());
        let memberships = &caller.ctx.memberships;
        let listing = || {
            memberships.iter().map(|m| format!("{} ({})", m.org.id, m.org.name)).collect::<Vec<_>>().join(", ")
        };
        let membership = match header {
            Some(h) => {
                let id: portcullis_domain::OrgId = h.parse().map_err(|_| {
                    ApiError::bad_request("invalid_organization", format!("X-Organization-Id `{h}` is not a UUID"))
                })?;
                match memberships.iter().find(|m| m.org.id == id) {
                    Some(m) => Some(m.clone()),
                    None if caller.ctx.user.factory_admin => None,
                    None => return Err(ApiError::not_found("organization")),
                }
                .map(Ok)
                .unwrap_or_else(|| Err(id))
            }
            None => match memberships.len() {
                1 => Ok(memberships[0].clone()),
                0 => {
                    return Err(ApiError::bad_request(
                        "no_organization",
                        "you are not a member of any organization; ask an owner to add you, or name one with X-Organization-Id",
                    ))
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "organization_required",
                        format!("you belong to several organizations; choose one with the X-Organization-Id header: {}", listing()),
                    ))
                }
            },
        };
        let org = match membership {
            Ok(m) => m.org,
            // A factory-admin acting in an organization they are not a member of.
            Err(id) => state.store.get_org(id).await?.ok_or_else(|| ApiError::not_found("organization"))?,
        };
        let principal = principal_in(&caller.ctx.user, memberships, org.id);
        let mut e = crate::usage::event("api_call", state.clock.now());
        e.org_id = Some(org.id);
        e.user_id = Some(caller.ctx.user.id);
        state.usage.record(e);
        Ok(OrgScope { caller, org, principal })
    }
}
