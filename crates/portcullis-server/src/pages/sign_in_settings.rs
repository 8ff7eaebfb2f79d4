//! Sign-in settings (factory-admins): the troubleshooting guide made live.
//! For each active provider: the exact URLs to register at the IdP (with
//! copy buttons, `static/copy.js`), discovery and key state (issuer, each
//! signing key's `kid` and `alg`, last and next refresh), SAML certificates
//! with their expiry (a warning 30 days ahead), the CLI settings that
//! `/auth/parameters` hands out, the last sign-in failures with their cause
//! and fix as the sign-in page said them, and Test sign-in
//! (`signin::test_sign_in`). Secrets are never shown: client secrets and
//! keys appear only as "set" or "not set".

use crate::idp::provider::IdentityProvider;
use crate::idp::JWKS_REFRESH;
use crate::pages;
use crate::session::Caller;
use crate::state::AppState;
use crate::timestamps::human;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use portcullis_domain::{decide, Action, Principal, Timestamp};
use portcullis_storage::AuditFilter;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far ahead an expiring certificate is announced.
pub const CERT_WARNING: Duration = Duration::from_secs(30 * 86_400);
/// Sign-in failures shown.
const FAILURES_SHOWN: usize = 20;

struct Url {
    label: &'static str,
    value: String,
}

struct Key {
    kid: String,
    alg: String,
}

/// A certificate and when it expires, with a warning near or past that.
pub struct Cert {
    pub what: String,
    pub expires: String,
    pub warning: Option<String>,
}

struct ProviderView {
    name: &'static str,
    display_name: &'static str,
    protocol: &'static str,
    urls: Vec<Url>,
    facts: Vec<(&'static str, String)>,
    problem: Option<String>,
    keys: Vec<Key>,
    certs: Vec<Cert>,
}

struct Failure {
    when: String,
    provider: String,
    cause: String,
    fix: String,
}

#[derive(askama::Template)]
#[template(path = "sign_in_settings.html")]
struct SettingsView {
    local: bool,
    providers: Vec<ProviderView>,
    cli: Result<String, String>,
    failures: Vec<Failure>,
}

fn refusal(caller: &Caller) -> Option<Response> {
    let u = &caller.ctx.user;
    pages::scope::refusal_of(decide(&Principal { user_id: u.id, factory_admin: u.factory_admin, org: None }, Action::InstallationAdmin), "Sign-in settings")
}

fn ms(t: SystemTime) -> Timestamp {
    Timestamp(t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default())
}

/// A certificate's expiry, with a warning when it is near or past.
pub fn cert(what: String, not_after: Option<i64>, now: Timestamp) -> Cert {
    match not_after {
        None => Cert { what, expires: "unknown".into(), warning: None },
        Some(at) => {
            let left = at - now.0;
            let warning = if left <= 0 {
                Some("expired: sign-ins are refused until it is replaced".to_owned())
            } else if left <= CERT_WARNING.as_millis() as i64 {
                Some(format!("expires in {} days: replace it before then", left / 86_400_000 + 1))
            } else {
                None
            };
            Cert { what, expires: human(Timestamp(at)), warning }
        }
    }
}

/// Every SAML certificate of the installation and when it expires: the
/// IdPs' signing certificates and this service provider's own.
pub fn saml_certificates(state: &AppState) -> Vec<(String, Option<i64>)> {
    let mut out = Vec::new();
    for p in state.sso.all_saml() {
        if let Some(idp) = p.idp() {
            for (fp, at) in idp.fingerprints.iter().zip(&idp.not_after) {
                out.push((format!("{}: the identity provider's signing certificate {}…", p.display_name(), &fp[..fp.len().min(16)]), *at));
            }
        }
        out.push((format!("{}: this service provider's certificate", p.display_name()), p.sp.cert_not_after_ms()));
    }
    out
}

fn providers(state: &AppState, now: Timestamp) -> Vec<ProviderView> {
    let mut out = Vec::new();
    for p in state.sso.all() {
        let s = &p.settings;
        let d = p.discovered();
        let keys = d.as_ref().map(|d| d.jwks.keys());
        let mut facts = vec![("Issuer", s.issuer.to_string()), ("Client id", s.client_id.to_string())];
        facts.push(("Client secret", if s.client_secret.is_some() { "set (never shown)".into() } else { "not set (public client)".into() }));
        facts.push(("API audience", s.audience.as_ref().map(|a| a.to_string()).unwrap_or_else(|| "not set: access tokens cannot be checked".into())));
        facts.push(("Roles claim", s.roles_claim.clone()));
        if let Some(fetched) = keys.as_ref().and_then(|k| k.fetched_at) {
            facts.push(("Keys fetched", human(ms(fetched))));
            facts.push(("Next refresh", human(ms(fetched + JWKS_REFRESH))));
        }
        out.push(ProviderView {
            name: s.provider,
            display_name: p.display_name(),
            protocol: "OpenID Connect",
            urls: vec![
                Url { label: "Redirect URI (callback)", value: p.callback_url.clone() },
                Url { label: "Post-logout redirect URI", value: state.config.public("/auth/logged-out") },
                Url { label: "Back-channel logout URI", value: state.config.public(&format!("/auth/{}/backchannel-logout", s.provider)) },
            ],
            facts,
            problem: p.problem(),
            keys: keys
                .map(|k| k.jwt.iter().map(|j| &j.jwk).map(|j| Key { kid: j.common.key_id.clone().unwrap_or_else(|| "(no kid)".into()), alg: j.common.key_algorithm.map(|a| a.to_string()).unwrap_or_else(|| "(not named)".into()) }).collect())
                .unwrap_or_default(),
            certs: vec![],
        });
    }
    for p in state.sso.all_saml() {
        let mut facts = vec![("Service provider entity id", p.sp.entity_id.clone())];
        if let Some(idp) = p.idp() {
            facts.push(("Identity provider entity id", idp.entity_id.clone()));
            facts.push(("Single sign-on URL", idp.sso_url.clone()));
        }
        let certs = saml_certificates(state).into_iter().filter(|(w, _)| w.starts_with(&format!("{}:", p.display_name()))).map(|(w, at)| cert(w, at, now)).collect();
        out.push(ProviderView {
            name: p.name(),
            display_name: p.display_name(),
            protocol: "SAML 2.0",
            urls: vec![
                Url { label: "Assertion consumer service (ACS) URL", value: p.sp.acs_url.clone() },
                Url { label: "Service provider metadata", value: p.sp.metadata_url.clone() },
                Url { label: "Single logout URL", value: p.sp.slo_url.clone() },
            ],
            facts,
            problem: p.problem(),
            keys: vec![],
            certs,
        });
    }
    out
}

/// `GET /settings/sign-in`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(caller) = Caller::from_headers(&state, &headers).await else { return pages::scope::sign_in_first("/settings/sign-in") };
    if let Some(r) = refusal(&caller) {
        return r;
    }
    let now = state.clock.now();
    let filter = AuditFilter { action: Some("login".into()), limit: 200, ..Default::default() };
    let events = match state.store.list_audit(&filter).await {
        Ok(e) => e,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let failures = events
        .iter()
        .filter(|e| e.outcome == "failure")
        .take(FAILURES_SHOWN)
        .map(|e| {
            let field = |k: &str| e.detail.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let cause = field("cause");
            Failure {
                when: human(e.at),
                provider: field("provider"),
                cause: if cause.is_empty() { field("reason") } else { cause },
                fix: field("fix"),
            }
        })
        .collect();
    let cli = crate::api::cli_parameters::parameters(&state).map(|v| serde_json::to_string_pretty(&v).unwrap_or_default());
    let view = SettingsView { local: state.config.sso.local, providers: providers(&state, now), cli, failures };
    let nav = pages::nav::for_caller(&state, &caller, "/settings/sign-in");
    pages::render("Sign-in settings", &nav, &view)
}

/// `GET /settings/sign-in/test/{provider}`: Test sign-in, in a new window.
pub async fn test(State(state): State<AppState>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    let Ok(caller) = Caller::from_headers(&state, &headers).await else { return pages::scope::sign_in_first("/settings/sign-in") };
    if let Some(r) = refusal(&caller) {
        return r;
    }
    match state.sso.provider(&provider) {
        Some(p) => crate::signin::test_sign_in::begin(&state, p, caller.ctx.user.id).await,
        None => pages::message(crate::error::Status::NotFound, "Unknown provider", "No such sign-in provider on this server.", Some(("/settings/sign-in", "Sign-in settings"))),
    }
}

#[cfg(test)]
mod tests {
    use super::cert;
    use portcullis_domain::Timestamp;

    #[test]
    fn certificates_warn_thirty_days_ahead_and_once_expired() {
        let now = Timestamp(1_000 * 86_400_000);
        let day = 86_400_000;
        assert!(cert("far".into(), Some(now.0 + 31 * day), now).warning.is_none());
        assert_eq!(cert("near".into(), Some(now.0 + 29 * day + 1), now).warning.as_deref(), Some("expires in 30 days: replace it before then"));
        assert!(cert("past".into(), Some(now.0 - 1), now).warning.unwrap().starts_with("expired"));
        assert_eq!(cert("unknown".into(), None, now).expires, "unknown");
    }
}
