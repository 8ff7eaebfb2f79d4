//! The usage dashboard: sign-ins, API calls, kickoffs and errors over a
//! chosen range as charts (server-drawn SVG, `charts.rs`), upstream latency
//! percentiles, and the top automations and users. Needs `usage_dashboards:
//! read`; the numbers are the API's report (`api::dashboard::visible_report`),
//! so private automations the person cannot see stay out of it.

use crate::pages;
use crate::pages::charts::{self, Series};
use crate::pages::scope::{self, OrgSwitch};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use portcullis_domain::{Action, Feature, Level, Timestamp};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

const HOUR: u64 = 3600;

/// The ranges offered: (query value, label, length, bucket).
const RANGES: &[(&str, &str, u64, u64)] = &[
    ("24h", "Last 24 hours", 24 * HOUR, HOUR),
    ("7d", "Last 7 days", 7 * 24 * HOUR, 6 * HOUR),
    ("30d", "Last 30 days", 30 * 24 * HOUR, 24 * HOUR),
    ("365d", "Last 12 months", 365 * 24 * HOUR, 7 * 24 * HOUR),
];

/// How many automations and users the top lists show.
const TOP: usize = 10;

#[derive(Deserialize, Default)]
pub struct UsageQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    range: String,
}

struct Total {
    label: &'static str,
    value: String,
}

#[derive(askama::Template)]
#[template(path = "usage.html")]
struct UsageView {
    switch: OrgSwitch,
    ranges: Vec<(&'static str, &'static str, bool)>,
    range_label: &'static str,
    totals: Vec<Total>,
    signins_chart: String,
    calls_chart: String,
    kickoffs_chart: String,
    latency_chart: String,
    top_automations: Vec<(String, i64)>,
    top_users: Vec<(String, i64)>,
}

/// The `TOP` subjects with the most kickoffs (ties by id, so the order is stable).
fn ranked(counts: &std::collections::BTreeMap<String, i64>) -> Vec<(&String, i64)> {
    let mut v: Vec<(&String, i64)> = counts.iter().map(|(id, n)| (id, *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.truncate(TOP);
    v
}

fn top(counts: &std::collections::BTreeMap<String, i64>, names: &HashMap<String, String>, unknown: &str) -> Vec<(String, i64)> {
    ranked(counts).into_iter().map(|(id, n)| (names.get(id).cloned().unwrap_or_else(|| unknown.to_owned()), n)).collect()
}

/// `GET /usage?range=`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<UsageQuery>) -> Response {
    let scope = match scope::for_view(&state, &headers, &q.org, "/usage").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(r) = scope::refusal(&scope, Action::Feature(Feature::UsageDashboards, Level::Read), "The usage dashboard") {
        return r;
    }
    let &(key, range_label, length, bucket) = RANGES.iter().find(|r| r.0 == q.range).unwrap_or(&RANGES[0]);
    let hour_ms = (HOUR * 1000) as i64;
    let now = state.clock.now();
    let to = Timestamp((now.0.div_euclid(hour_ms) + 1) * hour_ms);
    let from = to.minus(Duration::from_secs(length));
    state.usage.flush().await;
    let loaded = crate::api::dashboard::visible_report(&state, &scope, from, to, Duration::from_secs(bucket)).await;
    let (report, automations) = match loaded {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let daily = bucket % (24 * HOUR) == 0;
    // Hours for a day, month-day for days, both in between (UTC).
    let span = if bucket < 6 * HOUR { 11..16 } else if daily { 5..10 } else { 5..16 };
    let labels: Vec<String> = report.buckets.iter().map(|b| b.start.get(span.clone()).unwrap_or("").replace('T', " ")).collect();
    let col = |f: &dyn Fn(&portcullis_api::UsageBucket) -> i64| report.buckets.iter().map(|b| f(b) as f64).collect::<Vec<f64>>();
    let signins_chart = charts::stacked_bars(
        "Sign-ins",
        &labels,
        &[Series { name: "succeeded", class: "series-ok", values: col(&|b| b.signins_success) }, Series { name: "failed", class: "series-bad", values: col(&|b| b.signins_failure) }],
    );
    let calls_chart = charts::stacked_bars("API calls", &labels, &[Series { name: "API calls", class: "series-a", values: col(&|b| b.api_calls) }]);
    let kickoffs_chart = charts::stacked_bars(
        "Kickoffs and errors",
        &labels,
        &[
            Series { name: "kickoffs without error", class: "series-a", values: col(&|b| (b.kickoffs - b.upstream_errors).max(0)) },
            Series { name: "upstream errors", class: "series-bad", values: col(&|b| b.upstream_errors) },
        ],
    );
    let latency_chart = charts::lines(
        "Upstream latency",
        &labels,
        &[("p50", "line-a", report.buckets.iter().map(|b| b.latency_p50_ms).collect()), ("p95", "line-b", report.buckets.iter().map(|b| b.latency_p95_ms).collect())],
        " ms",
    );
    let t = &report.total;
    let ms = |v: Option<f64>| v.map(|v| format!("{v} ms")).unwrap_or_else(|| "—".into());
    let totals = vec![
        Total { label: "Sign-ins", value: format!("{} ({} failed)", t.signins_success + t.signins_failure, t.signins_failure) },
        Total { label: "API calls", value: t.api_calls.to_string() },
        Total { label: "Kickoffs", value: t.kickoffs.to_string() },
        Total { label: "Upstream errors", value: t.upstream_errors.to_string() },
        Total { label: "Latency p50", value: ms(t.latency_p50_ms) },
        Total { label: "Latency p95", value: ms(t.latency_p95_ms) },
    ];
    let automation_names: HashMap<String, String> = automations.iter().map(|a| (a.id.to_string(), a.name.clone())).collect();
    // Names for the top users only: a few lookups, not the whole member list.
    let mut user_names: HashMap<String, String> = HashMap::new();
    for (id, _) in ranked(&report.kickoffs_by_user) {
        if let Some(u) = match id.parse() {
            Ok(uid) => state.store.get_user(uid).await.ok().flatten(),
            Err(_) => None,
        } {
            user_names.insert(id.clone(), format!("{} <{}>", u.display_name, u.email));
        }
    }
    let view = UsageView {
        switch: OrgSwitch::new(&scope, "/usage"),
        ranges: RANGES.iter().map(|r| (r.0, r.1, r.0 == key)).collect(),
        range_label,
        totals,
        signins_chart,
        calls_chart,
        kickoffs_chart,
        latency_chart,
        top_automations: top(&report.kickoffs_by_automation, &automation_names, "a deleted automation"),
        top_users: top(&report.kickoffs_by_user, &user_names, "a former member"),
    };
    let nav = pages::nav::for_caller(&state, &scope.caller, "/usage");
    pages::render("Usage", &nav, &view)
}
