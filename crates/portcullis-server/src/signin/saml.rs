//! SP-initiated SAML sign-in (SAML 2.0 Profiles §4.1): `GET
//! /auth/<p>/login` sends a signed AuthnRequest over HTTP-Redirect; the IdP
//! posts the Response to `POST /auth/<p>/callback` (the ACS); the SP
//! metadata is at `GET /auth/<p>/metadata`.
//!
//! The AuthnRequest's ID (160 random bits) and the `return_to` travel in a
//! cookie sealed with the server key, so a Response is accepted only in
//! the browser that started the sign-in, for the request it answers, once
//! (the ID is spent in the database). The assertion's ID is spent too,
//! until the assertion expires, so a replayed assertion is refused on
//! every replica.

use crate::idp::saml::precheck::{self, Refusal, Shape};
use crate::idp::saml::{refused, unavailable, SamlProvider, MAX_SKEW};
use crate::audit::{self, Entry};
use crate::session::ClientIp;
use crate::keys::token_hash;
use crate::idp::error::SignInError;
use crate::idp::identity::Identity;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_domain::validation::safe_return_to;
use portcullis_domain::Timestamp;
use samael::schema::Assertion;
use serde::{Deserialize, Serialize};
use crate::session::cookies::{cookie_name, transaction_cookie};
use crate::session::transaction::{open_transaction, seal_transaction};
use std::sync::Arc;
use std::time::Duration;

/// How long a sign-in may take at the IdP.
const TRANSACTION_LIFETIME: Duration = Duration::from_secs(600);
/// The largest ACS request body read (the form around `SAMLResponse`);
/// the response itself is capped lower, with an explanation.
pub const MAX_ACS_BODY: usize = 2 * 1024 * 1024;
#[derive(Serialize, Deserialize)]
struct Transaction {
    request_id: String,
    return_to: String,
    expires_at: i64,
}

fn tx_cookie_name(state: &AppState, provider: &str) -> String {
    cookie_name(state, &format!("portcullis_saml_{provider}"))
}

fn tx_aad(provider: &str) -> String {
    format!("saml-transaction:{provider}")
}

fn tx_cookie(state: &AppState, provider: &str, value: &str, max_age: u64) -> String {
    transaction_cookie(state, &tx_cookie_name(state, provider), value, max_age)
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /auth/<provider>/login?return_to=/path`.
pub async fn login(state: &AppState, p: Arc<SamlProvider>, headers: &HeaderMap, q: LoginQuery) -> Response {
    let provider = p.settings.provider;
    let Some(idp) = p.idp() else { return unavailable(&p).respond(provider, &p.sp.acs_url, headers) };
    let request_id = crate::idp::saml::new_message_id();
    let return_to = safe_return_to(q.return_to.as_deref(), &state.config.public_origin());
    let url = (|| -> Result<url::Url, Box<dyn std::error::Error>> {
        let mut req = idp.sp.make_authentication_request(&idp.sso_url)?;
        req.id = request_id.clone();
        // Signed always: our metadata says AuthnRequestsSigned, and an IdP
        // that checks can then tell our requests from forged ones.
        req.signed_redirect(&return_to, &p.sp.key)?.ok_or_else(|| "no destination".into())
    })();
    let url = match url {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(provider, error = %e, "building the AuthnRequest failed");
            return crate::error::ApiError::internal("AuthnRequest").into_response();
        }
    };
    let tx = Transaction { request_id, return_to, expires_at: state.clock.now().plus(TRANSACTION_LIFETIME).0 };
    let sealed = seal_transaction(state, &tx, &tx_aad(provider));
    let mut resp = Redirect::to(url.as_str()).into_response();
    if let Ok(v) = HeaderValue::from_str(&tx_cookie(state, provider, &sealed, TRANSACTION_LIFETIME.as_secs())) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /auth/<provider>/metadata`: this SP's metadata, for the IdP.
pub fn metadata(p: &SamlProvider) -> Response {
    let mut r = p.sp.metadata_xml().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/samlmetadata+xml"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse", default)]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `POST /auth/<provider>/callback`: the assertion consumer service.
pub async fn acs(state: &AppState, p: Arc<SamlProvider>, ip: Option<String>, headers: &HeaderMap, form: AcsForm) -> Response {
    let provider = p.settings.provider;
    let clear = HeaderValue::from_str(&tx_cookie(state, provider, "", 0)).ok();
    let mut resp = match finish(state, &p, headers, form).await {
        Ok(r) => r,
        Err(e) => {
            audit::record(
                state,
                Entry::new("login", false).ip(ip).detail(serde_json::json!({ "provider": provider, "protocol": "saml", "reason": e.detail().chars().take(300).collect::<String>() })),
            )
            .await;
            super::complete::record_attempt(state, None, provider, false).await;
            e.respond(provider, &p.sp.acs_url, headers)
        }
    };
    if let Some(c) = clear {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

async fn finish(state: &AppState, p: &SamlProvider, headers: &HeaderMap, form: AcsForm) -> Result<Response, SignInError> {
    let s = &p.settings;
    let idp = p.idp().ok_or_else(|| unavailable(p))?;
    let now = state.clock.now();
    // 1. Size, encoding, DOCTYPE, comments, structure, algorithms.
    if form.saml_response.is_empty() {
        return Err(refused(Refusal { check: "malformed", cause: "The POST carries no SAMLResponse.".into(), fix: "Start again from the sign-in page.".into() }));
    }
    let xml = precheck::decode_post(&form.saml_response).map_err(refused)?;
    let shape = precheck::check_response(&xml, s.allow_sha1).map_err(refused)?;
    // 2. RelayState: only a path on this server.
    let relay_target = precheck::relay_state_target(form.relay_state.as_deref(), &state.config.public_origin()).map_err(refused)?;
    // 3. The request this answers: from this browser's sealed cookie, once.
    let tx = open_transaction::<Transaction>(state, headers, &tx_cookie_name(state, s.provider), &tx_aad(s.provider)).filter(|t| t.expires_at > now.0);
    let (request_id, return_to) = match (&tx, &shape.in_response_to) {
        (Some(t), Some(irt)) if *irt == t.request_id => (Some(t.request_id.clone()), t.return_to.clone()),
        (Some(t), got) => {
            return Err(refused(Refusal {
                check: "InResponseTo",
                cause: format!("The response answers request `{}`, but this browser's sign-in sent `{}`.", got.as_deref().unwrap_or("(none: IdP-initiated)"), t.request_id),
                fix: "Start again from the sign-in page, in one tab.".into(),
            }))
        }
        (None, None) if s.allow_idp_initiated => (None, relay_target),
        (None, None) => {
            return Err(refused(Refusal {
                check: "InResponseTo",
                cause: "The response was not requested by Portcullis (IdP-initiated sign-in), which is off.".into(),
                fix: "Start from Portcullis's sign-in page, or have an administrator set SAML_ALLOW_IDP_INITIATED=true.".into(),
            }))
        }
        (None, Some(irt)) => {
            return Err(refused(Refusal {
                check: "InResponseTo",
                cause: format!("The response answers request `{}`, but no sign-in is in progress in this browser (or it took longer than 10 minutes).", irt.chars().take(80).collect::<String>()),
                fix: "Start again from the sign-in page, in the same browser; cookies must be enabled for this site.".into(),
            }))
        }
    };
    // 4. The signature (libxmlsec1, certificates pinned from metadata) and
    //    samael's checks: Destination, Issuer, Audience, Recipient, times.
    let assertion = {
        let idp = idp.clone();
        let xml = xml.clone();
        let ids: Vec<String> = request_id.iter().cloned().collect();
        let shape = shape.clone();
        let audience = p.sp.entity_id.clone();
        let acs = p.sp.acs_url.clone();
        tokio::task::spawn_blocking(move || {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            // PreDigest: what is read is exactly the canonical bytes xmlsec
            // hashed for the verified signature (the Response's when both
            // are signed), so only signed content is ever parsed; it is
            // also three times faster than pruning the document.
            idp.sp
                .parse_xml_response_with_mode(&xml, if ids.is_empty() { None } else { Some(&ids) }, samael::crypto::ReduceMode::PreDigest)
                .map_err(|e| explain(&e, &shape, &idp, &audience, &acs))
        })
        .await
        .map_err(|e| SignInError::Storage(format!("verifier task: {e}")))?
        .map_err(refused)?
    };
    // 5. What SAML requires to be present, which samael checks only when it
    //    is: a signed Response must name its Destination (Bindings
    //    §3.5.5.2; samael sees the signed bytes without their Signature,
    //    so it cannot tell), and the assertion must be restricted to this
    //    SP (Profiles §4.1.4.2), so one issued for another SP is refused.
    if shape.response_signed && shape.destination.as_deref().is_none_or(str::is_empty) {
        return Err(refused(Refusal {
            check: "Destination",
            cause: "The response is signed but names no Destination, which SAML requires of a signed response (Bindings §3.5.5.2).".into(),
            fix: "Configure the IdP to put the ACS URL in the Response's Destination (most do by default); it must be exactly this server's /auth/<provider>/callback.".into(),
        }));
    }
    check_audience(&assertion, &p.sp.entity_id)?;
    // 6. Times against this server's clock (the injected one), 3 minutes of skew.
    check_times(&assertion, now)?;
    // 7. Each request and each assertion once, on every replica.
    if let Some(id) = &request_id {
        let fresh = state.store.consume_once(portcullis_storage::OnceKind::SamlRequest, &token_hash(id), now.plus(TRANSACTION_LIFETIME)).await.map_err(SignInError::from)?;
        if !fresh {
            return Err(refused(Refusal { check: "replay", cause: "A response to this sign-in request was already accepted.".into(), fix: "Start again from the sign-in page.".into() }));
        }
    }
    let until = assertion_end(&assertion).unwrap_or(now.plus(Duration::from_secs(3600))).plus(MAX_SKEW);
    let fresh = state
        .store
        .consume_once(portcullis_storage::OnceKind::SamlAssertion, &token_hash(&format!("{}\n{}", idp.entity_id, assertion.id)), until)
        .await
        .map_err(SignInError::from)?;
    if !fresh {
        return Err(refused(Refusal {
            check: "replay",
            cause: format!("The assertion `{}` was already used to sign in; each assertion is accepted once.", assertion.id.chars().take(80).collect::<String>()),
            fix: "Start again from the sign-in page.".into(),
        }));
    }
    // 8. Who, and their roles: read only from the verified assertion.
    let ident = identity(s, &assertion)?;
    let user = crate::signin::provision::sign_in(
        state,
        crate::signin::provision::IdpRef { provider: s.provider, display_name: s.display_name, issuer: &idp.entity_id, require_role: s.require_role },
        &ident,
    )
    .await?;
    // What single logout needs to name this session to the IdP.
    let logout_name = crate::idp::saml::session_name::session_info(&state.sealer, &user.id, &idp.entity_id, &assertion);
    // The session starts on the next, same-site request: this POST came
    // from the IdP's site, so the browser did not send its SameSite=Lax
    // session cookie, and the session it holds could not be ended here.
    Ok(super::saml_complete::hand_over(state, s.provider, &user, logout_name, &return_to, ident.roles))
}

fn ts(t: &chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp(t.timestamp_millis())
}

/// When the assertion stops being usable (the earliest of its ends).
fn assertion_end(a: &Assertion) -> Option<Timestamp> {
    let conditions = a.conditions.as_ref().and_then(|c| c.not_on_or_after.as_ref()).map(ts);
    let confirmation = a
        .subject
        .as_ref()
        .and_then(|s| s.subject_confirmations.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.subject_confirmation_data.as_ref().and_then(|d| d.not_on_or_after.as_ref()).map(ts))
        .min();
    [conditions, confirmation].into_iter().flatten().min()
}

/// Profiles §4.1.4.2: the assertion MUST carry an AudienceRestriction
/// naming this SP; every restriction it carries must include it (Core
/// §2.5.1.4: each one must be satisfied).
fn check_audience(a: &Assertion, entity_id: &str) -> Result<(), SignInError> {
    let restrictions = a.conditions.as_ref().and_then(|c| c.audience_restrictions.as_ref()).filter(|r| !r.is_empty());
    let fix = "Set the Identifier (Entity ID) of the IdP app to this server's SP entity id (see /auth/<provider>/metadata); the IdP then restricts its assertions to it.";
    let Some(restrictions) = restrictions else {
        let cause = match &a.conditions {
            None => "The assertion has no Conditions, so no AudienceRestriction: it does not say which service provider it is for.",
            Some(_) => "The assertion's Conditions have no AudienceRestriction: it does not say which service provider it is for.",
        };
        return Err(refused(Refusal { check: "Audience", cause: format!("{cause} Expected one naming `{entity_id}`."), fix: fix.into() }));
    };
    if let Some(r) = restrictions.iter().find(|r| !r.audience.iter().any(|x| x.trim() == entity_id)) {
        return Err(refused(Refusal {
            check: "Audience",
            cause: format!("The assertion is for audience {}, expected `{entity_id}`.", r.audience.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ")),
            fix: fix.into(),
        }));
    }
    Ok(())
}

fn check_times(a: &Assertion, now: Timestamp) -> Result<(), SignInError> {
    let skew = MAX_SKEW.as_millis() as i64;
    let fix = "Check that the clocks of this server and of the IdP are right (NTP); at most 3 minutes of difference are tolerated.";
    if let Some(nb) = a.conditions.as_ref().and_then(|c| c.not_before.as_ref()).map(ts) {
        if nb.0 - skew > now.0 {
            return Err(refused(Refusal { check: "NotBefore", cause: format!("The assertion is not valid for another {} s (clock skew).", (nb.0 - now.0) / 1000), fix: fix.into() }));
        }
    }
    if let Some(end) = assertion_end(a) {
        if end.0 + skew <= now.0 {
            return Err(refused(Refusal { check: "NotOnOrAfter", cause: format!("The assertion expired {} s ago.", (now.0 - end.0) / 1000), fix: fix.into() }));
        }
    }
    Ok(())
}

fn attribute_values<'a>(a: &'a Assertion, names: &[String]) -> Vec<&'a str> {
    let attrs: Vec<_> = a.attribute_statements.iter().flatten().flat_map(|s| s.attributes.iter()).collect();
    for n in names {
        let vals: Vec<&str> = attrs
            .iter()
            .filter(|at| at.name.as_deref() == Some(n.as_str()) || at.friendly_name.as_deref() == Some(n.as_str()))
            .flat_map(|at| at.values.iter())
            .filter_map(|v| v.value.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if !vals.is_empty() {
            return vals;
        }
    }
    Vec::new()
}

fn identity(s: &crate::idp::saml::SamlSettings, a: &Assertion) -> Result<Identity, SignInError> {
    let name_id = a.subject.as_ref().and_then(|s| s.name_id.as_ref()).map(|n| n.value.trim().to_owned()).filter(|v| !v.is_empty());
    let subject = match &s.attributes.subject {
        Some(attr) => attribute_values(a, std::slice::from_ref(attr)).first().map(|v| v.to_string()).or(name_id.clone()),
        None => name_id.clone(),
    }
    .ok_or_else(|| refused(Refusal { check: "NameID", cause: "The assertion names no subject (no NameID).".into(), fix: "Configure the IdP to send a persistent NameID.".into() }))?;
    let email = attribute_values(a, &s.attributes.email)
        .first()
        .map(|v| v.to_string())
        .or(name_id.filter(|n| n.contains('@')))
        .ok_or_else(|| {
            refused(Refusal {
                check: "attributes",
                cause: format!("The assertion carries no e-mail address (looked for the attributes {}).", s.attributes.email.join(", ")),
                fix: "Add an e-mail attribute to the IdP's claims, or name yours with SAML_ATTRIBUTE_EMAIL.".into(),
            })
        })?;
    let email = portcullis_domain::validation::email(&email)
        .map_err(|v| refused(Refusal { check: "attributes", cause: format!("The e-mail attribute is not an address: {}", v.problem), fix: "Check the IdP's e-mail claim.".into() }))?;
    let name = attribute_values(a, &s.attributes.name).first().map(|v| v.to_string()).unwrap_or_else(|| email.clone());
    let roles = attribute_values(a, &s.attributes.roles).into_iter().map(str::to_owned).collect();
    // A signed assertion's address is the IdP's word: SAML has no "unverified" flag.
    Ok(Identity { subject, email, email_verified: true, name, roles, sid: None, id_token: String::new() })
}

/// samael's refusal, in the troubleshooting guide's terms: which check,
/// what the IdP sent, what was expected.
fn explain(e: &samael::service_provider::Error, shape: &Shape, idp: &crate::idp::saml::metadata::IdpMetadata, audience: &str, acs: &str) -> Refusal {
    use samael::service_provider::Error as E;
    let r = |check: &'static str, cause: String, fix: &str| Refusal { check, cause, fix: fix.to_owned() };
    let restart = "Start again from the sign-in page.";
    match e {
        E::FailedToValidateSignature => {
            let foreign: Vec<String> = shape
                .key_info_certs
                .iter()
                .filter_map(|c| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(c).ok()
                })
                .map(|der| crate::idp::saml::metadata::fingerprint(&der))
                .filter(|f| !idp.fingerprints.contains(f))
                .collect();
            if let Some(f) = foreign.first() {
                r(
                    "signature",
                    format!("The response is signed with a certificate that is not the one in the IdP's metadata (got SHA-256 {f}, metadata has {}).", idp.fingerprints.join(" or ")),
                    "If the IdP rolled over its signing certificate, Portcullis reads the new one at the next metadata refresh (SAML_METADATA_REFRESH); otherwise the response did not come from the IdP whose metadata Portcullis reads.",
                )
            } else {
                r("signature", "The XML signature does not verify against the IdP's certificates from its metadata (the message was changed after signing, or signed by another key).".into(), restart)
            }
        }
        E::DestinationValidationError { response_destination, .. } => r(
            "Destination",
            format!("The response is addressed to `{}`, expected `{acs}`.", response_destination.as_deref().unwrap_or("(none)")),
            "Set the Reply URL (Assertion Consumer Service URL) at the IdP to exactly this server's /auth/<provider>/callback.",
        ),
        E::ResponseIssuerMismatch { issuer, entity_id } | E::AssertionIssuerMismatch { issuer, entity_id } => r(
            "Issuer",
            format!("The response was issued by `{}`, expected `{}` (the entity id in the IdP's metadata).", issuer.as_deref().unwrap_or("(none)"), entity_id.as_deref().unwrap_or("?")),
            "Check that the metadata URL variable points at the IdP app that signs users in.",
        ),
        E::AssertionConditionAudienceRestrictionFailed { .. } => r(
            "Audience",
            format!("The assertion is for audience {}, expected `{audience}`.", if shape.audiences.is_empty() { "(none)".into() } else { shape.audiences.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ") }),
            "Set the Identifier (Entity ID) of the IdP app to this server's SP entity id (see /auth/<provider>/metadata), or set SAML_SP_ENTITY_ID to what the IdP uses.",
        ),
        E::AssertionRecipientMismatch { assertion_recipient, .. } => r(
            "Recipient",
            format!("The assertion's Recipient is `{}`, expected `{acs}`.", assertion_recipient.as_deref().unwrap_or("(none)")),
            "Set the Reply URL at the IdP to exactly this server's /auth/<provider>/callback.",
        ),
        E::ResponseInResponseToInvalid { possible_ids } => r(
            "InResponseTo",
            format!("The response answers `{}`, expected `{}`.", shape.in_response_to.as_deref().unwrap_or("(none)"), possible_ids.join(", ")),
            restart,
        ),
        // The value compared here is the assertion's own (its
        // SubjectConfirmationData), which may differ from the Response's.
        E::AssertionInResponseToInvalid { possible_ids } => r(
            "InResponseTo",
            format!(
                "The assertion answers `{}`, expected `{}`.",
                if shape.assertion_in_response_to.is_empty() { "(none)".to_owned() } else { shape.assertion_in_response_to.join("`, `") },
                possible_ids.join(", ")
            ),
            restart,
        ),
        E::AssertionExpired { time } | E::AssertionConditionExpired { time } | E::AssertionSubjectConfirmationExpired { time } | E::ResponseExpired { time } => r(
            "NotOnOrAfter",
            format!("The assertion expired at {time} (this server's time is {}).", chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "Check that the clocks of this server and of the IdP are right (NTP); at most 3 minutes of difference are tolerated.",
        ),
        E::AssertionConditionExpiredBefore { time } | E::AssertionSubjectConfirmationExpiredBefore { time } => r(
            "NotBefore",
            format!("The assertion is not valid before {time} (this server's time is {}).", chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "Check that the clocks of this server and of the IdP are right (NTP); at most 3 minutes of difference are tolerated.",
        ),
        E::ResponseBadStatusCode { code } => r(
            "Status",
            format!("The IdP answered with status `{code}` instead of Success."),
            "The user may not be assigned to the application at the IdP; ask your administrator.",
        ),
        E::AssertionBearerSubjectConfirmationMissing | E::AssertionSubjectConfirmationMissing => {
            r("SubjectConfirmation", "The assertion has no bearer SubjectConfirmation.".into(), "Configure the IdP for the Web Browser SSO profile.")
        }
        other => r("malformed", format!("The response could not be processed ({other})."), "An administrator should compare the IdP's SAML settings with Portcullis's SP metadata; the log line has the detail."),
    }
}

/// Route glue: which provider, and whether it speaks SAML.
pub async fn login_route(State(state): State<AppState>, Path(provider): Path<String>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    match state.sso.saml(&provider) {
        Some(p) => login(&state, p, &headers, q).await,
        None => crate::signin::oidc::login_oidc(state, provider, headers, q.return_to).await,
    }
}

pub async fn acs_route(State(state): State<AppState>, Path(provider): Path<String>, ClientIp(ip): ClientIp, headers: HeaderMap, axum::Form(form): axum::Form<AcsForm>) -> Response {
    match state.sso.saml(&provider) {
        Some(p) => acs(&state, p, ip, &headers, form).await,
        None => SignInError::UnknownProvider(provider.chars().take(40).collect()).respond(&provider, "", &headers),
    }
}

pub async fn metadata_route(State(state): State<AppState>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    match state.sso.saml(&provider) {
        Some(p) => metadata(&p),
        None => SignInError::UnknownProvider(provider.chars().take(40).collect()).respond(&provider, "", &headers),
    }
}
