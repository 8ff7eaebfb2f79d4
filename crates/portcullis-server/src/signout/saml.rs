//! SAML single logout (SAML 2.0 Profiles §4.4) over the HTTP-Redirect
//! binding, at `GET /auth/<provider>/slo`:
//! - **SP-initiated**: the Sign out button ends the Portcullis session first
//!   (so nothing depends on the IdP answering), then sends the browser to
//!   the IdP with a signed LogoutRequest naming the session's NameID and
//!   SessionIndex. The IdP's LogoutResponse comes back here and tells
//!   whether the IdP session ended too.
//! - **IdP-initiated**: the IdP sends a LogoutRequest (the user signed out
//!   at the IdP or at another application); Portcullis ends the sessions it
//!   names and answers with a signed LogoutResponse.
//!
//! A LogoutRequest must be signed by a key pinned from the IdP's metadata,
//! addressed to this endpoint, issued by the IdP's entity id, recent, and
//! it is accepted once (its ID is spent in the database, so on every
//! replica): otherwise anyone could sign users out at will. Sessions are
//! matched on the NameID (hashed with its IdP and format) and, when the
//! request names any, the SessionIndex. A LogoutResponse grants nothing
//! (the session has already ended): a signed one must verify, and an
//! unsigned one is only believed to say that the IdP answered, never that
//! the IdP's session ended.

use crate::error::Status;
use crate::idp::saml::sign_in::{instant, logout_pending_cookie, LogoutTransaction};
use crate::session::transaction::{clear_pending, read_pending};
use crate::idp::saml::unavailable;
use crate::idp::saml::precheck::{self, is, Refusal, NS_ASSERTION, NS_PROTOCOL};
use crate::idp::saml::redirect::{self, Received, SAML_REQUEST, SAML_RESPONSE};
use crate::idp::saml::SamlProvider;
use crate::audit::{self, Entry};
use crate::idp::saml::session_name::name_id_hash;
use crate::keys::token_hash;
use crate::pages;
use crate::idp::error::SignInError;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use portcullis_domain::Timestamp;
use portcullis_storage::SamlLogout;
use std::time::Duration;

/// How old a LogoutRequest may be (from its IssueInstant), besides skew.
const MAX_REQUEST_AGE: Duration = Duration::from_secs(300);
const SKEW: Duration = crate::idp::saml::MAX_SKEW;
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

fn refused_logout(r: Refusal) -> SignInError {
    SignInError::SamlLogout { check: r.check, cause: r.cause, fix: r.fix }
}

fn refuse(check: &'static str, cause: impl Into<String>, fix: impl Into<String>) -> SignInError {
    SignInError::SamlLogout { check, cause: cause.into(), fix: fix.into() }
}

/// `GET /auth/<provider>/slo`: a LogoutRequest from the IdP, or its
/// LogoutResponse to ours.
pub async fn slo_route(State(state): State<AppState>, Path(provider): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let Some(p) = state.sso.saml(&provider) else {
        return SignInError::UnknownProvider(provider.chars().take(40).collect()).respond(&provider, "", &headers);
    };
    let (outcome, answer) = match redirect::receive(query.as_deref().unwrap_or_default()) {
        Err(r) => (Err(refused_logout(r)), false),
        Ok(msg) if msg.kind == SAML_REQUEST => (from_idp(&state, &p, msg).await, false),
        Ok(msg) => (answered(&state, &p, msg, &headers).await, true),
    };
    // `respond` logs the refusal with its detail and the request id.
    let mut resp = outcome.unwrap_or_else(|e| e.respond(&provider, &p.sp.slo_url, &headers));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // An answer ends this browser's sign-out, accepted or not.
    if let Some(clear) = answer.then(|| clear_pending(&state, &logout_pending_cookie(p.settings.provider))).flatten() {
        resp.headers_mut().append(header::SET_COOKIE, clear);
    }
    resp
}

fn check_issuer(issuer: Option<&str>, expected: &str) -> Result<(), SignInError> {
    if issuer != Some(expected) {
        return Err(refuse(
            "Issuer",
            format!("The logout message was issued by `{}`, expected `{expected}` (the entity id in the IdP's metadata).", issuer.unwrap_or("(none)").chars().take(200).collect::<String>()),
            "Check that the metadata URL variable points at the IdP that signs users in.",
        ));
    }
    Ok(())
}

fn check_destination(destination: Option<&str>, expected: &str, required: bool) -> Result<(), SignInError> {
    match destination {
        None if !required => Ok(()),
        Some(d) if d == expected => Ok(()),
        got => Err(refuse(
            "Destination",
            format!("The logout message is addressed to `{}`, expected `{expected}`.", got.unwrap_or("(none)").chars().take(200).collect::<String>()),
            "Set the Logout URL (single logout service) at the IdP to exactly this server's /auth/<provider>/slo.",
        )),
    }
}

/// An IdP-initiated LogoutRequest: end the sessions it names, answer.
async fn from_idp(state: &AppState, p: &SamlProvider, msg: Received) -> Result<Response, SignInError> {
    let s = &p.settings;
    let idp = p.idp().ok_or_else(|| unavailable(p))?;
    if !msg.verify(&idp.signing_keys, s.allow_sha1).map_err(refused_logout)? {
        return Err(refuse(
            "unsigned",
            "The LogoutRequest is not signed (no SigAlg and Signature): an unsigned request could sign anyone out.",
            "Configure the IdP to sign logout requests (SimpleSAMLphp: sign.logout; ADFS and Entra ID sign them).",
        ));
    }
    let req = parse_request(&msg.xml).map_err(refused_logout)?;
    check_issuer(req.issuer.as_deref(), &idp.entity_id)?;
    check_destination(req.destination.as_deref(), &p.sp.slo_url, true)?;
    let now = state.clock.now();
    let skew = SKEW.as_millis() as i64;
    let clock_fix = "Check that the clocks of this server and of the IdP are right (NTP); at most 3 minutes of difference are tolerated.";
    if req.issue_instant.0 - skew > now.0 {
        return Err(refuse("IssueInstant", format!("The LogoutRequest was issued {} s in the future (clock skew).", (req.issue_instant.0 - now.0) / 1000), clock_fix));
    }
    if req.issue_instant.plus(MAX_REQUEST_AGE).0 + skew < now.0 {
        return Err(refuse("IssueInstant", format!("The LogoutRequest was issued {} s ago; at most {} s are accepted.", (now.0 - req.issue_instant.0) / 1000, MAX_REQUEST_AGE.as_secs()), clock_fix));
    }
    if let Some(end) = req.not_on_or_after {
        if end.0 + skew <= now.0 {
            return Err(refuse("NotOnOrAfter", format!("The LogoutRequest expired {} s ago.", (now.0 - end.0) / 1000), clock_fix));
        }
    }
    // Spending the request id and ending the sessions happen in one
    // transaction: a failure leaves the id unspent, so the IdP may retry.
    let ended = state
        .store
        .revoke_saml_sessions_once(
            &SamlLogout {
                provider: s.provider,
                name_id_hash: &name_id_hash(&idp.entity_id, req.name_id_format.as_deref(), &req.name_id),
                session_indexes: &req.session_indexes,
                request_key_hash: &token_hash(&format!("{}\n{}", idp.entity_id, req.id)),
                request_expires: req.issue_instant.plus(MAX_REQUEST_AGE).plus(SKEW * 2),
            },
            now,
        )
        .await
        .map_err(SignInError::from)?
        .ok_or_else(|| refuse("replay", format!("The LogoutRequest `{}` was already processed; each is accepted once.", req.id.chars().take(80).collect::<String>()), "Nothing to do: the sign-out it asked for has happened."))?;
    for u in &ended {
        crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserSessions(*u));
    }
    tracing::info!(provider = s.provider, users = ended.len(), "IdP-initiated SAML logout ended sessions");
    audit::record(state, Entry::new("logout.saml", true).detail(serde_json::json!({ "provider": s.provider, "initiated_by": "idp", "users": ended.len() }))).await;
    let Some(slo) = idp.slo.as_ref() else {
        // Nowhere to answer: the IdP's metadata names no logout service.
        return Ok(pages::message(Status::Ok, "Signed out", "You are signed out of Portcullis.", Some(("/auth/login", "Sign in again"))));
    };
    let xml = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" InResponseTo=\"{}\">\
         <saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
        crate::idp::saml::new_message_id(),
        instant(now),
        attr(&slo.response_location),
        attr(&req.id),
        text(&p.sp.entity_id),
    );
    let url = redirect::signed_url(&slo.response_location, SAML_RESPONSE, &xml, msg.relay_state.as_deref(), &p.sp.key).map_err(|e| {
        tracing::error!(provider = s.provider, error = %e, "signing the LogoutResponse failed");
        SignInError::Unreachable("signing the LogoutResponse".into())
    })?;
    let resp = axum::response::Redirect::to(&url).into_response();
    Ok(resp)
}

/// The IdP's LogoutResponse to a LogoutRequest of ours.
async fn answered(state: &AppState, p: &SamlProvider, msg: Received, headers: &HeaderMap) -> Result<Response, SignInError> {
    let s = &p.settings;
    let idp = p.idp().ok_or_else(|| unavailable(p))?;
    let signed = msg.verify(&idp.signing_keys, s.allow_sha1).map_err(refused_logout)?;
    let resp = parse_response(&msg.xml).map_err(refused_logout)?;
    check_issuer(resp.issuer.as_deref(), &idp.entity_id)?;
    check_destination(resp.destination.as_deref(), &p.sp.slo_url, signed)?;
    let now = state.clock.now();
    let tx = read_pending(state, headers, &logout_pending_cookie(s.provider)).and_then(|b| serde_json::from_slice::<LogoutTransaction>(&b).ok()).filter(|t| t.expires_at > now.0);
    match (&tx, &resp.in_response_to) {
        (Some(t), Some(irt)) if *irt == t.request_id => {}
        (Some(t), got) => {
            return Err(refuse(
                "InResponseTo",
                format!("The LogoutResponse answers `{}`, but this browser's sign-out sent `{}`.", got.as_deref().unwrap_or("(none)").chars().take(80).collect::<String>(), t.request_id),
                "You are signed out of Portcullis; sign out at the identity provider directly to end that session too.",
            ))
        }
        (None, _) => {
            return Err(refuse(
                "InResponseTo",
                "No sign-out is in progress in this browser (or it took longer than 10 minutes).",
                "You are signed out of Portcullis; sign out at the identity provider directly to end that session too.",
            ))
        }
    }
    let again = Some(("/auth/login", "Sign in again"));
    Ok(if resp.status == SUCCESS && signed {
        pages::message(Status::Ok, "Signed out", &format!("You are signed out of Portcullis and of {}.", s.display_name), again)
    } else if resp.status == SUCCESS {
        // Profiles §4.4.4.2: only an authenticated answer can be believed.
        pages::message(
            Status::Ok,
            "Signed out of Portcullis",
            &format!("You are signed out of Portcullis. {} answered without a signature, so Portcullis cannot confirm that your session there ended: close the browser to be sure.", s.display_name),
            again,
        )
    } else {
        tracing::warn!(provider = s.provider, status = %resp.status, "the IdP reports that single logout did not complete");
        pages::message(
            Status::Ok,
            "Signed out of Portcullis",
            &format!(
                "You are signed out of Portcullis, but {} reports that it could not end your session there (status `{}`). Close the browser to be sure.",
                s.display_name,
                resp.status.chars().take(120).collect::<String>()
            ),
            again,
        )
    })
}

/// A LogoutRequest's fields (Core §3.7.1), read with the message rules of
/// [`precheck`]: no DOCTYPE, no comments.
#[derive(Debug)]
struct LogoutRequestMsg {
    id: String,
    issue_instant: Timestamp,
    not_on_or_after: Option<Timestamp>,
    destination: Option<String>,
    issuer: Option<String>,
    name_id: String,
    name_id_format: Option<String>,
    session_indexes: Vec<String>,
}

#[derive(Debug)]
struct LogoutResponseMsg {
    in_response_to: Option<String>,
    destination: Option<String>,
    issuer: Option<String>,
    /// The top-level status code.
    status: String,
}

fn malformed(cause: String) -> Refusal {
    Refusal { check: "malformed", cause, fix: "An administrator should compare the IdP's logout settings with Portcullis's SP metadata.".into() }
}

fn time(v: Option<&str>) -> Result<Option<Timestamp>, Refusal> {
    v.map(|t| chrono::DateTime::parse_from_rfc3339(t).map(|d| Timestamp(d.timestamp_millis())).map_err(|_| malformed(format!("`{}` is not a time.", t.chars().take(40).collect::<String>()))))
        .transpose()
}

fn document<'a>(xml: &'a str, root: &str) -> Result<roxmltree::Document<'a>, Refusal> {
    let doc = precheck::parse(xml)?;
    if doc.descendants().any(|n| n.is_comment()) {
        return Err(Refusal { check: "comment", cause: "The logout message contains an XML comment.".into(), fix: "Genuine IdPs do not send comments.".into() });
    }
    let r = doc.root_element();
    if !is(&r, NS_PROTOCOL, root) {
        return Err(malformed(format!("Expected a samlp:{root}, got <{}>.", r.tag_name().name())));
    }
    if r.attribute("Version") != Some("2.0") {
        return Err(malformed(format!("The {root} is not SAML 2.0.")));
    }
    Ok(doc)
}

fn child_text(node: roxmltree::Node<'_, '_>, ns: &str, name: &str) -> Option<String> {
    node.children().find(|n| is(n, ns, name)).and_then(|n| n.text()).map(|t| t.trim().to_owned())
}

fn parse_request(xml: &str) -> Result<LogoutRequestMsg, Refusal> {
    let doc = document(xml, "LogoutRequest")?;
    let r = doc.root_element();
    if r.children().any(|n| is(&n, NS_ASSERTION, "EncryptedID")) {
        return Err(Refusal {
            check: "NameID",
            cause: "The LogoutRequest names the user with an encrypted NameID, which Portcullis does not read.".into(),
            fix: "Configure the IdP not to encrypt NameIDs for this service provider.".into(),
        });
    }
    Ok(LogoutRequestMsg {
        id: r.attribute("ID").filter(|i| !i.is_empty()).ok_or_else(|| malformed("The LogoutRequest has no ID.".into()))?.to_owned(),
        issue_instant: time(r.attribute("IssueInstant"))?.ok_or_else(|| malformed("The LogoutRequest has no IssueInstant.".into()))?,
        not_on_or_after: time(r.attribute("NotOnOrAfter"))?,
        destination: r.attribute("Destination").map(str::to_owned),
        issuer: child_text(r, NS_ASSERTION, "Issuer"),
        name_id: child_text(r, NS_ASSERTION, "NameID").filter(|n| !n.is_empty()).ok_or_else(|| Refusal {
            check: "NameID",
            cause: "The LogoutRequest names no user (no NameID).".into(),
            fix: "Check the IdP's logout settings.".into(),
        })?,
        name_id_format: r.children().find(|n| is(n, NS_ASSERTION, "NameID")).and_then(|n| n.attribute("Format")).map(str::to_owned),
        session_indexes: r.children().filter(|n| is(n, NS_PROTOCOL, "SessionIndex")).filter_map(|n| n.text()).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
    })
}

fn parse_response(xml: &str) -> Result<LogoutResponseMsg, Refusal> {
    let doc = document(xml, "LogoutResponse")?;
    let r = doc.root_element();
    let status = r
        .children()
        .find(|n| is(n, NS_PROTOCOL, "Status"))
        .and_then(|s| s.children().find(|n| is(n, NS_PROTOCOL, "StatusCode")))
        .and_then(|c| c.attribute("Value"))
        .ok_or_else(|| malformed("The LogoutResponse has no status code.".into()))?;
    Ok(LogoutResponseMsg {
        in_response_to: r.attribute("InResponseTo").map(str::to_owned),
        destination: r.attribute("Destination").map(str::to_owned),
        issuer: child_text(r, NS_ASSERTION, "Issuer"),
        status: status.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";

    #[test]
    fn logout_requests_are_read_with_every_session_index() {
        let xml = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" ID=\"_r\" Version=\"2.0\" IssueInstant=\"2026-11-29T12:00:00Z\" Destination=\"https://p/auth/saml/slo\">\
             <saml:Issuer> https://idp </saml:Issuer><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">alice</saml:NameID>\
             <samlp:SessionIndex>s1</samlp:SessionIndex><samlp:SessionIndex>s2</samlp:SessionIndex></samlp:LogoutRequest>"
        );
        let r = parse_request(&xml).unwrap();
        assert_eq!((r.id.as_str(), r.issuer.as_deref(), r.name_id.as_str()), ("_r", Some("https://idp"), "alice"));
        assert_eq!(r.session_indexes, ["s1", "s2"]);
        assert_eq!(r.issue_instant, Timestamp(1_795_953_600_000));
    }

    #[test]
    fn malformed_logout_messages_say_what_is_wrong() {
        let base = |inner: &str, attrs: &str| format!("<samlp:LogoutRequest xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" {attrs}>{inner}</samlp:LogoutRequest>");
        let ok_attrs = "ID=\"_r\" Version=\"2.0\" IssueInstant=\"2026-11-29T12:00:00Z\"";
        assert_eq!(parse_request(&base("<saml:Issuer>i</saml:Issuer>", ok_attrs)).unwrap_err().check, "NameID");
        assert_eq!(parse_request(&base("<saml:NameID>a<!-- x -->b</saml:NameID>", ok_attrs)).unwrap_err().check, "comment");
        assert_eq!(parse_request(&base("<saml:EncryptedID/>", ok_attrs)).unwrap_err().check, "NameID");
        assert_eq!(parse_request(&base("<saml:NameID>a</saml:NameID>", "ID=\"_r\" Version=\"2.0\"")).unwrap_err().check, "malformed");
        assert_eq!(parse_request(&base("<saml:NameID>a</saml:NameID>", "ID=\"_r\" Version=\"1.1\" IssueInstant=\"2026-11-29T12:00:00Z\"")).unwrap_err().check, "malformed");
        assert_eq!(parse_request("<!DOCTYPE x [<!ENTITY a \"b\">]><x/>").unwrap_err().check, "doctype");
        assert_eq!(parse_response(&format!("<samlp:LogoutResponse xmlns:samlp=\"{NS_PROTOCOL}\" Version=\"2.0\"/>")).unwrap_err().check, "malformed");
        let ok = parse_response(&format!(
            "<samlp:LogoutResponse xmlns:samlp=\"{NS_PROTOCOL}\" Version=\"2.0\" InResponseTo=\"_q\"><samlp:Status><samlp:StatusCode Value=\"{RESPONDER}\"><samlp:StatusCode Value=\"x\"/></samlp:StatusCode></samlp:Status></samlp:LogoutResponse>"
        ))
        .unwrap();
        assert_eq!((ok.status.as_str(), ok.in_response_to.as_deref()), (RESPONDER, Some("_q")));
    }
}
