//! The usage dashboard and the automations dashboard.

use super::convert;
use crate::session::OrgScope;
use crate::config::parse_duration;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::usage::bucket_upper_ms;
use axum::extract::{Query, State};
use portcullis_api as api;
use portcullis_domain::{Action, Feature, Level, OrgId, Timestamp};
use portcullis_storage::UsageQuery;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
const PARAMS: &str = "from, to (RFC 3339), bucket (a whole number of hours: 1h, 6h, 1d, 7d)";

/// Percentile from histogram counts (bucket → count).
fn percentile(hist: &BTreeMap<i64, i64>, p: f64) -> Option<f64> {
    let total: i64 = hist.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((total as f64) * p).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (b, n) in hist {
        seen += n;
        if seen >= rank {
            return Some((bucket_upper_ms(*b) * 10.0).round() / 10.0);
        }
    }
    None
}

/// `GET /api/v1/usage?from=&to=&bucket=` (needs `usage_dashboards: read`):
/// sign-ins by provider and outcome, API calls, kickoffs per automation and
/// per user, upstream errors, and upstream latency p50/p95, per bucket. Read
/// from hourly roll-ups kept with the recorded events.
pub async fn usage(State(state): State<AppState>, scope: OrgScope, Query(q): Query<HashMap<String, String>>) -> ApiResult<axum::Json<api::UsageReport>> {
    scope.authorize(Action::Feature(Feature::UsageDashboards, Level::Read), "usage dashboard")?;
    let now = state.clock.now();
    let mut to = Timestamp((now.0.div_euclid(HOUR_MS) + 1) * HOUR_MS);
    let mut from = None;
    let mut bucket = Duration::from_secs(3600);
    for (k, v) in &q {
        match k.as_str() {
            "from" => from = Some(convert::parse_rfc3339("from", v)?),
            "to" => to = convert::parse_rfc3339("to", v)?,
            "bucket" => {
                bucket = parse_duration(v).filter(|d| d.as_secs() >= 3600 && d.as_secs() % 3600 == 0).ok_or_else(|| {
                    ApiError::bad_request("invalid_query", format!("bucket: `{v}` is not a whole number of hours (e.g. 1h, 6h, 1d)"))
                })?
            }
            other => return Err(ApiError::bad_request("invalid_query", format!("unknown parameter `{other}`; valid parameters: {PARAMS}"))),
        }
    }
    let from = from.unwrap_or(to.minus(Duration::from_secs(24 * 3600)));
    let from = Timestamp(from.0.div_euclid(HOUR_MS) * HOUR_MS);
    if from >= to {
        return Err(ApiError::bad_request("invalid_query", "`from` must be before `to`"));
    }
    if (to.0 - from.0) / (bucket.as_millis() as i64) > 10_000 {
        return Err(ApiError::bad_request("invalid_query", "that range has more than 10000 buckets; choose a larger bucket"));
    }
    Ok(axum::Json(visible_report(&state, &scope, from, to, bucket).await?.0))
}

/// The organization's usage report as the caller may see it (needs
/// `usage_dashboards: read`): private automations they cannot see stay out
/// of the breakdown. The API's `usage` and the usage page, which also gets
/// the automations the caller can see (read at the same time as the report).
pub async fn visible_report(state: &AppState, scope: &OrgScope, from: Timestamp, to: Timestamp, bucket: Duration) -> ApiResult<(api::UsageReport, Vec<portcullis_storage::Automation>)> {
    scope.authorize(Action::Feature(Feature::UsageDashboards, Level::Read), "usage dashboard")?;
    let (mut r, visible) = tokio::try_join!(report(state, Some(scope.org.id), from, to, bucket), super::automations::visible(state, scope))?;
    let ids: std::collections::HashSet<String> = visible.iter().map(|a| a.id.to_string()).collect();
    r.kickoffs_by_automation.retain(|id, _| ids.contains(id));
    Ok((r, visible))
}

/// The usage report of `org` for `[from, to)` in buckets of whole hours.
/// Buckets of whole days read the daily roll-ups (and widen the range to
/// whole days); others the hourly ones. The database sums the roll-ups into
/// buckets, so the cost follows the number of buckets, not of events.
pub async fn report(state: &AppState, org: Option<OrgId>, from: Timestamp, to: Timestamp, bucket: Duration) -> ApiResult<api::UsageReport> {
    let bucket_ms = bucket.as_millis() as i64;
    let daily = bucket_ms % DAY_MS == 0;
    let unit = if daily { DAY_MS } else { HOUR_MS };
    let from = Timestamp(from.0.div_euclid(unit) * unit);
    let to = Timestamp((to.0 + unit - 1).div_euclid(unit) * unit);
    let rows = state.store.list_usage_rows(&UsageQuery { org_id: org, from, to, daily, bucket_ms }).await?;

    let n = ((to.0 - from.0 + bucket_ms - 1) / bucket_ms).max(1) as usize;
    let mut buckets: Vec<api::UsageBucket> = (0..n)
        .map(|i| api::UsageBucket { start: convert::rfc3339(Timestamp(from.0 + i as i64 * bucket_ms)), ..Default::default() })
        .collect();
    let mut total = api::UsageBucket { start: convert::rfc3339(from), ..Default::default() };
    for c in &rows.kinds {
        let i = (c.bucket.max(0) as usize).min(n - 1);
        for b in [&mut buckets[i], &mut total] {
            match c.kind.as_str() {
                "signin" => {
                    if c.success {
                        b.signins_success += c.count
                    } else {
                        b.signins_failure += c.count
                    }
                    *b.signins_by_provider.entry(c.provider.clone()).or_default() += c.count;
                }
                "api_call" => b.api_calls += c.count,
                "kickoff" => b.kickoffs += c.count,
                "upstream_error" => b.upstream_errors += c.count,
                _ => {}
            }
        }
    }
    let mut by_automation = BTreeMap::new();
    let mut by_user = BTreeMap::new();
    for s in &rows.subjects {
        match s.subject_type.as_str() {
            "automation" => by_automation.insert(s.subject_id.clone(), s.count),
            _ => by_user.insert(s.subject_id.clone(), s.count),
        };
    }
    let mut hists: Vec<BTreeMap<i64, i64>> = vec![BTreeMap::new(); n];
    let mut all = BTreeMap::new();
    for l in &rows.latency {
        let i = (l.bucket.max(0) as usize).min(n - 1);
        *hists[i].entry(l.latency_bucket).or_default() += l.count;
        *all.entry(l.latency_bucket).or_default() += l.count;
    }
    for (b, h) in buckets.iter_mut().zip(&hists) {
        b.latency_p50_ms = percentile(h, 0.50);
        b.latency_p95_ms = percentile(h, 0.95);
    }
    total.latency_p50_ms = percentile(&all, 0.50);
    total.latency_p95_ms = percentile(&all, 0.95);
    Ok(api::UsageReport {
        from: convert::rfc3339(from),
        to: convert::rfc3339(to),
        bucket_seconds: bucket.as_secs() as i64,
        buckets,
        total,
        kickoffs_by_automation: by_automation,
        kickoffs_by_user: by_user,
    })
}

/// `GET /api/v1/dashboard/automations` (needs `crews_dashboards: read`, or
/// a grant on an automation): every automation the caller can see, with
/// health, last execution, and executions and failures in the last 24 hours.
pub async fn automations(State(state): State<AppState>, scope: OrgScope) -> ApiResult<axum::Json<Vec<api::DashboardAutomation>>> {
    let since = state.clock.now().minus(Duration::from_secs(24 * 3600));
    state.usage.flush().await;
    let mut stats = state.store.list_execution_stats(scope.org.id, since).await?;
    let mut out = Vec::new();
    for a in super::automations::visible(&state, &scope).await? {
        let s = stats.remove(&a.id).unwrap_or_default();
        out.push(api::DashboardAutomation {
            automation: convert::automation(&a),
            last_execution: s.last.as_ref().map(convert::execution),
            executions_24h: s.executions,
            failures_24h: s.failures,
        });
    }
    if out.is_empty() {
        // Say why the list is empty when the caller lacks the dashboard altogether.
        scope.authorize(Action::Feature(Feature::CrewsDashboards, Level::Read), "automations dashboard")?;
    }
    Ok(axum::Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_from_histograms() {
        let mut h = BTreeMap::new();
        for ms in 1..=100 {
            *h.entry(crate::usage::latency_bucket(ms)).or_default() += 1;
        }
        let p50 = percentile(&h, 0.5).unwrap();
        let p95 = percentile(&h, 0.95).unwrap();
        assert!((50.0..=60.0).contains(&p50), "{p50}");
        assert!((95.0..=114.0).contains(&p95), "{p95}");
        assert_eq!(percentile(&BTreeMap::new(), 0.5), None);
    }
}
