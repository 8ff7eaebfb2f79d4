//! Prometheus metrics, from the real binary: `GET /metrics` on
//! `PORTCULLIS_METRICS_LISTEN` only (never on the public port), each metric
//! the operations guide lists, counted as the requests made here, and no
//! user, token or raw path in any label.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The value of the series `name{labels}` whose labels include all of `with`.
fn value(text: &str, name: &str, with: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, v) = l.rsplit_once(' ')?;
        let (n, labels) = series.split_once('{').map(|(n, rest)| (n, rest.trim_end_matches('}'))).unwrap_or((series, ""));
        (n == name && with.iter().all(|(k, val)| labels.split(',').any(|p| p == format!("{k}=\"{val}\"")))).then(|| v.parse().ok())?
    })
}

#[tokio::test]
async fn metrics_count_what_happened_on_their_own_port() {
    let dir = std::env::temp_dir().join(format!("portcullis-metrics-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(&dir)
        .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
        .env("PORTCULLIS_LOG", "warn")
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "admin@example.com")
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", "admin passphrase 1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut owner = portcullis_api::Client::new(&base).unwrap();
    let started = Instant::now();
    loop {
        match owner.login_local("admin@example.com", "admin passphrase 1").await {
            Ok(_) => break,
            Err(_) if started.elapsed() < Duration::from_secs(20) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{e}"),
        }
    }
    let http = reqwest::Client::new();

    // A failed and a successful sign-in, and the member's refused request.
    let mut wrong = portcullis_api::Client::new(&base).unwrap();
    assert!(wrong.login_local("admin@example.com", "not the passphrase").await.is_err());
    owner
        .create_user(&portcullis_api::CreateUser { email: "member@example.com".into(), display_name: None, password: Some("member passphrase 1".into()), role_id: None })
        .await
        .unwrap();
    let mut member = portcullis_api::Client::new(&base).unwrap();
    member.login_local("member@example.com", "member passphrase 1").await.unwrap();
    let refused = member.create_role(&portcullis_api::CreateRole { name: "Nope".into(), permissions: Default::default() }).await;
    assert!(refused.is_err(), "a member may not create roles");

    // An automation that cannot be reached: an upstream error.
    let a = owner
        .create_automation(&portcullis_api::CreateAutomation {
            name: "Crew".into(),
            description: String::new(),
            visibility: None,
            upstream_url: format!("http://{closed}"),
            upstream_token: "tok-metrics".into(),
        })
        .await
        .unwrap();
    assert!(owner.kickoff(a.id, &serde_json::json!({"inputs": {}})).await.is_err());

    // A bearer token that is no token, and a path nobody routes.
    let secret_path = "/no-such-page-4c1f";
    let r = http.get(format!("{base}/api/v1/me")).bearer_auth("not-a-jwt-b7e2").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(http.get(format!("{base}{secret_path}")).send().await.unwrap().status(), 404);

    // Not on the public port.
    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), 404);
    let r = http.get(format!("http://127.0.0.1:{metrics_port}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();

    let has = |name: &str, with: &[(&str, &str)]| value(&text, name, with).unwrap_or_else(|| panic!("no {name}{with:?} in:\n{text}"));
    assert!(has("portcullis_sign_ins_total", &[("provider", "local"), ("outcome", "success")]) >= 2.0);
    assert_eq!(has("portcullis_sign_ins_total", &[("provider", "local"), ("outcome", "failure"), ("cause", "invalid_credentials")]), 1.0);
    assert_eq!(has("portcullis_rbac_denials_total", &[("feature", "organization_settings")]), 1.0);
    assert_eq!(has("portcullis_bearer_verifications_total", &[("outcome", "refused"), ("cached", "false")]), 1.0);
    let automation = a.id.to_string();
    assert_eq!(has("portcullis_upstream_errors_total", &[("automation", &automation), ("call", "kickoff"), ("code", "upstream_unreachable")]), 1.0);
    assert_eq!(has("portcullis_upstream_request_duration_seconds_count", &[("automation", &automation), ("call", "kickoff")]), 1.0);
    assert!(has("portcullis_http_requests_total", &[("route", "/api/v1/automations/{id}/kickoff"), ("method", "POST"), ("status", "502")]) >= 1.0);
    assert!(has("portcullis_http_request_duration_seconds_bucket", &[("route", "/auth/local/login"), ("method", "POST"), ("le", "+Inf")]) >= 3.0);
    assert!(has("portcullis_http_requests_total", &[("route", "unmatched"), ("status", "404")]) >= 1.0);
    assert!(has("portcullis_cache_lookups_total", &[("cache", "sessions"), ("result", "miss")]) >= 1.0);
    assert!(has("portcullis_db_pool_max_connections", &[]) >= 1.0);
    assert!(value(&text, "portcullis_db_pool_connections", &[("state", "idle")]).is_some(), "{text}");
    assert!(text.contains("# HELP portcullis_sign_ins_total "), "metrics are described");
    assert!(text.contains("# TYPE portcullis_http_request_duration_seconds histogram"), "{text}");

    // Bounded labels: no address, token, password or raw path.
    for leak in ["member@example.com", "admin@example.com", "not-a-jwt-b7e2", "tok-metrics", "passphrase", secret_path] {
        assert!(!text.contains(leak), "`{leak}` in the metrics:\n{text}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn metrics_address_must_differ_from_the_public_one() {
    let out = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PORTCULLIS_LISTEN", "127.0.0.1:18080")
        .env("PORTCULLIS_METRICS_LISTEN", "127.0.0.1:18080")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PORTCULLIS_METRICS_LISTEN") && err.contains("port of their own"), "{err}");
}
