//! Prometheus metrics: what the server counts and measures, in one place,
//! so that names and labels stay consistent and every label stays bounded
//! (a provider, an outcome, a route template, an automation id: never a
//! user, a token, an address or a raw path).
//!
//! The code records through the `metrics` facade; when no recorder is
//! installed (tests, or `PORTCULLIS_METRICS_LISTEN` unset) each call is a
//! no-op. [`install`] installs the Prometheus recorder of
//! `metrics-exporter-prometheus`; [`router`] serves its text format at
//! `GET /metrics` on the separate metrics listener. The list, with example
//! alert rules, is in docs/operations.md.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use portcullis_domain::{Denial, Requirement};
use std::time::Instant;

pub const HTTP_REQUESTS: &str = "portcullis_http_requests_total";
pub const HTTP_DURATION: &str = "portcullis_http_request_duration_seconds";
pub const SIGN_INS: &str = "portcullis_sign_ins_total";
pub const BEARER_VERIFICATIONS: &str = "portcullis_bearer_verifications_total";
pub const RBAC_DENIALS: &str = "portcullis_rbac_denials_total";
pub const UPSTREAM_DURATION: &str = "portcullis_upstream_request_duration_seconds";
pub const UPSTREAM_ERRORS: &str = "portcullis_upstream_errors_total";
pub const KEY_SET_REFRESHES: &str = "portcullis_key_set_refreshes_total";
pub const CACHE_LOOKUPS: &str = "portcullis_cache_lookups_total";
pub const DB_POOL_CONNECTIONS: &str = "portcullis_db_pool_connections";
pub const DB_POOL_MAX: &str = "portcullis_db_pool_max_connections";

/// Latency buckets in seconds: fine below 10 ms, where the kickoff proxy
/// and cached API calls live, coarse up to the 30 s upstream timeout.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Installs the process-wide Prometheus recorder and describes every
/// metric. Call once, before serving.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    Ok(handle)
}

fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route template, method and status.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time to answer an HTTP request, by route template and method.");
    describe_counter!(SIGN_INS, "Sign-ins by provider and outcome; `cause` is the troubleshooting code of a failure (none on success).");
    describe_counter!(BEARER_VERIFICATIONS, "Bearer tokens checked on API calls, by outcome (`accepted`, `expired`, `refused`) and whether a cached verification answered.");
    describe_counter!(RBAC_DENIALS, "Requests the RBAC decision refused, by what was required (`feature`: a feature name, or membership, automation_grant, factory_admin, owner).");
    describe_histogram!(UPSTREAM_DURATION, Unit::Seconds, "Calls to automations' own APIs through the kickoff proxy, by automation and call (kickoff, inputs, status).");
    describe_counter!(UPSTREAM_ERRORS, "Failed calls to automations' own APIs, by automation and error code.");
    describe_counter!(KEY_SET_REFRESHES, "Fetches of an identity provider's signing keys (JWKS), by provider and outcome.");
    describe_counter!(CACHE_LOOKUPS, "Lookups in the in-memory caches (sessions and API contexts, automations, verified tokens, provisioned users), by cache and result (hit, miss).");
    describe_gauge!(DB_POOL_CONNECTIONS, "Database pool connections, by state (idle, in_use), at scrape time.");
    describe_gauge!(DB_POOL_MAX, "The database pool's size limit (PORTCULLIS_DB_MAX_CONNECTIONS).");
}

/// The metrics listener's one route.
pub fn router(state: AppState, handle: PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |State(state): State<AppState>| {
            let handle = handle.clone();
            async move { scrape(&state, &handle) }
        }),
    )
    .with_state(state)
}

fn scrape(state: &AppState, handle: &PrometheusHandle) -> Response {
    let pool = state.store.pool_stats();
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(pool.idle as f64);
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(pool.size.saturating_sub(pool.idle) as f64);
    gauge!(DB_POOL_MAX).set(pool.max as f64);
    // Histograms are folded into their buckets here rather than by a timer
    // (the exporter leaves upkeep to its user).
    handle.run_upkeep();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

/// Middleware: counts and times every request under its route template
/// (`/api/v1/automations/{id}`), or `unmatched` for the fallback, so that
/// random paths cannot create series.
pub async fn track_requests(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    histogram!(HTTP_DURATION, "route" => route.clone(), "method" => method).record(started.elapsed().as_secs_f64());
    counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status).increment(1);
    resp
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A sign-in that ended: `cause` is `None` on success, else the
/// troubleshooting code the page showed.
pub fn sign_in(provider: &str, cause: Option<&'static str>) {
    let (outcome, cause) = match cause {
        None => ("success", ""),
        Some(c) => ("failure", c),
    };
    counter!(SIGN_INS, "provider" => provider.to_owned(), "outcome" => outcome, "cause" => cause).increment(1);
}

/// A bearer token checked on an API call.
pub fn bearer_verification(outcome: &'static str, cached: bool) {
    counter!(BEARER_VERIFICATIONS, "outcome" => outcome, "cached" => if cached { "true" } else { "false" }).increment(1);
}

/// A request the RBAC decision refused.
pub fn rbac_denied(denial: &Denial) {
    let feature = match denial.required {
        Requirement::Membership => "membership",
        Requirement::Feature(f, _) => f.as_str(),
        Requirement::Entity { .. } => "automation_grant",
        Requirement::FactoryAdmin => "factory_admin",
        Requirement::Owner => "owner",
    };
    counter!(RBAC_DENIALS, "feature" => feature).increment(1);
}

/// A call to an automation's own API: its time, and its error code if it failed.
pub fn upstream_call(automation: portcullis_domain::AutomationId, call: &'static str, seconds: f64, error: Option<&'static str>) {
    let automation = automation.to_string();
    histogram!(UPSTREAM_DURATION, "automation" => automation.clone(), "call" => call).record(seconds);
    if let Some(code) = error {
        counter!(UPSTREAM_ERRORS, "automation" => automation, "call" => call, "code" => code).increment(1);
    }
}

/// A fetch of an identity provider's signing keys.
pub fn key_set_refresh(provider: &'static str, ok: bool) {
    counter!(KEY_SET_REFRESHES, "provider" => provider, "outcome" => if ok { "ok" } else { "failed" }).increment(1);
}

/// A lookup in one of the in-memory caches.
pub fn cache_lookup(cache: &'static str, hit: bool) {
    counter!(CACHE_LOOKUPS, "cache" => cache, "result" => if hit { "hit" } else { "miss" }).increment(1);
}
