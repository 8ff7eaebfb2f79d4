//! Benchmark of the browser sign-in callback (docs/benchmarks.md).
//!
//! Runs a real Portcullis (SQLite) against the test suite's OpenID provider
//! on loopback, and measures:
//! 1. the callback's latency over N sequential sign-ins with a warm key
//!    cache, and the same minus the time the IdP spent in its token
//!    endpoint (the callback's own work, conservatively: HTTP overhead of
//!    the token call is counted as ours);
//! 2. how many times the signing keys are fetched when C sign-ins at once
//!    meet a rotated key.
//!
//! Usage: cargo run --release -p portcullis-server --example bench_sso [N] [C]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;
use support::browser::{location, Browser};
use support::hostile_idp::{HostileIdp, Mode};
use support::{Db, Options, TestServer};

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|v| v.parse().unwrap()).unwrap_or(2000);
    let c: usize = args.next().map(|v| v.parse().unwrap()).unwrap_or(1000);
    let idp = HostileIdp::start(Mode::Good).await;
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: idp.env(), listener: None }).await.unwrap();
    let cb_prefix = srv.url("/auth/okta/callback");

    let mut totals = Vec::with_capacity(n);
    let mut own = Vec::with_capacity(n);
    for i in 0..(n + 50) {
        let mut b = Browser::new();
        let resp = b.get(&srv.url("/auth/okta/login")).await;
        let cb = b.follow_until(location(&resp), &cb_prefix).await.unwrap_or_else(|_| panic!("no callback"));
        let before = idp.with(|s| s.token_micros.len());
        let t = Instant::now();
        let resp = b.get(&cb).await;
        let total = t.elapsed().as_micros() as u64;
        assert_eq!(resp.status(), 303);
        let idp_us = idp.with(|s| s.token_micros[before..].iter().sum::<u64>());
        if i >= 50 {
            totals.push(total);
            own.push(total.saturating_sub(idp_us));
        }
    }
    totals.sort_unstable();
    own.sort_unstable();
    println!("sequential sign-ins: {n} (after 50 warm-up)");
    println!("callback total     p50 {:>6} us  p90 {:>6} us  p99 {:>6} us", pct(&totals, 0.5), pct(&totals, 0.9), pct(&totals, 0.99));
    println!("callback own work  p50 {:>6} us  p90 {:>6} us  p99 {:>6} us", pct(&own, 0.5), pct(&own, 0.9), pct(&own, 0.99));

    // Key rotation under a crowd.
    let before = idp.with(|s| {
        s.behaviour.published = vec!["k1", "k2"];
        s.behaviour.signing = "k2";
        s.jwks_fetches
    });
    // Everyone is at the IdP first, then all callbacks arrive together.
    let mut pending = Vec::with_capacity(c);
    for _ in 0..c {
        let mut b = Browser::new();
        let resp = b.get(&srv.url("/auth/okta/login")).await;
        let cb = b.follow_until(location(&resp), &cb_prefix).await.unwrap_or_else(|_| panic!("no callback"));
        pending.push((b, cb));
    }
    let t = Instant::now();
    let tasks: Vec<_> = pending.into_iter().map(|(mut b, cb)| tokio::spawn(async move { b.get(&cb).await.status().as_u16() })).collect();
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == 303 {
            ok += 1;
        }
    }
    let after = idp.with(|s| s.jwks_fetches);
    println!("rotation: {c} concurrent callbacks with a new kid: {ok} signed in in {} ms; JWKS fetches during the crowd: {}", t.elapsed().as_millis(), after - before);
}
