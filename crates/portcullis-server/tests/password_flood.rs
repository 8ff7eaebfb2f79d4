//! Security review item 6: a flood of 1,000 parallel sign-ins, each from its
//! own address (behind a trusted proxy) so that no throttle stops them,
//! keeps the server's memory bounded: argon2 takes 19 MiB per hash, and
//! hashes run one per core behind a semaphore, with a bounded number
//! waiting; the rest are told the server is busy (503 with Retry-After).
//!
//! In its own test binary: it reads this process's peak resident memory.


mod support;

use support::{Db, Options, TestServer};

/// This process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_parallel_sign_ins_keep_memory_bounded() {
    let opts = Options { extra_env: vec![("PORTCULLIS_TRUST_X_FORWARDED_FOR", "true".into())], ..Options::default() };
    let srv = TestServer::start_with(Db::Sqlite, opts).await.unwrap();
    // Warm up: one sign-in, so that the baseline includes the server's own start.
    let _ = srv.client().login_local("warm@example.com", "wrong password!!").await;
    let before = peak_rss_kib();
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let page: serde_json::Value = http.get(srv.url("/auth/local/login")).header("accept", "application/json").send().await.unwrap().json().await.unwrap();
    let csrf = page["csrf_token"].as_str().unwrap().to_owned();
    // The form cookie that binds the token.
    let jar_resp = http.get(srv.url("/auth/local/login")).header("accept", "application/json").send().await.unwrap();
    let cookie = jar_resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf2: serde_json::Value = jar_resp.json().await.unwrap();
    let _ = csrf;
    let csrf = csrf2["csrf_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..1000u32 {
        let (http, url, cookie, csrf) = (http.clone(), srv.url("/auth/local/login"), cookie.clone(), csrf.clone());
        tasks.push(tokio::spawn(async move {
            let addr = format!("198.18.{}.{}", i / 250, i % 250 + 1);
            let email = format!("flood{i}@example.com");
            let resp = http
                .post(url)
                .header("accept", "application/json")
                .header("cookie", cookie)
                .header("x-forwarded-for", addr)
                .form(&[("email", email.as_str()), ("password", "wrong password!!"), ("csrf_token", csrf.as_str())])
                .send()
                .await
                .unwrap();
            let retry = resp.headers().get("retry-after").is_some();
            (resp.status().as_u16(), retry)
        }));
    }
    let (mut checked, mut busy) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (401, _) => checked += 1,
            (503, true) => busy += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    eprintln!("1000 parallel sign-ins: {checked} checked, {busy} told busy; peak memory grew by {grown_mib} MiB");
    assert_eq!(checked + busy, 1000);
    assert!(checked >= 64, "the admitted ones were checked: {checked}");
    // Two cores at 19 MiB each, plus connections and buffers; unbounded
    // hashing took several GiB here.
    assert!(grown_mib < 300, "peak memory grew by {grown_mib} MiB under the flood");
}
