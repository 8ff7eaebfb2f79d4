//! `portcullis login` against a device authorization server of our own that
//! misbehaves on request (RFC 8628 §3.5 error answers, a code that runs out,
//! a token for the wrong audience): each is handled as the RFC says and
//! nothing is stored unless the token checks out.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    SlowDownTwice,
    ExpiredToken,
    AccessDenied,
    /// Always pending, with a 3 s `expires_in`.
    RunsOut,
    WrongAudience,
}

struct Idp {
    mode: Mode,
    issuer: String,
    polls: Vec<Instant>,
}

type Shared = Arc<Mutex<Idp>>;

fn key() -> (jsonwebtoken::EncodingKey, Value) {
    let raw: Value = serde_json::from_str(include_str!("../../../portcullis-server/tests/fixtures/hostile-idp-keys.json")).unwrap();
    let k = &raw["k1"];
    let mut jwk = k["jwk"].clone();
    jwk["kid"] = json!("k1");
    jwk["alg"] = json!("RS256");
    (jsonwebtoken::EncodingKey::from_rsa_pem(k["private_pem"].as_str().unwrap().as_bytes()).unwrap(), jwk)
}

async fn start(mode: Mode) -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let issuer = format!("http://{site}/oauth2/default");
    let shared: Shared = Arc::new(Mutex::new(Idp { mode, issuer: issuer.clone(), polls: vec![] }));
    let app = Router::new()
        .route(
            "/oauth2/default/.well-known/openid-configuration",
            get(|State(s): State<Shared>| async move {
                let i = s.lock().unwrap().issuer.clone();
                Json(json!({"issuer": i, "device_authorization_endpoint": format!("{i}/v1/device/authorize"), "token_endpoint": format!("{i}/v1/token"),
                    "jwks_uri": format!("{i}/v1/keys"), "authorization_endpoint": format!("{i}/v1/authorize")}))
            }),
        )
        .route("/oauth2/default/v1/keys", get(|| async { Json(json!({"keys": [key().1]})) }))
        .route(
            "/oauth2/default/v1/device/authorize",
            post(|State(s): State<Shared>| async move {
                let expires = if s.lock().unwrap().mode == Mode::RunsOut { 3 } else { 600 };
                Json(json!({"device_code": "dc", "user_code": "ABCD-EFGH", "verification_uri": "http://127.0.0.1/activate", "expires_in": expires, "interval": 1}))
            }),
        )
        .route(
            "/oauth2/default/v1/token",
            post(|State(s): State<Shared>| async move {
                let mut idp = s.lock().unwrap();
                idp.polls.push(Instant::now());
                let n = idp.polls.len();
                let err = |e: &str| (axum::http::StatusCode::BAD_REQUEST, Json(json!({"error": e})));
                match idp.mode {
                    Mode::SlowDownTwice if n <= 2 => err("slow_down"),
                    Mode::ExpiredToken => err("expired_token"),
                    Mode::AccessDenied => err("access_denied"),
                    Mode::RunsOut => err("authorization_pending"),
                    mode => {
                        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                        let aud = if mode == Mode::WrongAudience { "api://someone-else" } else { "api://default" };
                        let claims = json!({"iss": idp.issuer, "aud": aud, "sub": "u1", "email": "u1@example.test", "iat": now, "exp": now + 600});
                        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                        h.kid = Some("k1".into());
                        let at = jsonwebtoken::encode(&h, &claims, &key().0).unwrap();
                        (axum::http::StatusCode::OK, Json(json!({"access_token": at, "token_type": "Bearer", "expires_in": 600, "refresh_token": "rt"})))
                    }
                }
            }),
        )
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (site, shared)
}

fn home(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let p = std::env::temp_dir().join(format!("portcullis-dev-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn cli(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `portcullis login --no-browser` against a server in `mode`.
async fn login(mode: Mode) -> (std::process::Output, Shared, std::path::PathBuf) {
    let (site, shared) = start(mode).await;
    let h = home("h");
    for (k, v) in [
        ("enterprise_base_url", "http://127.0.0.1:9"),
        ("oauth2_provider", "okta"),
        ("oauth2_domain", site.as_str()),
        ("oauth2_client_id", "cli"),
        ("oauth2_audience", "api://default"),
        ("oauth2_extra", r#"{"authorization_server_name": "default", "using_org_auth_server": false}"#),
    ] {
        assert!(cli(&h, &["config", "set", k, v]).status.success());
    }
    let h2 = h.clone();
    let out = tokio::task::spawn_blocking(move || cli(&h2, &["login", "--no-browser"])).await.unwrap();
    (out, shared, h)
}

fn stored(h: &std::path::Path) -> bool {
    h.join("data/portcullis/tokens").exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_adds_five_seconds_each_time() {
    let (out, idp, h) = login(Mode::SlowDownTwice).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let polls = idp.lock().unwrap().polls.clone();
    assert_eq!(polls.len(), 3);
    let gap1 = polls[1] - polls[0];
    let gap2 = polls[2] - polls[1];
    // interval 1 s, then 6 s, then 11 s.
    assert!(gap1 >= Duration::from_millis(5900) && gap1 < Duration::from_secs(8), "{gap1:?}");
    assert!(gap2 >= Duration::from_millis(10900) && gap2 < Duration::from_secs(13), "{gap2:?}");
    assert!(stored(&h));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_a_code_that_runs_out_stop_with_nothing_stored() {
    for (mode, expect) in [
        (Mode::ExpiredToken, "code expired"),
        (Mode::AccessDenied, "denied"),
        (Mode::RunsOut, "code expired"),
        (Mode::WrongAudience, "audience mismatch"),
    ] {
        let started = Instant::now();
        let (out, idp, h) = login(mode).await;
        assert_eq!(out.status.code(), Some(4), "{expect}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{expect}: {err}");
        assert!(!stored(&h), "{expect}: nothing stored");
        if mode == Mode::RunsOut {
            // It kept polling until expires_in (3 s) was over, then stopped.
            assert!(idp.lock().unwrap().polls.len() >= 2);
            assert!(started.elapsed() < Duration::from_secs(8));
        }
        std::fs::remove_dir_all(h).ok();
    }
}
