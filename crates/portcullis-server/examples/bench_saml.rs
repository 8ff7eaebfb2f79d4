//! Benchmark of the SAML assertion consumer service (docs/benchmarks.md):
//! the ACS's own work for a 10 KB signed Response (Response and Assertion
//! signed with RSA-SHA256 by libxmlsec1, attributes padded to 10 KB), over
//! N sequential sign-ins against a real Portcullis (SQLite) on loopback.
//! Each sign-in starts at /auth/saml/login (untimed) for a fresh request id;
//! the timed part is the POST to the ACS and the same-site GET of
//! /auth/saml/complete it redirects to, until that one's 303 (verification,
//! replay checks, the account, the session). Its own work is that minus the
//! same POST body sent to a callback path that stops right after reading the
//! form (an unknown provider): the client, loopback HTTP and form decoding,
//! which run in this same process on the same two cores.
//!
//! Usage: cargo run --release -p portcullis-server --example bench_saml [N]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;
use support::saml_forge::{self as forge, Claims, Signer};
use support::saml_peer::Browser;
use support::{Db, Options, TestServer};

const IDP: &str = "https://idp.bench.example/metadata";

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).map(|v| v.parse().unwrap()).unwrap_or(1000);
    let signer = Signer::idp();
    let dir = portcullis_storage::testing::temp_dir();
    let md = dir.0.join("idp.xml");
    std::fs::write(&md, signer.metadata(IDP, "https://idp.bench.example/sso")).unwrap();
    let env = vec![("AUTH_PROVIDER", "saml".to_owned()), ("SAML_IDP_METADATA_FILE", md.display().to_string()), ("PORTCULLIS_LOG", "error".into())];
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: true, extra_env: env, listener: None }).await.unwrap();
    assert_eq!(srv.wait_ready().await["status"], "ready");
    let acs = srv.url("/auth/saml/callback");
    let audience = srv.url("/auth/saml/metadata");
    let mut times = Vec::with_capacity(n);
    let mut own = Vec::with_capacity(n);
    let mut size = 0;
    let baseline_url = srv.url("/auth/no-such-provider/callback");
    for i in 0..(n + 50) {
        let b = Browser::default();
        let resp = b.http.get(srv.url("/auth/saml/login")).send().await.unwrap();
        let id = forge::request_id(resp.headers()["location"].to_str().unwrap());
        let mut c = Claims::new(IDP, &acs, &audience, &id);
        // Group memberships bring a typical response to 10 KB.
        c.roles = (0..50).map(|g| format!("group-{g:03}-of-the-engineering-department")).chain(["member".to_owned()]).collect();
        let encoded = forge::b64(&forge::signed_response(&c, &signer, true));
        size = encoded.len() * 3 / 4;
        let t = Instant::now();
        let resp = b.post_to_acs(&baseline_url, &encoded, None).await;
        let base = t.elapsed().as_micros() as u64;
        assert_eq!(resp.status(), 404);
        let t = Instant::now();
        let resp = b.post_to_acs(&acs, &encoded, None).await;
        let us = t.elapsed().as_micros() as u64;
        assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
        if i >= 50 {
            times.push(us);
            own.push(us.saturating_sub(base));
        }
    }
    times.sort_unstable();
    own.sort_unstable();
    println!("signed Response: {size} bytes of XML; sequential ACS posts: {n} (after 50 warm-up)");
    println!("ACS total     p50 {:>6} us  p90 {:>6} us  p99 {:>6} us", pct(&times, 0.5), pct(&times, 0.9), pct(&times, 0.99));
    println!("ACS own work  p50 {:>6} us  p90 {:>6} us  p99 {:>6} us", pct(&own, 0.5), pct(&own, 0.9), pct(&own, 0.99));
}
