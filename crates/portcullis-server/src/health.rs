//! Periodic health checks of every automation's `GET /`.

use crate::upstream_client::{Call, CallError};
use crate::upstream_policy::TargetProblem;
use hyper::Method;
use crate::state::AppState;
use portcullis_storage::Automation;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Checks one automation and stores the result.
pub async fn check(state: &AppState, a: &Automation) {
    let (health, reason) = probe(state, a).await;
    if let Err(e) = state.store.update_health(a.id, health, reason.as_deref(), state.clock.now()).await {
        tracing::warn!(automation = %a.id, error = %e, "could not store a health result");
    }
    state.automations.evict(&a.id);
}

async fn probe(state: &AppState, a: &Automation) -> (&'static str, Option<String>) {
    // The same checks as the kickoff proxy, at every call: the host policy
    // as it stands now, and a token that opens only for this origin.
    let (base, token) = match crate::upstream_policy::target(&state.config.upstream.hosts, &state.sealer, a) {
        Ok(t) => t,
        Err(TargetProblem::NoToken) => return ("unhealthy", Some("no upstream token is set".into())),
        Err(TargetProblem::NotAllowed(why)) => return ("unhealthy", Some(format!("not called: {why}"))),
        Err(TargetProblem::TokenUnusable(e)) => return ("unhealthy", Some(format!("the stored token does not open: {e}"))),
    };
    let url = crate::upstream_policy::join(&base, "");
    // The answer itself is not needed: 4 KiB is plenty for a status page.
    let call = Call { method: Method::GET, url: &url, token: &token, body: None, max_body: 4096 };
    match state.upstream.call(call).await {
        Ok(r) if r.status.is_success() => ("healthy", None),
        Ok(r) => ("unhealthy", Some(format!("GET / answered {}", r.status))),
        Err(CallError::Timeout) => ("unhealthy", Some("GET / timed out".into())),
        Err(CallError::Connect(_)) => ("unhealthy", Some("connection failed".into())),
        Err(CallError::TooLarge(_)) => ("healthy", None),
        Err(CallError::Failed(_)) => ("unhealthy", Some("the request failed".into())),
    }
}

/// Checks every automation, at most 16 at a time.
pub async fn check_all(state: &AppState) {
    let automations = match state.store.list_all_automations().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "health checks: could not list automations");
            return;
        }
    };
    let limit = Arc::new(Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for a in automations {
        let state = state.clone();
        let permit = limit.clone().acquire_owned().await.expect("semaphore open");
        tasks.spawn(async move {
            check(&state, &a).await;
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Runs [`check_all`] every `PORTCULLIS_HEALTH_CHECK_INTERVAL`.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.health_check_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            check_all(&state).await;
        }
    });
}
