//! The kickoff proxy: Portcullis is the one door to a deployed automation.
//! Callers present their own session; Portcullis checks RBAC, then calls the
//! automation's API with the automation's token, which callers never see.
//! Nothing of the caller's request (cookies, headers, tokens) is forwarded.

use crate::error::Status;
use super::automations::load;
use crate::upstream_policy::TargetProblem;
use super::convert;
use crate::session::OrgScope;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::usage::{event, latency_bucket};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use portcullis_api as api;
use portcullis_domain::AutomationAccess;
use portcullis_storage::{Automation, Execution, ExecutionOp};
use crate::upstream_client::{Call, CallError};
use hyper::Method;
use std::collections::HashMap;
use std::time::Instant;

/// What an upstream answered.
struct Upstream {
    json: serde_json::Value,
    latency_ms: i64,
}

/// Calls `path` of the automation's API with its token.
async fn call(state: &AppState, a: &Automation, method: Method, path: &str, body: Option<Bytes>) -> (Result<Upstream, ApiError>, i64) {
    let started = Instant::now();
    let elapsed = |s: Instant| s.elapsed().as_millis() as i64;
    let result = async {
        // The host policy as it stands now, and a token bound to this origin.
        let (base, token) = crate::upstream_policy::target(&state.config.upstream.hosts, &state.sealer, a).map_err(|p| match p {
            TargetProblem::NoToken => ApiError::new(Status::Conflict, "no_upstream_token", format!("automation `{}` has no upstream token; set one with PATCH /api/v1/automations/{}", a.name, a.id)),
            TargetProblem::NotAllowed(why) => ApiError::new(Status::BadGateway, "upstream_not_allowed", format!("automation `{}` is not called: {why}", a.name)),
            TargetProblem::TokenUnusable(e) => ApiError::internal(format!("opening the token of automation {}: {e}", a.id)),
        })?;
        let url = crate::upstream_policy::join(&base, path);
        let timeout = state.config.upstream.timeout.as_secs_f64();
        let max = state.config.upstream.max_body_bytes;
        let answer = state.upstream.call(Call { method, url: &url, token: &token, body, max_body: max }).await.map_err(|e| match e {
            CallError::Timeout => ApiError::new(Status::GatewayTimeout, "upstream_timeout", format!("automation `{}` did not answer /{path} within {timeout} s (PORTCULLIS_UPSTREAM_TIMEOUT)", a.name)),
            CallError::Connect(why) => {
                tracing::info!(automation = %a.id, error = %why, "could not connect to an automation");
                ApiError::new(Status::BadGateway, "upstream_unreachable", format!("automation `{}` is unreachable at {}: the connection failed; check that it is running and that upstream_url is right", a.name, a.upstream_url))
            }
            CallError::TooLarge(max) => ApiError::new(Status::BadGateway, "upstream_too_large", format!("automation `{}` answered /{path} with more than {max} bytes (PORTCULLIS_UPSTREAM_MAX_BODY_BYTES)", a.name)),
            CallError::Failed(why) => {
                tracing::info!(automation = %a.id, error = %why, "a call to an automation failed");
                ApiError::new(Status::BadGateway, "upstream_failed", format!("the call to automation `{}` (/{path}) failed before a complete answer came", a.name))
            }
        })?;
        let (status, buf) = (answer.status, answer.body);
        if matches!(status.as_u16(), 401 | 403) {
            return Err(ApiError::new(Status::BadGateway, "upstream_rejected_token", format!("automation `{}` refused Portcullis's token (it answered {status}); update it with PATCH /api/v1/automations/{} and a new upstream_token", a.name, a.id)));
        }
        if status.as_u16() == 404 && path.starts_with("status/") {
            return Err(ApiError::new(Status::NotFound, "not_found", format!("automation `{}` knows no such kickoff", a.name)));
        }
        if !status.is_success() {
            return Err(ApiError::new(Status::BadGateway, "upstream_error", format!("automation `{}` answered {status} to /{path}", a.name)));
        }
        let json = serde_json::from_slice(&buf).map_err(|_| {
            ApiError::new(Status::BadGateway, "upstream_invalid", format!("automation `{}` answered /{path} with something that is not JSON", a.name))
        })?;
        Ok(Upstream { json, latency_ms: elapsed(started) })
    }
    .await;
    let call = match path.split('/').next() {
        Some("kickoff") => "kickoff",
        Some("inputs") => "inputs",
        Some("status") => "status",
        _ => "other",
    };
    // A kickoff the automation does not know (404 on status) is an answer, not an upstream error.
    let error = result.as_ref().err().map(|e| e.code).filter(|c| *c != "not_found");
    crate::telemetry::upstream_call(a.id, call, started.elapsed().as_secs_f64(), error);
    (result, elapsed(started))
}

fn record(state: &AppState, scope: &OrgScope, a: &Automation, kind: &str, ok: bool, latency: i64) {
    let mut e = event(kind, state.clock.now());
    e.org_id = Some(scope.org.id);
    e.automation_id = Some(a.id);
    e.user_id = Some(scope.caller.ctx.user.id);
    e.success = Some(ok);
    e.latency_ms = Some(latency);
    e.latency_bucket = Some(latency_bucket(latency));
    state.usage.record(e.clone());
    if !ok {
        state.usage.record(portcullis_storage::UsageEvent { kind: "upstream_error".into(), latency_bucket: None, ..e });
    }
}

/// `GET /api/v1/automations/{id}/inputs` (needs `run`).
pub async fn inputs(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(fetch_inputs(&state, &scope, &id).await?))
}

/// What the automation says its inputs are (needs `run`).
pub async fn fetch_inputs(state: &AppState, scope: &OrgScope, id: &str) -> ApiResult<serde_json::Value> {
    let a = load(state, scope, id, AutomationAccess::Run).await?;
    let (r, _) = call(state, &a, Method::GET, "inputs", None).await;
    Ok(r?.json)
}

/// `POST /api/v1/automations/{id}/kickoff` (needs `run`): body
/// `{"inputs": {...}}`, forwarded as is; the execution is recorded.
pub async fn kickoff(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>, body: Body) -> ApiResult<axum::Json<serde_json::Value>> {
    let max = state.config.upstream.max_body_bytes;
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(Status::PayloadTooLarge, "body_too_large", format!("the kickoff body is larger than {max} bytes (PORTCULLIS_UPSTREAM_MAX_BODY_BYTES)"))
    })?;
    Ok(axum::Json(start_run(&state, &scope, &id, bytes).await?))
}

/// Kicks the automation off with `bytes` (`{"inputs": {...}}`) and records
/// the execution (needs `run`); the API's kickoff and the kickoff form.
pub async fn start_run(state: &AppState, scope: &OrgScope, id: &str, bytes: Bytes) -> ApiResult<serde_json::Value> {
    let a = load(state, scope, id, AutomationAccess::Run).await?;
    let max = state.config.upstream.max_body_bytes;
    if bytes.len() > max {
        return Err(ApiError::new(Status::PayloadTooLarge, "body_too_large", format!("the kickoff body is larger than {max} bytes (PORTCULLIS_UPSTREAM_MAX_BODY_BYTES)")));
    }
    let parsed: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("the kickoff body is not JSON ({e}); send {{\"inputs\": {{...}}}}")))?;
    if !parsed.get("inputs").is_some_and(|i| i.is_object()) {
        return Err(ApiError::bad_request("invalid_body", "the kickoff body must be {\"inputs\": {...}} with an object of input names and values"));
    }
    let started = state.clock.now();
    let (r, latency) = call(state, &a, Method::POST, "kickoff", Some(bytes.clone())).await;
    // One write per kickoff, once the outcome is known.
    let mut exec = Execution {
        // Time-ordered (RFC 9562 §5.7), so that a busy proxy appends to the
        // primary key's index instead of writing random pages of it.
        id: uuid::Uuid::now_v7(),
        automation_id: a.id,
        org_id: scope.org.id,
        user_id: Some(scope.caller.ctx.user.id),
        started_at: started,
        inputs_bytes: bytes.len() as i64,
        kickoff_id: None,
        state: "failed".into(),
        upstream_latency_ms: Some(latency),
        error: None,
        updated_at: state.clock.now(),
    };
    match r {
        Ok(up) => {
            exec.kickoff_id = up.json.get("kickoff_id").and_then(|k| k.as_str()).filter(|k| valid_kickoff_id(k)).map(str::to_owned);
            exec.upstream_latency_ms = Some(up.latency_ms);
            match exec.kickoff_id {
                Some(_) => exec.state = "running".into(),
                None => exec.error = Some("the automation answered without a valid kickoff_id".into()),
            }
            let ok = exec.kickoff_id.is_some();
            state.usage.execution(ExecutionOp::Insert(exec)).await;
            record(state, scope, &a, "kickoff", ok, up.latency_ms);
            Ok(up.json)
        }
        Err(e) => {
            exec.error = Some(e.message.clone());
            state.usage.execution(ExecutionOp::Insert(exec)).await;
            record(state, scope, &a, "kickoff", false, latency);
            Err(e)
        }
    }
}

/// Kickoff ids go into the upstream URL's path: letters, digits, `-` and `_` only.
fn valid_kickoff_id(k: &str) -> bool {
    !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /api/v1/automations/{id}/status/{kickoff_id}` (needs `traces`).
pub async fn status(State(state): State<AppState>, scope: OrgScope, Path((id, kickoff_id)): Path<(String, String)>) -> ApiResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(run_status(&state, &scope, &id, &kickoff_id).await?))
}

/// A run's state as the automation reports it, recorded (needs `traces`).
pub async fn run_status(state: &AppState, scope: &OrgScope, id: &str, kickoff_id: &str) -> ApiResult<serde_json::Value> {
    let a = load(state, scope, id, AutomationAccess::Traces).await?;
    if !valid_kickoff_id(kickoff_id) {
        return Err(ApiError::bad_request("invalid_kickoff_id", "a kickoff id has 1 to 128 letters, digits, `-` or `_`"));
    }
    let (r, _) = call(state, &a, Method::GET, &format!("status/{kickoff_id}"), None).await;
    let up = r?;
    if let Some(st) = up.json.get("state").or_else(|| up.json.get("status")).and_then(|s| s.as_str()) {
        let st: String = st.chars().take(64).collect();
        state.usage.execution(ExecutionOp::State { automation_id: a.id, kickoff_id: kickoff_id.to_owned(), state: st, at: state.clock.now() }).await;
    }
    Ok(up.json)
}

/// `GET /api/v1/automations/{id}/executions?limit=` (needs `traces`).
pub async fn executions(
    State(state): State<AppState>,
    scope: OrgScope,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<axum::Json<Vec<api::ExecutionInfo>>> {
    let limit = match q.get("limit") {
        None => 100,
        Some(v) => v.parse::<i64>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| ApiError::bad_request("invalid_query", format!("limit: `{v}` is not a number from 1 to 1000")))?,
    };
    let list = runs(&state, &scope, &id, limit).await?;
    Ok(axum::Json(list.iter().map(convert::execution).collect()))
}

/// The automation's latest `limit` executions, newest first (needs `traces`).
pub async fn runs(state: &AppState, scope: &OrgScope, id: &str, limit: i64) -> ApiResult<Vec<Execution>> {
    let a = load(state, scope, id, AutomationAccess::Traces).await?;
    // Read what this replica has recorded so far.
    state.usage.flush().await;
    Ok(state.store.list_executions(a.id, limit).await?)
}
