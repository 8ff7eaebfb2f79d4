//! SAML 2.0 sign-in through a real SAML IdP on loopback (Debian's
//! SimpleSAMLphp, `tests/saml-idp/`): SP-initiated, signed AuthnRequest over
//! HTTP-Redirect, Response and Assertion signed with RSA-SHA256, roles from
//! an attribute, and the same with an encrypted assertion.

mod support;

use support::saml_peer::{Browser, SamlPeer, TrustedSp};
use support::{Db, Options, TestServer};

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
    peer.trust(&[TrustedSp { entity_id: &p.sp.entity_id, acs: &p.sp.acs_url, cert: &p.sp.cert_base64(), encrypt, sign_alg: None }]);
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
