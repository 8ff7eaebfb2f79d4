//! Test sign-in (Sign-in settings, factory-admins): a real round trip to an
//! identity provider that reports every check and creates no session.
//!
//! The Sign-in settings page's `GET /settings/sign-in/test/{provider}`
//! (`begin`) starts an ordinary sign-in (its own `state`, PKCE and `nonce`,
//! or SAML request id) and leaves a sealed marker cookie bound to the
//! provider and the administrator. When the IdP
//! sends the browser back, `federated::finish` sees the marker and hands
//! the answer here instead of to provisioning: the protocol's checks run as
//! for any sign-in, and for OpenID Connect the access token of the code
//! exchange is checked as the API checks tokens (its API audience among
//! them). Nothing is provisioned and no session starts; the report is
//! audited as `sign_in.test`.

use super::federated::{exchange, go};
use crate::audit::{self, Entry};
use crate::idp::error::SignInError;
use crate::idp::provider::{Answer, Finished, IdentityProvider, Protocol};
use crate::pages::{self, SignInTestView, TestCheck};
use crate::session::cookies::{cookie_name, transaction_cookie};
use crate::session::transaction::{open_transaction, seal_transaction};
use crate::idp::vendors::VendorOf;
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const MARKER: &str = "portcullis_test_sign_in";
/// As long as a sign-in transaction lives.
const LIFETIME_SECS: u64 = 600;

#[derive(Serialize, Deserialize)]
struct Marker {
    provider: String,
    admin: UserId,
    expires_at: i64,
}

fn aad(provider: &str) -> String {
    format!("test-sign-in:{provider}")
}

/// Starts a test sign-in with `p` for the administrator `admin` (the page
/// checked that they are one): off to the IdP, marked as a test.
pub async fn begin(state: &AppState, p: Arc<dyn IdentityProvider>, admin: UserId) -> Response {
    let started = match p.start_sign_in(exchange(state), "/settings/sign-in".into()).await {
        Ok(s) => s,
        Err(e) => return pages::sign_in_test(&view(p.as_ref(), &Err(e), None)),
    };
    let marker = Marker { provider: p.name().to_owned(), admin, expires_at: state.clock.now().0 + LIFETIME_SECS as i64 * 1000 };
    let sealed = seal_transaction(state, &marker, &aad(p.name()));
    let mut resp = go(state, started);
    // Travels on SAML's cross-site POST back too, like the transaction itself.
    if let Ok(v) = HeaderValue::from_str(&transaction_cookie(state, &cookie_name(state, MARKER), &sealed, LIFETIME_SECS)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The administrator who started a test sign-in with `provider` in this
/// browser, if one is under way.
pub fn marked(state: &AppState, headers: &HeaderMap, provider: &str) -> Option<UserId> {
    let m: Marker = open_transaction(state, headers, &cookie_name(state, MARKER), &aad(provider))?;
    (m.provider == provider && m.expires_at > state.clock.now().0).then_some(m.admin)
}

/// The answer of a test sign-in, checked and reported; the marker ends.
pub async fn finish(state: &AppState, p: Arc<dyn IdentityProvider>, admin_id: UserId, answer: Answer<'_>, pending: Option<Vec<u8>>) -> Response {
    let result = p.finish_sign_in(exchange(state), answer, pending).await;
    let access = match (&result, p.protocol()) {
        (Ok(f), Protocol::OpenIdConnect) => Some(api_token_check(state, p.name(), f).await),
        _ => None,
    };
    let ok = result.is_ok() && access.as_ref().is_none_or(|a| a.is_ok());
    let mut resp = match state.store.get_user(admin_id).await.ok().flatten() {
        Some(user) if user.factory_admin && !user.is_disabled() => {
            audit::record(state, Entry::new("sign_in.test", ok).actor(user.id, &user.email).detail(serde_json::json!({ "provider": p.name() }))).await;
            pages::sign_in_test(&view(p.as_ref(), &result, access))
        }
        _ => pages::message(crate::error::Status::Forbidden, "Not allowed", "Test sign-in is for installation administrators (factory-admin), and the one who started this is no longer one.", None),
    };
    if let Ok(v) = HeaderValue::from_str(&transaction_cookie(state, &cookie_name(state, MARKER), "", 0)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The access token checked as the API checks a CLI's: the API audience
/// configured, signature, issuer, audience, an access token of this installation.
async fn api_token_check(state: &AppState, provider: &str, f: &Finished) -> Result<Vec<String>, String> {
    let Some(p) = state.sso.get(provider) else { return Err("the provider is gone".into()) };
    let Some(token) = &f.access_token else { return Err("the token response held no access token".into()) };
    if !token.0.contains('.') {
        return Err(format!("the access token is opaque (not a JWT), so the API cannot check it; configure {} to issue JWT access tokens for the API audience ({})", p.settings.vendor().display_name(), p.settings.vendor().audience_variable()));
    }
    match crate::signin::bearer::check_api_token(state, p, &token.0, state.clock.now()).await {
        Ok((claims, _)) => Ok(vec![format!("audience {}", claims.get("aud").map(|a| a.to_string()).unwrap_or_default())]),
        Err(e) => Err(e.message),
    }
}

/// The checks of an OpenID Connect sign-in, in the order they run.
const OIDC_CHECKS: &[&str] = &["state (this browser's sign-in, PKCE, not used before)", "the identity provider's answer (RFC 9207 issuer, no error)", "code exchange", "ID token signature", "issuer", "audience (ID token for this client)", "token times and nonce", "claims (subject, e-mail)"];

/// Which check an error is the failure of.
fn failed_at(e: &SignInError) -> usize {
    use SignInError::*;
    match e {
        BadState(_) => 0,
        IssuerMixUp { .. } | IdpError { .. } | Vendor { .. } | RedirectUriMismatch => 1,
        CodeRefused(_) | Unreachable(_) => 2,
        SignatureFailed { .. } => 3,
        WrongIssuer { .. } => 4,
        AudienceMismatch { .. } => 5,
        Expired | BadNonce => 6,
        _ => 7,
    }
}

fn view(p: &dyn IdentityProvider, result: &Result<Finished, SignInError>, access: Option<Result<Vec<String>, String>>) -> SignInTestView {
    let mut checks = Vec::new();
    let passed = |name: &str, detail: String| TestCheck { name: name.to_owned(), outcome: "passed", detail };
    match (p.protocol(), result) {
        (Protocol::OpenIdConnect, Ok(_)) => checks.extend(OIDC_CHECKS.iter().map(|c| passed(c, String::new()))),
        (Protocol::OpenIdConnect, Err(e)) => {
            let at = failed_at(e);
            let (_, cause, fix) = e.explain(p.callback_url());
            for (i, c) in OIDC_CHECKS.iter().enumerate() {
                checks.push(match i.cmp(&at) {
                    std::cmp::Ordering::Less => passed(c, String::new()),
                    std::cmp::Ordering::Equal => TestCheck { name: (*c).to_owned(), outcome: "failed", detail: format!("{cause} How to fix it: {fix}") },
                    std::cmp::Ordering::Greater => TestCheck { name: (*c).to_owned(), outcome: "not reached", detail: String::new() },
                });
            }
        }
        (Protocol::Saml, Ok(_)) => checks.push(passed("the SAML Response (signature, issuer, audience, destination, times, InResponseTo)", String::new())),
        (Protocol::Saml, Err(e)) => {
            let (_, cause, fix) = e.explain(p.callback_url());
            let name = match e {
                SignInError::Saml { check, .. } => format!("the SAML Response: {check}"),
                _ => "the SAML Response".into(),
            };
            checks.push(TestCheck { name, outcome: "failed", detail: format!("{cause} How to fix it: {fix}") });
        }
    }
    match access {
        Some(Ok(details)) => checks.push(passed("access token for the API (as the CLI's tokens are checked)", details.join(", "))),
        Some(Err(why)) => checks.push(TestCheck { name: "access token for the API (as the CLI's tokens are checked)".into(), outcome: "failed", detail: why }),
        None if p.protocol() == Protocol::OpenIdConnect => checks.push(TestCheck { name: "access token for the API (as the CLI's tokens are checked)".into(), outcome: "not reached", detail: String::new() }),
        None => {}
    }
    let (identity, roles) = match result {
        Ok(f) => {
            let roles = if f.identity.roles.is_empty() {
                TestCheck {
                    name: "roles".into(),
                    outcome: if p.require_role() { "failed" } else { "none" },
                    detail: if p.require_role() { "the sign-in carries no role, and this provider requires one: assign the user a role or group at the identity provider".into() } else { "the sign-in carries no role or group".into() },
                }
            } else {
                passed("roles", f.identity.roles.join(", "))
            };
            (Some(format!("{} <{}> (subject {})", f.identity.name, f.identity.email, f.identity.subject)), Some(roles))
        }
        Err(_) => (None, None),
    };
    checks.extend(roles);
    let ok = checks.iter().all(|c| c.outcome != "failed" && c.outcome != "not reached");
    SignInTestView { provider: p.display_name().to_owned(), ok, checks, identity }
}
