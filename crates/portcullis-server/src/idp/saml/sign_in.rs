//! SAML 2.0 as an [`IdentityProvider`]: SP-initiated Web Browser SSO
//! (Profiles §4.1), the AuthnRequest over HTTP-Redirect, the Response
//! posted to the ACS; and the LogoutRequest of single logout (Profiles §4.4).
//!
//! The AuthnRequest's ID (160 random bits) and the `return_to` travel in the
//! pending transaction (a cookie sealed by the session layer), so a Response
//! is accepted only in the browser that started the sign-in, for the request
//! it answers, once (the ID is spent in the database). The assertion's ID is
//! spent too, until the assertion expires, so a replayed assertion is refused
//! on every replica.

use super::precheck::{self, Refusal, Shape, NS_ASSERTION, NS_PROTOCOL};
use super::redirect::{self, SAML_REQUEST};
use super::session_name::name_of;
use super::{new_message_id, refused, unavailable, SamlProvider, MAX_SKEW};
use crate::idp::error::SignInError;
use crate::idp::identity::Identity;
use crate::idp::provider::{Answer, Exchange, Finished, IdentityProvider, Pending, PendingCookie, Protocol, Started};
use crate::idp::session_link::{name_aad, SessionName};
use crate::keys::token_hash;
use async_trait::async_trait;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use portcullis_domain::{SessionId, Timestamp, UserId};
use portcullis_storage::OnceKind;
use samael::schema::Assertion;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a sign-in (or a sign-out) may take at the IdP.
const TRANSACTION_LIFETIME: Duration = Duration::from_secs(600);

/// What the ACS needs to finish the sign-in this browser started.
#[derive(Serialize, Deserialize)]
struct Transaction {
    request_id: String,
    return_to: String,
    expires_at: i64,
}

/// What the answer to our LogoutRequest is checked against.
#[derive(Serialize, Deserialize)]
pub struct LogoutTransaction {
    pub request_id: String,
    pub expires_at: i64,
}

/// One per provider; the IdP comes back with a cross-site POST.
fn pending_cookie(provider: &str) -> PendingCookie {
    PendingCookie { name: format!("portcullis_saml_{provider}"), aad: format!("saml-transaction:{provider}"), returns_by_post: true }
}

/// The cookie that binds the IdP's LogoutResponse to this browser; the IdP
/// answers with a top-level GET, so `SameSite=Lax` suffices.
pub fn logout_pending_cookie(provider: &str) -> PendingCookie {
    PendingCookie { name: format!("portcullis_saml_slo_{provider}"), aad: format!("saml-logout-transaction:{provider}"), returns_by_post: false }
}

/// An instant as SAML writes it (xs:dateTime, UTC, seconds).
pub fn instant(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[async_trait]
impl IdentityProvider for SamlProvider {
    fn name(&self) -> &'static str {
        self.settings.provider
    }
    fn display_name(&self) -> &'static str {
        self.settings.display_name
    }
    fn protocol(&self) -> Protocol {
        Protocol::Saml
    }
    fn callback_url(&self) -> &str {
        &self.sp.acs_url
    }
    fn require_role(&self) -> bool {
        self.settings.require_role
    }

    async fn start_sign_in(&self, x: Exchange<'_>, return_to: String) -> Result<Started, SignInError> {
        let provider = self.settings.provider;
        let idp = self.idp().ok_or_else(|| unavailable(self))?;
        let request_id = new_message_id();
        let url = (|| -> Result<url::Url, Box<dyn std::error::Error>> {
            let mut req = idp.sp.make_authentication_request(&idp.sso_url)?;
            req.id = request_id.clone();
            // Signed always: our metadata says AuthnRequestsSigned, and an IdP
            // that checks can then tell our requests from forged ones.
            req.signed_redirect(&return_to, &self.sp.key)?.ok_or_else(|| "no destination".into())
        })()
        .map_err(|e| SignInError::Internal(format!("building the AuthnRequest of {provider}: {e}")))?;
        let tx = Transaction { request_id, return_to, expires_at: x.clock.now().plus(TRANSACTION_LIFETIME).0 };
        let pending = Pending {
            cookie: pending_cookie(provider),
            lifetime: TRANSACTION_LIFETIME,
            value: serde_json::to_vec(&tx).expect("serializable"),
        };
        Ok(Started { redirect_to: url.to_string(), pending: Some(pending) })
    }

    fn pending_for(&self, _answer: &Answer<'_>) -> Option<PendingCookie> {
        Some(pending_cookie(self.settings.provider))
    }

    async fn finish_sign_in(&self, x: Exchange<'_>, answer: Answer<'_>, pending: Option<Vec<u8>>) -> Result<Finished, SignInError> {
        let Answer::Post { saml_response, relay_state } = answer else {
            return Err(refused(Refusal { check: "malformed", cause: "The identity provider answered with a redirect; SAML responses are posted to the ACS.".into(), fix: "Configure the IdP for the HTTP-POST binding.".into() }));
        };
        let p = self;
        let s = &p.settings;
        let idp = p.idp().ok_or_else(|| unavailable(p))?;
        let now = x.clock.now();
        // 1. Size, encoding, DOCTYPE, comments, structure, algorithms.
        if saml_response.is_empty() {
            return Err(refused(Refusal { check: "malformed", cause: "The POST carries no SAMLResponse.".into(), fix: "Start again from the sign-in page.".into() }));
        }
        let xml = precheck::decode_post(saml_response).map_err(refused)?;
        let shape = precheck::check_response(&xml, s.allow_sha1).map_err(refused)?;
        // 2. RelayState: only a path on this server.
        let relay_target = precheck::relay_state_target(relay_state, &x.public_origin).map_err(refused)?;
        // 3. The request this answers: from this browser's sealed cookie, once.
        let tx = pending.and_then(|b| serde_json::from_slice::<Transaction>(&b).ok()).filter(|t| t.expires_at > now.0);
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
            .map_err(|e| SignInError::Internal(format!("verifier task: {e}")))?
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
            let fresh = x.store.consume_once(OnceKind::SamlRequest, &token_hash(id), now.plus(TRANSACTION_LIFETIME)).await.map_err(SignInError::from)?;
            if !fresh {
                return Err(refused(Refusal { check: "replay", cause: "A response to this sign-in request was already accepted.".into(), fix: "Start again from the sign-in page.".into() }));
            }
        }
        let until = assertion_end(&assertion).unwrap_or(now.plus(Duration::from_secs(3600))).plus(MAX_SKEW);
        let fresh = x
            .store
            .consume_once(OnceKind::SamlAssertion, &token_hash(&format!("{}\n{}", idp.entity_id, assertion.id)), until)
            .await
            .map_err(SignInError::from)?;
        if !fresh {
            return Err(refused(Refusal {
                check: "replay",
                cause: format!("The assertion `{}` was already used to sign in; each assertion is accepted once.", assertion.id.chars().take(80).collect::<String>()),
                fix: "Start again from the sign-in page.".into(),
            }));
        }
        // 8. Who, and their roles: read only from the verified assertion, and
        //    what single logout needs to name this session to the IdP.
        let identity = identity(s, &assertion)?;
        let name_at_idp = name_of(&idp.entity_id, &assertion);
        Ok(Finished { identity, issuer: idp.entity_id.clone(), return_to, name_at_idp, access_token: None })
    }

    /// The IdP's single logout service with a signed LogoutRequest, and the
    /// transaction that binds the answer to this browser. `None` when the
    /// IdP offers no single logout or the session has no NameID to name.
    async fn start_sign_out(&self, x: Exchange<'_>, session: SessionId, user: UserId) -> Option<Started> {
        let p = self;
        let provider = p.settings.provider;
        let idp = p.idp()?;
        let slo = idp.slo.clone()?;
        let sealed = x.store.get_session_id_token(session).await.ok().flatten()?;
        let name: SessionName = serde_json::from_slice(&x.sealer.open(&sealed, &name_aad(&user)).ok()?).ok()?;
        let request_id = new_message_id();
        let now = x.clock.now();
        let format = name.format.as_deref().map(|f| format!(" Format=\"{}\"", attr(f))).unwrap_or_default();
        let session_index = name.session_index.as_deref().map(|i| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", text(i))).unwrap_or_default();
        // Core §3.7.1; the NameID's qualifiers are left out, which for
        // persistent and transient identifiers means the IdP and this SP (§8.3).
        let xml = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"{request_id}\" Version=\"2.0\" IssueInstant=\"{}\" \
             Destination=\"{}\" NotOnOrAfter=\"{}\"><saml:Issuer>{}</saml:Issuer><saml:NameID{format}>{}</saml:NameID>{session_index}</samlp:LogoutRequest>",
            instant(now),
            attr(&slo.location),
            instant(now.plus(TRANSACTION_LIFETIME)),
            text(&p.sp.entity_id),
            text(&name.name_id),
        );
        let url = match redirect::signed_url(&slo.location, SAML_REQUEST, &xml, None, &p.sp.key) {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(provider, error = %e, "signing the LogoutRequest failed");
                return None;
            }
        };
        let tx = LogoutTransaction { request_id, expires_at: now.plus(TRANSACTION_LIFETIME).0 };
        let pending = Pending {
            cookie: logout_pending_cookie(provider),
            lifetime: TRANSACTION_LIFETIME,
            value: serde_json::to_vec(&tx).expect("serializable"),
        };
        Some(Started { redirect_to: url, pending: Some(pending) })
    }
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

/// Every attribute of the verified assertion, by name (and friendly name),
/// as a list of its values: what group rules read as claims.
fn attribute_claims(a: &Assertion) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for at in a.attribute_statements.iter().flatten().flat_map(|s| s.attributes.iter()) {
        let values: Vec<serde_json::Value> = at.values.iter().filter_map(|v| v.value.as_deref()).map(|v| v.trim().into()).collect();
        for name in [at.name.as_deref(), at.friendly_name.as_deref()].into_iter().flatten() {
            if let serde_json::Value::Array(list) = out.entry(name.to_owned()).or_insert_with(|| serde_json::Value::Array(vec![])) {
                list.extend(values.iter().cloned());
            }
        }
    }
    serde_json::Value::Object(out)
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
    Ok(Identity { subject, email, email_verified: true, name, roles, claims: attribute_claims(a), sid: None, id_token: String::new(), group_overage: None })
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

