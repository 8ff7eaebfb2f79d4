//! Writing to the audit log.

use crate::request_id;
use crate::state::AppState;
use portcullis_domain::{OrgId, UserId};
use portcullis_storage::AuditEvent;

/// One audit entry, before it is stamped with time and request id.
pub struct Entry {
    pub action: &'static str,
    pub success: bool,
    pub org_id: Option<OrgId>,
    pub actor: Option<(UserId, String)>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

impl Entry {
    pub fn new(action: &'static str, success: bool) -> Self {
        Self { action, success, org_id: None, actor: None, target: None, ip: None, detail: serde_json::json!({}) }
    }
    pub fn org(mut self, org: OrgId) -> Self {
        self.org_id = Some(org);
        self
    }
    pub fn actor(mut self, id: UserId, label: &str) -> Self {
        self.actor = Some((id, label.to_owned()));
        self
    }
    pub fn target(mut self, t: impl Into<String>) -> Self {
        self.target = Some(t.into());
        self
    }
    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }
    pub fn detail(mut self, d: serde_json::Value) -> Self {
        self.detail = d;
        self
    }
}

/// Appends the entry. A failure to write is logged loudly but does not fail
/// the request that caused it.
pub async fn record(state: &AppState, e: Entry) {
    let rid = request_id::current();
    let event = AuditEvent {
        id: uuid::Uuid::new_v4(),
        at: state.clock.now(),
        org_id: e.org_id,
        actor_id: e.actor.as_ref().map(|a| a.0),
        actor: e.actor.map(|a| a.1),
        action: e.action.to_owned(),
        target: e.target,
        outcome: if e.success { "success" } else { "failure" }.to_owned(),
        ip: e.ip,
        request_id: (!rid.is_empty()).then_some(rid),
        detail: e.detail,
    };
    tracing::info!(action = %event.action, outcome = %event.outcome, target = ?event.target, actor = ?event.actor, "audit");
    match state.store.append_audit(&event).await {
        Ok(()) => {}
        // The database is away: the entry is kept and written when it is
        // back, so that an outage loses no audit entry.
        Err(err) if err.is_unavailable() => keep_until_stored(state.store.clone(), event),
        Err(err) => tracing::error!(error = %err, action = %event.action, "could not write the audit log"),
    }
}

/// Entries waiting for the database, at most [`MAX_PENDING`].
static PENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const MAX_PENDING: usize = 100_000;

fn keep_until_stored(store: std::sync::Arc<dyn portcullis_storage::Store>, event: AuditEvent) {
    use std::sync::atomic::Ordering;
    if PENDING.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
        PENDING.fetch_sub(1, Ordering::Relaxed);
        tracing::error!(action = %event.action, "could not write the audit log: the database is unreachable and {MAX_PENDING} entries already wait for it");
        return;
    }
    tracing::warn!(action = %event.action, "database unreachable: the audit entry waits until it is back");
    tokio::spawn(async move {
        let mut wait = std::time::Duration::from_millis(100);
        loop {
            tokio::time::sleep(wait).await;
            match store.append_audit(&event).await {
                Err(e) if e.is_unavailable() => wait = (wait * 2).min(std::time::Duration::from_secs(2)),
                Err(e) => {
                    tracing::error!(error = %e, action = %event.action, "could not write the audit log");
                    break;
                }
                Ok(()) => break,
            }
        }
        PENDING.fetch_sub(1, Ordering::Relaxed);
    });
}
