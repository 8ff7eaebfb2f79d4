//! SAML single logout against the misbehaving IdP of
//! `support/saml_forge.rs`: a LogoutRequest ends sessions only when it is
//! authentic, fresh, new and names them (NameID and SessionIndex); the
//! IdP's answers to Portcullis's own LogoutRequests are believed only as far
//! as they are authenticated. (Both directions against the real
//! SimpleSAMLphp are in `saml.rs`.)


use crate::support::saml_forge::{self as forge, setup, setup_provider, Env, Signer, IDP};
use crate::support::saml_peer::Browser;
use crate::support::TestServer;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";

/// A browser signed in through the forged IdP with this NameID and SessionIndex.
async fn signed_in(e: &Env, name_id: &str, session_index: &str) -> Browser {
    let (b, mut c) = e.start().await;
    c.name_id = name_id.into();
    c.session_index = session_index.into();
    if e.provider == "entra_id" {
        c.role_attribute = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
        c.email_attribute = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
        c.extra_attributes = vec![("http://schemas.microsoft.com/identity/claims/objectidentifier", format!("oid-of-{name_id}"))];
    }
    let (status, body) = e.post(&b, &forge::signed_response(&c, &e.signer, true), None).await;
    assert_eq!(status, 303, "{body}");
    b
}

async fn me_status(b: &Browser, srv: &TestServer) -> u16 {
    b.http.get(srv.url("/api/v1/me")).send().await.unwrap().status().as_u16()
}

/// GETs the SLO endpoint with `query`; expects the named check to refuse
/// it and the browser's session to survive.
async fn slo_refused(b: &Browser, srv: &TestServer, query: String, check: &str, also: &str) {
    let resp = b.http.get(format!("{}?{query}", srv.url("/auth/saml/slo"))).send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 400, "{check}: {body}");
    assert!(body.contains(&format!("Check `{check}` failed")) && body.contains(also), "{check}: {body}");
    assert!(body.contains("SAML sign-out refused") && body.contains("Request id"), "{body}");
    let me = b.http.get(srv.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 200, "{check}: the session must survive a refused LogoutRequest");
}

/// A LogoutRequest from the IdP ends a session only when it is signed with
/// the pinned key and a strong algorithm, from the IdP, addressed to this
/// server's SLO endpoint, recent, well-formed, small, and seen for the first
/// time; each refusal names its check and leaves the session alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_logout_requests_are_refused_unless_signed_addressed_fresh_and_new() {
    let e = setup(vec![]).await;
    let b = signed_in(&e, "mallory-subject", "_session").await;
    let slo = e.srv.url("/auth/saml/slo");
    let signed = |xml: &str| forge::redirect_query(xml, Some((&e.signer, forge::RSA_SHA256)));
    let good = || forge::logout_request(IDP, &slo, "mallory-subject", "_session", 0);
    let refused = |query: String, check: &'static str, also: &'static str| slo_refused(&b, &e.srv, query, check, also);
    refused(forge::redirect_query(&good(), None), "unsigned", "could sign anyone out").await;
    refused(forge::redirect_query(&good(), Some((&Signer::stranger(), forge::RSA_SHA256))), "signature", "does not verify").await;
    refused(forge::redirect_query(&good(), Some((&e.signer, forge::RSA_SHA1))), "algorithm", "SHA-256").await;
    // Signed, then one parameter changed.
    refused(signed(&good()).replacen("SAMLRequest=", "RelayState=x&SAMLRequest=", 1), "signature", "does not verify").await;
    refused(signed(&forge::logout_request("https://other.example/idp", &slo, "mallory-subject", "_session", 0)), "Issuer", "https://other.example/idp").await;
    refused(signed(&forge::logout_request(IDP, "https://elsewhere.example/slo", "mallory-subject", "_session", 0)), "Destination", "https://elsewhere.example/slo").await;
    refused(signed(&forge::logout_request(IDP, &slo, "mallory-subject", "_session", -900)), "IssueInstant", "s ago; at most 300 s are accepted").await;
    refused(signed(&forge::logout_request(IDP, &slo, "mallory-subject", "_session", 900)), "IssueInstant", "in the future").await;
    refused(signed(&format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{}", good())), "doctype", "DOCTYPE").await;
    refused(signed(&good().replace("mallory-subject", "mallory<!-- -->-subject")), "comment", "comment").await;
    // A deflate bomb: 20 MB of spaces in about 27 KB of URL, stopped at the
    // inflation cap (192 KiB).
    let bomb = format!("SAMLRequest={}", url::form_urlencoded::byte_serialize(forge::deflate_b64(&vec![b' '; 20 * 1024 * 1024]).as_bytes()).collect::<String>());
    assert!(bomb.len() < 40 * 1024, "{}", bomb.len());
    refused(bomb, "size", "decompression bomb").await;
    refused(format!("SAMLRequest={}", "A".repeat(50 * 1024)), "size", "bytes").await;
    refused(format!("{}&SigAlg=x", signed(&good())), "malformed", "appears twice").await;

    // The genuine request: the session ends, and the answer is a
    // LogoutResponse to the IdP's SLO service, signed with the SP key.
    let query = signed(&good());
    let resp = b.http.get(format!("{slo}?{query}&RelayState=idp-state")).send().await.unwrap();
    assert_eq!(resp.status(), 400, "RelayState after the signature's parameters still breaks the signature");
    let resp = b.http.get(format!("{slo}?{query}")).send().await.unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&format!("{}?SAMLResponse=", forge::slo_url("https://idp.forge.example/sso"))), "{to}");
    let sp_cert = e.srv.state.sso.saml("saml").unwrap().sp.cert_der.clone();
    let (xml, verified) = forge::read_signed_redirect(&to, &sp_cert);
    assert!(verified, "Portcullis signs its LogoutResponse with its SP key");
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success") && xml.contains(&format!("Destination=\"{}\"", forge::slo_url("https://idp.forge.example/sso"))), "{xml}");
    assert_eq!(b.http.get(e.srv.url("/api/v1/me")).send().await.unwrap().status(), 401, "the session ended");
    // The same request again: refused as a replay.
    let b2 = signed_in(&e, "mallory-subject", "_session").await;
    let resp = b2.http.get(format!("{slo}?{query}")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("Check `replay` failed"));
    assert_eq!(b2.http.get(e.srv.url("/api/v1/me")).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_request_ends_only_the_sessions_of_its_name_id_and_session_index() {
    let e = setup(vec![]).await;
    let slo = e.srv.url("/auth/saml/slo");
    let mallory = signed_in(&e, "mallory-subject", "_m1").await;
    let mallory_elsewhere = signed_in(&e, "mallory-subject", "_m2").await;
    let trudy = signed_in(&e, "trudy-subject", "_t1").await;
    let logout = |name_id: &str, index: &str| {
        let query = forge::redirect_query(&forge::logout_request(IDP, &slo, name_id, index, 0), Some((&e.signer, forge::RSA_SHA256)));
        let (http, slo) = (mallory.http.clone(), slo.clone());
        async move {
            let resp = http.get(format!("{slo}?{query}")).send().await.unwrap();
            assert_eq!(resp.status(), 303, "answered with a LogoutResponse");
        }
    };
    // Mallory's NameID with Trudy's SessionIndex: nobody is signed out.
    logout("mallory-subject", "_t1").await;
    for b in [&mallory, &mallory_elsewhere, &trudy] {
        assert_eq!(me_status(b, &e.srv).await, 200);
    }
    // NameID and SessionIndex: that session only.
    logout("mallory-subject", "_m1").await;
    assert_eq!(me_status(&mallory, &e.srv).await, 401);
    assert_eq!(me_status(&mallory_elsewhere, &e.srv).await, 200);
    // The NameID alone: all of Mallory's sessions, none of Trudy's.
    logout("mallory-subject", "").await;
    assert_eq!(me_status(&mallory_elsewhere, &e.srv).await, 401);
    assert_eq!(me_status(&trudy, &e.srv).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_id_logout_requests_name_the_upn_while_accounts_are_keyed_on_the_object_id() {
    let e = setup_provider("entra_id", vec![]).await;
    let alice = signed_in(&e, "alice.upn@contoso.example", "_entra-1").await;
    let bob = signed_in(&e, "bob.upn@contoso.example", "_entra-2").await;
    let slo = e.srv.url("/auth/entra_id/slo");
    let query = forge::redirect_query(&forge::logout_request(IDP, &slo, "alice.upn@contoso.example", "_entra-1", 0), Some((&e.signer, forge::RSA_SHA256)));
    assert_eq!(alice.http.get(format!("{slo}?{query}")).send().await.unwrap().status(), 303);
    assert_eq!(me_status(&alice, &e.srv).await, 401);
    assert_eq!(me_status(&bob, &e.srv).await, 200);
}

/// Signs in, then out at Portcullis: the browser (holding the sign-out's
/// cookie) and the id of the LogoutRequest it was sent to the IdP with.
async fn signing_out(e: &Env) -> (Browser, String) {
    let b = signed_in(e, "mallory-subject", "_session").await;
    let me: serde_json::Value = b.http.get(e.srv.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    let csrf = me["csrf_token"].as_str().unwrap();
    let out = b.http.post(e.srv.url("/auth/logout")).header("origin", &e.srv.base).header("accept", "application/json").form(&[("csrf_token", csrf)]).send().await.unwrap();
    let out: serde_json::Value = out.json().await.unwrap();
    let to_idp = out["end_session_url"].as_str().unwrap();
    assert!(to_idp.starts_with(&format!("{}?SAMLRequest=", forge::slo_url("https://idp.forge.example/sso"))), "{to_idp}");
    let sp_cert = e.srv.state.sso.saml("saml").unwrap().sp.cert_der.clone();
    let (xml, verified) = forge::read_signed_redirect(to_idp, &sp_cert);
    assert!(verified, "the LogoutRequest is signed with the SP key");
    assert!(xml.contains(">mallory-subject</saml:NameID>") && xml.contains("<samlp:SessionIndex>_session</samlp:SessionIndex>"), "{xml}");
    assert!(xml.contains("Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\""), "the NameID as the IdP sent it: {xml}");
    assert_eq!(me_status(&b, &e.srv).await, 401, "signed out of Portcullis before the IdP answers");
    (b, xml.split(" ID=\"").nth(1).unwrap().split('"').next().unwrap().to_owned())
}

async fn answer(b: &Browser, e: &Env, query: &str) -> (u16, String) {
    let resp = b.http.get(format!("{}?{query}", e.srv.url("/auth/saml/slo"))).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idps_logout_answers_are_believed_only_as_far_as_they_are_authenticated() {
    let e = setup(vec![]).await;
    let slo = e.srv.url("/auth/saml/slo");
    let idp_signed = Some((&e.signer, forge::RSA_SHA256));
    let response = |irt: &str, status: &str, signed| forge::redirect_message("SAMLResponse", &forge::logout_response(IDP, &slo, irt, status), signed);

    // Signed, Success: both sessions ended. Only once: the cookie is gone.
    let (b, id) = signing_out(&e).await;
    let q = response(&id, SUCCESS, idp_signed);
    let (status, body) = answer(&b, &e, &q).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("You are signed out of Portcullis and of your SAML identity provider."), "{body}");
    let (status, body) = answer(&b, &e, &q).await;
    assert_eq!(status, 400);
    assert!(body.contains("Check `InResponseTo` failed") && body.contains("No sign-out is in progress"), "{body}");
    // Another browser, the genuine answer: not its sign-out.
    let (_, id) = signing_out(&e).await;
    let (status, body) = answer(&Browser::default(), &e, &response(&id, SUCCESS, idp_signed)).await;
    assert_eq!(status, 400);
    assert!(body.contains("No sign-out is in progress"), "{body}");

    // Unsigned Success: not believed to have ended the IdP session.
    let (b, id) = signing_out(&e).await;
    let (status, body) = answer(&b, &e, &response(&id, SUCCESS, None)).await;
    assert_eq!(status, 200);
    assert!(body.contains("cannot confirm that your session there ended"), "{body}");
    // Signed failure status: said so.
    let (b, id) = signing_out(&e).await;
    let (status, body) = answer(&b, &e, &response(&id, RESPONDER, idp_signed)).await;
    assert_eq!(status, 200);
    assert!(body.contains("could not end your session there") && body.contains(RESPONDER), "{body}");

    // Refused: another key, another request, another issuer, another address.
    let stranger = Signer::stranger();
    type Forge<'a> = Box<dyn Fn(&str) -> String + 'a>;
    let cases: Vec<(&str, Forge, &str)> = vec![
        ("signature", Box::new(|id| response(id, SUCCESS, Some((&stranger, forge::RSA_SHA256)))), "does not verify"),
        ("InResponseTo", Box::new(|_| response("_another-request", SUCCESS, idp_signed)), "_another-request"),
        ("Issuer", Box::new(|id| forge::redirect_message("SAMLResponse", &forge::logout_response("https://evil.example", &slo, id, SUCCESS), idp_signed)), "https://evil.example"),
        ("Destination", Box::new(|id| forge::redirect_message("SAMLResponse", &forge::logout_response(IDP, "https://elsewhere.example/slo", id, SUCCESS), idp_signed)), "https://elsewhere.example/slo"),
    ];
    for (check, query, also) in cases {
        let (b, id) = signing_out(&e).await;
        let (status, body) = answer(&b, &e, &query(&id)).await;
        assert_eq!(status, 400, "{check}: {body}");
        assert!(body.contains(&format!("Check `{check}` failed")) && body.contains(also), "{check}: {body}");
        assert_eq!(me_status(&b, &e.srv).await, 401, "{check}: still signed out of Portcullis");
    }
}
