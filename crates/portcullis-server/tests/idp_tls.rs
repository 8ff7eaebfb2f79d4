//! Security review item 13: an identity provider behind a company
//! certificate authority. The OpenID provider peer serves every layout over
//! https with a certificate from a CA made here; Portcullis refuses it with
//! a message naming the setting until the CA is trusted, through
//! `PORTCULLIS_CA_BUNDLE` or `SSL_CERT_FILE`.
//!
//! One test in its own binary: it sets `SSL_CERT_FILE` for the process.

mod support;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use support::oidc_peer::OidcPeer;
use support::{Db, Options, TestServer};

fn name(cn: &str) -> openssl::x509::X509Name {
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

fn serial() -> openssl::asn1::Asn1Integer {
    let mut bn = BigNum::new().unwrap();
    bn.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    bn.to_asn1_integer().unwrap()
}

/// A certificate authority and a server certificate for 127.0.0.1 it signed.
fn company_ca() -> (X509, X509, PKey<Private>) {
    let ca_key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut ca = X509::builder().unwrap();
    ca.set_version(2).unwrap();
    ca.set_serial_number(&serial()).unwrap();
    ca.set_subject_name(&name("Example Corp Internal CA")).unwrap();
    ca.set_issuer_name(&name("Example Corp Internal CA")).unwrap();
    ca.set_pubkey(&ca_key).unwrap();
    ca.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    ca.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    ca.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
    ca.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build().unwrap()).unwrap();
    ca.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = ca.build();

    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut leaf = X509::builder().unwrap();
    leaf.set_version(2).unwrap();
    leaf.set_serial_number(&serial()).unwrap();
    leaf.set_subject_name(&name("keycloak.corp.example")).unwrap();
    leaf.set_issuer_name(ca.subject_name()).unwrap();
    leaf.set_pubkey(&key).unwrap();
    leaf.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    leaf.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
    leaf.append_extension(BasicConstraints::new().build().unwrap()).unwrap();
    leaf.append_extension(KeyUsage::new().critical().digital_signature().key_encipherment().build().unwrap()).unwrap();
    leaf.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap()).unwrap();
    let san = SubjectAlternativeName::new().ip("127.0.0.1").build(&leaf.x509v3_context(Some(&ca), None)).unwrap();
    leaf.append_extension(san).unwrap();
    leaf.sign(&ca_key, MessageDigest::sha256()).unwrap();
    (ca, leaf.build(), key)
}

async fn keycloak_server(peer: &OidcPeer, listener: std::net::TcpListener, extra: Vec<(&'static str, String)>) -> TestServer {
    let mut env = vec![("AUTH_PROVIDER", "keycloak".to_owned())];
    env.extend(peer.env("keycloak"));
    env.extend(extra);
    TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: env, listener: Some(listener) }).await.unwrap()
}

/// The same address again, once the server that had it has let it go (the
/// peer registered our callback URLs on it).
async fn rebind(addr: &str) -> std::net::TcpListener {
    for _ in 0..100 {
        if let Ok(l) = std::net::TcpListener::bind(addr) {
            return l;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{addr} stayed in use")
}

/// `/readyz` after discovery has had its chance (it retries in the background).
async fn readiness(srv: &TestServer) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..50 {
        last = reqwest::get(srv.url("/readyz")).await.unwrap().json().await.unwrap();
        if last["status"] == "ready" || last["providers"]["keycloak"].as_str().is_some_and(|s| s.starts_with("unreachable") && !s.contains("has not finished")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_behind_a_company_ca_is_explained_then_trusted_by_bundle_or_ssl_cert_file() {
    let dir = portcullis_storage::testing::temp_dir();
    let (ca, leaf, key) = company_ca();
    let (ca_pem, cert_pem, key_pem) = (dir.0.join("ca.pem"), dir.0.join("idp.pem"), dir.0.join("idp.key"));
    std::fs::write(&ca_pem, ca.to_pem().unwrap()).unwrap();
    std::fs::write(&cert_pem, leaf.to_pem().unwrap()).unwrap();
    std::fs::write(&key_pem, key.private_key_to_pem_pkcs8().unwrap()).unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let rp = format!("http://{}", listener.local_addr().unwrap());
    let peer = OidcPeer::start_tls(&rp, &cert_pem, &key_pem).await;
    let issuer = peer.layouts["keycloak"]["issuer"].as_str().unwrap().to_owned();
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");

    // 1. Not trusted: readiness and bearer requests say what is wrong and what to set.
    let srv = keycloak_server(&peer, listener, vec![]).await;
    let ready = readiness(&srv).await;
    let why = ready["providers"]["keycloak"].as_str().unwrap_or_default().to_owned();
    assert_ne!(ready["status"], "ready", "{ready}");
    assert!(why.contains("is not signed by a certificate authority this server trusts") && why.contains("PORTCULLIS_CA_BUNDLE"), "{why}");
    use base64::Engine;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let unverifiable = format!("{}.{}.c2ln", b64(&serde_json::json!({"alg": "RS256", "kid": "x"})), b64(&serde_json::json!({"iss": issuer})));
    let resp = reqwest::Client::new().get(srv.url("/api/v1/me")).bearer_auth(&unverifiable).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "idp_unreachable", "{body}");
    drop(srv);

    // 2. PORTCULLIS_CA_BUNDLE: discovery and keys over https; a CLI token works.
    let listener = rebind(rp.trim_start_matches("http://")).await;
    let srv = keycloak_server(&peer, listener, vec![("PORTCULLIS_CA_BUNDLE", ca_pem.display().to_string())]).await;
    let ready = readiness(&srv).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    // This test's own HTTP clients (the CLI's part) trust the CA from here on.
    std::env::set_var("SSL_CERT_FILE", &ca_pem);
    let token = peer.device_login("keycloak", "keycloak-cli", "alice", "").await;
    let resp = reqwest::Client::new().get(srv.url("/api/v1/me")).bearer_auth(token["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    drop(srv);

    // 3. SSL_CERT_FILE alone, as for any TLS program.
    let listener = rebind(rp.trim_start_matches("http://")).await;
    let srv = keycloak_server(&peer, listener, vec![]).await;
    let ready = readiness(&srv).await;
    assert_eq!(ready["status"], "ready", "{ready}");

    // A bundle that is not one is refused at start, naming the variable.
    let mut env = srv.env.clone();
    std::fs::write(dir.0.join("not.pem"), "hello").unwrap();
    env.insert("PORTCULLIS_CA_BUNDLE".into(), dir.0.join("not.pem").display().to_string());
    let e = portcullis_server::config::Config::from_env(&env).unwrap_err();
    assert_eq!(e.var, "PORTCULLIS_CA_BUNDLE", "{e}");
    assert!(e.problem.contains("holds no PEM certificate"), "{e}");
}
