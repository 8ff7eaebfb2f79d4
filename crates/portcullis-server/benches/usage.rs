//! The usage report over a year holding one million recorded events
//! (target: under 100 ms; see docs/benchmarks.md).
//!
//! The database is built once into `target/bench-usage/` (it takes a couple
//! of minutes) and reused by later runs.

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_domain::{AutomationId, Clock, OrgId, SystemClock, Timestamp, UserId};
use portcullis_server::config::{Config, Env};
use portcullis_server::usage::latency_bucket;
use portcullis_storage::UsageEvent;
use std::time::Duration;

const EVENTS: usize = 1_000_000;
const DAY: i64 = 86_400_000;

fn setup(rt: &tokio::runtime::Runtime) -> (portcullis_server::state::AppState, OrgId, Timestamp) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-usage");
    let mut env = Env::new();
    env.insert("PORTCULLIS_DATA_DIR".into(), dir.display().to_string());
    env.insert("PORTCULLIS_SECRET_KEY".into(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    env.insert("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL".into(), "bench@example.com".into());
    env.insert("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD".into(), "bench passphrase 1".into());
    let config = Config::from_env(&env).unwrap();
    rt.block_on(async {
        let (state, _, _) = portcullis_server::start(config).await.unwrap();
        let org = state.store.list_orgs().await.unwrap()[0].id;
        let now = SystemClock.now();
        let year_ago = Timestamp(now.0 - 365 * DAY);
        let all = portcullis_storage::UsageQuery { org_id: Some(org), from: Timestamp(0), to: Timestamp(i64::MAX / 4), daily: true, bucket_ms: i64::MAX / 4 };
        let have: i64 = state.store.list_usage_rows(&all).await.unwrap().kinds.iter().map(|c| c.count).sum();
        if (have as usize) < EVENTS {
            eprintln!("building the benchmark database: {EVENTS} events over 365 days (once)...");
            let automations: Vec<AutomationId> = (0..20).map(|_| AutomationId::new()).collect();
            let users: Vec<UserId> = (0..50).map(|_| UserId::new()).collect();
            let mut batch = Vec::with_capacity(10_000);
            for i in 0..EVENTS {
                // Spread evenly over the year, deterministic mix of kinds.
                let at = Timestamp(year_ago.0 + (i as i64) * (365 * DAY) / EVENTS as i64);
                let kind = match i % 20 { 0 => "signin", 1 => "upstream_error", 2..=7 => "kickoff", _ => "api_call" };
                let latency = if kind == "kickoff" { Some(((i * 7919) % 2000) as i64) } else { None };
                batch.push(UsageEvent {
                    at,
                    org_id: Some(org),
                    kind: kind.into(),
                    provider: (kind == "signin").then(|| "local".into()),
                    success: Some(i % 13 != 0),
                    automation_id: (kind != "signin").then(|| automations[i % automations.len()]),
                    user_id: Some(users[i % users.len()]),
                    latency_ms: latency,
                    latency_bucket: latency.map(latency_bucket),
                });
                if batch.len() == 10_000 {
                    state.store.append_usage(&batch).await.unwrap();
                    batch.clear();
                }
            }
            state.store.append_usage(&batch).await.unwrap();
        }
        (state, org, now)
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (state, org, now) = setup(&rt);
    let to = Timestamp((now.0 / 3_600_000 + 1) * 3_600_000);
    // 366 days: the whole year of events, whenever the database was built.
    let year = Timestamp(to.0 - 366 * DAY);
    let month = Timestamp(to.0 - 30 * DAY);
    let report = rt.block_on(portcullis_server::api::dashboard::report(&state, Some(org), year, to, Duration::from_secs(86_400))).unwrap();
    let total = report.total.signins_success + report.total.signins_failure + report.total.api_calls + report.total.kickoffs + report.total.upstream_errors;
    assert!(total as usize >= EVENTS, "{total} events in the report");
    let mut g = c.benchmark_group("usage_report_1M_events");
    g.sample_size(20);
    g.bench_function("year_by_day", |b| {
        b.iter(|| rt.block_on(portcullis_server::api::dashboard::report(&state, Some(org), year, to, Duration::from_secs(86_400))).unwrap())
    });
    g.bench_function("month_by_hour", |b| {
        b.iter(|| rt.block_on(portcullis_server::api::dashboard::report(&state, Some(org), month, to, Duration::from_secs(3600))).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
