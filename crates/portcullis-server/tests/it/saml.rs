//! SAML 2.0 sign-in through a real SAML IdP on loopback (Debian's
//! SimpleSAMLphp, `tests/saml-idp/`): SP-initiated, signed AuthnRequest over
//! HTTP-Redirect, Response and Assertion signed with RSA-SHA256, roles from
//! an attribute, and the same with an encrypted assertion. Then single
//! logout, started at Portcullis and started at the IdP.


use crate::support::saml_peer::{Browser, SamlPeer, TrustedSp};
use crate::support::{Db, Options, TestServer};

pub struct Setup {
    pub peer: SamlPeer,
    pub srv: TestServer,
}

/// Portcullis with `AUTH_PROVIDER=saml` pointing at the peer, and the peer
/// trusting Portcullis's (generated) SP certificate.
pub async fn setup(db: Db, encrypt: bool, extra: Vec<(&'static str, String)>) -> Option<Setup> {
    let peer = SamlPeer::start().await;
    let mut env = vec![("AUTH_PROVIDER", "saml".to_owned()), ("SAML_IDP_METADATA_URL", peer.metadata_url.clone())];
    env.extend(extra);
    let srv = TestServer::start_with(db, Options { bootstrap_admin: true, extra_env: env, listener: None }).await?;
    let p = srv.state.sso.saml("saml").expect("the SAML provider is configured");
    peer.trust(&[TrustedSp { entity_id: &p.sp.entity_id, acs: &p.sp.acs_url, cert: &p.sp.cert_base64(), encrypt, sign_alg: None, slo: Some(&p.sp.slo_url) }]);
    let ready = srv.wait_ready().await;
    assert_eq!(ready["providers"]["saml"], "ok", "{ready}");
    Some(Setup { peer, srv })
}

async fn me(b: &Browser, srv: &TestServer) -> serde_json::Value {
    b.http.get(srv.url("/api/v1/me")).send().await.unwrap().json().await.unwrap()
}

pub fn decode(saml_response: &str) -> String {
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(saml_response).unwrap()).unwrap()
}

async fn sign_in_roundtrip(s: &Setup, encrypted: bool) {
    let srv = &s.srv;
    // alice: factory-admin and member, from the `role` attribute.
    let b = Browser::default();
    let answer = b.sign_in_at_idp(&srv.url("/auth/saml/login?return_to=/api/v1/me"), "alice", "alice-password").await;
    assert_eq!(answer.acs, srv.url("/auth/saml/callback"));
    assert_eq!(answer.relay_state.as_deref(), Some("/api/v1/me"));
    // What the IdP really sent: RSA-SHA256 signatures, on the Response and
    // (when not encrypted) on the Assertion; or an EncryptedAssertion.
    let xml = decode(&answer.saml_response);
    assert!(xml.contains("xmldsig-more#rsa-sha256"), "{xml}");
    if encrypted {
        assert!(xml.contains("EncryptedAssertion") && !xml.contains("alice@example.test"), "the assertion is encrypted: {xml}");
    } else {
        assert_eq!(xml.matches("<ds:Signature xmlns").count(), 2, "Response and Assertion signed: {xml}");
    }
    let resp = b.post_to_acs(&answer.acs, &answer.saml_response, answer.relay_state.as_deref()).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(resp.headers()["location"], "/api/v1/me");
    let me_alice = me(&b, srv).await;
    assert_eq!(me_alice["user"]["email"], "alice@example.test", "{me_alice}");
    assert_eq!(me_alice["user"]["display_name"], "Alice Admin");
    assert_eq!(me_alice["user"]["factory_admin"], true);
    assert_eq!(me_alice["session"]["provider"], "saml");
    assert_eq!(me_alice["organizations"][0]["role"]["kind"], "owner", "{me_alice}");

    // bob: member only.
    let b = Browser::default();
    let answer = b.sign_in_at_idp(&srv.url("/auth/saml/login"), "bob", "bob-password").await;
    let resp = b.post_to_acs(&answer.acs, &answer.saml_response, answer.relay_state.as_deref()).await;
    assert_eq!(resp.status(), 303);
    let me_bob = me(&b, srv).await;
    assert_eq!(me_bob["user"]["email"], "bob@example.test");
    assert_eq!(me_bob["user"]["factory_admin"], false);
    assert_eq!(me_bob["organizations"][0]["role"]["kind"], "member", "{me_bob}");

    // The same assertion again: refused (replay), no session.
    let b2 = Browser::default();
    let resp = b2.post_to_acs(&answer.acs, &answer.saml_response, None).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(b2.http.get(srv.url("/api/v1/me")).send().await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_response_and_assertion_sign_in_with_roles() {
    let s = setup(Db::Sqlite, false, vec![]).await.unwrap();
    sign_in_roundtrip(&s, false).await;
    // The SP metadata the IdP administrator registers.
    let md = reqwest::get(s.srv.url("/auth/saml/metadata")).await.unwrap();
    assert_eq!(md.headers()["content-type"], "application/samlmetadata+xml");
    let md = md.text().await.unwrap();
    assert!(md.contains(&format!("entityID=\"{}\"", s.srv.url("/auth/saml/metadata"))), "{md}");
    assert!(md.contains(&format!("Location=\"{}\"", s.srv.url("/auth/saml/callback"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_assertion_signs_in_on_postgres_too() {
    if let Some(s) = setup(Db::Postgres, true, vec![]).await {
        sign_in_roundtrip(&s, true).await;
    }
    let s = setup(Db::Sqlite, true, vec![]).await.unwrap();
    sign_in_roundtrip(&s, true).await;
}

async fn signed_in(s: &Setup, user: &str, password: &str) -> Browser {
    let b = Browser::default();
    let answer = b.sign_in_at_idp(&s.srv.url("/auth/saml/login"), user, password).await;
    let resp = b.post_to_acs(&answer.acs, &answer.saml_response, answer.relay_state.as_deref()).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    b
}

async fn me_status(b: &Browser, srv: &TestServer) -> u16 {
    b.http.get(srv.url("/api/v1/me")).send().await.unwrap().status().as_u16()
}

/// Sign out at Portcullis: the session ends, a signed LogoutRequest goes to
/// the IdP (which checks its signature), the IdP's session ends too, and
/// its signed LogoutResponse comes back to `/auth/saml/slo`.
async fn sp_initiated_logout(s: &Setup) {
    let srv = &s.srv;
    let b = signed_in(s, "alice", "alice-password").await;
    let csrf = me(&b, srv).await["csrf_token"].as_str().unwrap().to_owned();
    let out = b.http.post(srv.url("/auth/logout")).header("origin", &srv.base).header("accept", "application/json").form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(out.status(), 200);
    let out: serde_json::Value = out.json().await.unwrap();
    let to_idp = out["end_session_url"].as_str().unwrap().to_owned();
    assert!(to_idp.starts_with(&format!("{}saml2/idp/SingleLogoutService.php?SAMLRequest=", s.peer.base)), "{to_idp}");
    assert!(to_idp.contains("&SigAlg=") && to_idp.contains("&Signature="), "signed: {to_idp}");
    // Signed out here already, whatever the IdP does next.
    assert_eq!(me_status(&b, srv).await, 401);
    let (visited, page) = b.follow_chain(&to_idp).await;
    let back = visited.last().unwrap();
    assert!(back.starts_with(&srv.url("/auth/saml/slo?SAMLResponse=")), "the IdP answers at the SLO endpoint: {visited:?}");
    assert!(back.contains("&Signature="), "the IdP signs its LogoutResponse: {back}");
    assert!(page.contains("You are signed out of Portcullis and of your SAML identity provider."), "{page}");
    // The IdP's session ended: signing in again needs the password.
    assert!(b.idp_asks_for_password(&srv.url("/auth/saml/login")).await);
    // The answer is bound to this browser, once: again, it is refused.
    let again = b.http.get(back).header("accept", "application/json").send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("Check `InResponseTo` failed"));
}

/// Sign out at the IdP: it sends a signed LogoutRequest to Portcullis,
/// which ends that user's session (only theirs) and answers with a signed
/// LogoutResponse that the IdP verifies before finishing.
async fn idp_initiated_logout(s: &Setup) {
    let srv = &s.srv;
    let alice = signed_in(s, "alice", "alice-password").await;
    let bob = signed_in(s, "bob", "bob-password").await;
    let return_to = format!("{}saml2/idp/metadata.php", s.peer.base);
    let start = format!("{}saml2/idp/SingleLogoutService.php?ReturnTo={}", s.peer.base, url_encode(&return_to));
    let (visited, page) = alice.follow_chain(&start).await;
    let at_portcullis = visited.iter().position(|u| u.starts_with(&srv.url("/auth/saml/slo?SAMLRequest="))).unwrap_or_else(|| panic!("the IdP sends a LogoutRequest to Portcullis: {visited:?}"));
    assert!(visited[at_portcullis].contains("&Signature="));
    let answer = &visited[at_portcullis + 1];
    assert!(answer.starts_with(&format!("{}saml2/idp/SingleLogoutService.php?SAMLResponse=", s.peer.base)), "Portcullis answers the IdP: {visited:?}");
    assert!(answer.contains("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature="), "{answer}");
    assert_eq!(visited.last().unwrap(), &return_to, "the IdP accepted the answer and finished: {visited:?}");
    assert!(page.contains("EntityDescriptor"));
    assert_eq!(me_status(&alice, srv).await, 401, "alice's session ended");
    assert_eq!(me_status(&bob, srv).await, 200, "bob's did not");
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_logout_from_portcullis_and_from_the_idp() {
    if let Some(s) = setup(Db::Postgres, false, vec![]).await {
        sp_initiated_logout(&s).await;
        idp_initiated_logout(&s).await;
    }
    let s = setup(Db::Sqlite, false, vec![]).await.unwrap();
    sp_initiated_logout(&s).await;
    idp_initiated_logout(&s).await;
    // The SP metadata announces the single logout service.
    let md = reqwest::get(s.srv.url("/auth/saml/metadata")).await.unwrap().text().await.unwrap();
    assert!(md.contains(&format!("<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{}\"/>", s.srv.url("/auth/saml/slo"))), "{md}");
}

/// IdP-initiated sign-in (SimpleSAMLphp's unsolicited response): refused
/// unless `SAML_ALLOW_IDP_INITIATED=true`; when allowed, it signs in and
/// follows a local RelayState, but still never an off-site one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_initiated_sign_in_only_when_allowed() {
    let unsolicited = |s: &Setup, relay: &str| {
        let sp = url_encode(&s.srv.state.sso.saml("saml").unwrap().sp.entity_id);
        format!("{}saml2/idp/SSOService.php?spentityid={sp}&RelayState={}", s.peer.base, url_encode(relay))
    };
    let s = setup(Db::Sqlite, false, vec![]).await.unwrap();
    let b = Browser::default();
    let answer = b.sign_in_at(&unsolicited(&s, "/api/v1/me"), "bob", "bob-password").await;
    assert!(!decode(&answer.saml_response).contains("InResponseTo"), "the IdP sent an unsolicited response");
    let resp = b.post_to_acs(&answer.acs, &answer.saml_response, answer.relay_state.as_deref()).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("SAML_ALLOW_IDP_INITIATED=true"));
    assert_eq!(me_status(&b, &s.srv).await, 401);

    let s = setup(Db::Sqlite, false, vec![("SAML_ALLOW_IDP_INITIATED", "true".into())]).await.unwrap();
    let b = Browser::default();
    let answer = b.sign_in_at(&unsolicited(&s, "https://evil.example/"), "bob", "bob-password").await;
    let resp = b.post_to_acs(&answer.acs, &answer.saml_response, answer.relay_state.as_deref()).await;
    assert_eq!(resp.status(), 400, "an off-site RelayState is refused even when IdP-initiated sign-in is on");
    assert!(resp.text().await.unwrap().contains("Check `relay_state` failed"));
    assert_eq!(me_status(&b, &s.srv).await, 401);
    let b = Browser::default();
    let answer = b.sign_in_at(&unsolicited(&s, "/api/v1/me"), "bob", "bob-password").await;
    let resp = b.post_to_acs(&answer.acs, &answer.saml_response, answer.relay_state.as_deref()).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(resp.headers()["location"], "/api/v1/me");
    assert_eq!(me(&b, &s.srv).await["user"]["email"], "bob@example.test");
}
