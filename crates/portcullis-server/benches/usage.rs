//! The usage report over a year holding one million recorded events
//! (target: under 100 ms; see docs/benchmarks.md).
//!
//! The database is built once into `target/bench-usage/` (it takes a couple
//! of minutes) and reused by later runs.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_domain::{AutomationId, Clock, OrgId, SystemClock, Timestamp, UserId};
use std::time::Duration;

const EVENTS: usize = 1_000_000;
const DAY: i64 = 86_400_000;

fn setup(rt: &tokio::runtime::Runtime) -> (portcullis_server::state::AppState, OrgId, Timestamp) {
    let config = common::config("bench-usage");
    rt.block_on(async {
        let (state, _, _) = portcullis_server::start(config).await.unwrap();
        let org = state.store.list_orgs().await.unwrap()[0].id;
        let now = SystemClock.now();
        let all = portcullis_storage::UsageQuery { org_id: Some(org), from: Timestamp(0), to: Timestamp(i64::MAX / 4), daily: true, bucket_ms: i64::MAX / 4 };
        let have: i64 = state.store.list_usage_rows(&all).await.unwrap().kinds.iter().map(|c| c.count).sum();
        if (have as usize) < EVENTS {
            eprintln!("building the benchmark database: {EVENTS} events over 365 days (once)...");
            let automations: Vec<AutomationId> = (0..20).map(|_| AutomationId::new()).collect();
            let users: Vec<UserId> = (0..50).map(|_| UserId::new()).collect();
            common::append_year_of_usage(&*state.store, org, &automations, &users, now, EVENTS).await;
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
