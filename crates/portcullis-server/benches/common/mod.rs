//! What the benchmarks share: their server's settings, and a year of recorded usage.

use portcullis_domain::{AutomationId, OrgId, Timestamp, UserId};
use portcullis_server::config::{Config, Env};
use portcullis_server::usage::latency_bucket;
use portcullis_storage::{Store, UsageEvent};

const DAY: i64 = 86_400_000;

/// A server's settings with its data in `target/<dir>` (kept between runs),
/// a fixed key, and a bootstrap administrator.
pub fn config(dir: &str) -> Config {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target").join(dir);
    let mut env = Env::new();
    env.insert("PORTCULLIS_DATA_DIR".into(), dir.display().to_string());
    env.insert("PORTCULLIS_SECRET_KEY".into(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    env.insert("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL".into(), "bench@example.com".into());
    env.insert("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD".into(), "bench passphrase 1".into());
    Config::from_env(&env).unwrap()
}

/// `events` usage events spread evenly over the 365 days before `now`, in
/// `org`, through the same `append_usage` the server uses: 5 % sign-ins,
/// 5 % upstream errors, 30 % kickoffs with latencies, 60 % API calls, the
/// automations and users taken in turn (every one active every hour: the
/// worst case for the per-subject roll-ups).
pub async fn append_year_of_usage(store: &dyn Store, org: OrgId, automations: &[AutomationId], users: &[UserId], now: Timestamp, events: usize) {
    let year_ago = Timestamp(now.0 - 365 * DAY);
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..events {
        let at = Timestamp(year_ago.0 + (i as i64) * (365 * DAY) / events as i64);
        let kind = match i % 20 {
            0 => "signin",
            1 => "upstream_error",
            2..=7 => "kickoff",
            _ => "api_call",
        };
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
            count: 1,
        });
        if batch.len() == 10_000 {
            store.append_usage(&batch).await.unwrap();
            batch.clear();
        }
    }
    store.append_usage(&batch).await.unwrap();
}
