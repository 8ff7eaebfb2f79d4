//! Security review item 13: an identity provider behind a company
//! certificate authority. The OpenID provider peer serves every layout over
//! https with a certificate from a CA made here; Portcullis refuses it with
//! a message naming the setting until the CA is trusted, through
//! `PORTCULLIS_CA_BUNDLE` or `SSL_CERT_FILE`.
//!
//! One test in its own binary: it sets `SSL_CERT_FILE` for the process.

mod support;

use support::company_ca::company_ca;
use support::oidc_peer::OidcPeer;
use support::{Db, Options, TestServer};

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
