//! Recording usage events and executions without slowing requests down, and
//! the latency histogram usage is summarised with.
//!
//! Handlers hand records to a bounded channel; one task writes them in
//! batches, in order, in one transaction each (with the roll-ups). So the
//! kickoff path has no synchronous database write, and SQLite sees one
//! writer instead of many competing for its lock. Usage events are dropped
//! (and counted in the log) when the channel is full rather than making a
//! request wait; executions are never dropped: their sender waits.

use portcullis_domain::Timestamp;
use portcullis_storage::{ExecutionOp, Store, UsageEvent};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

enum Msg {
    Event(UsageEvent),
    Execution(ExecutionOp),
    Flush(oneshot::Sender<()>),
}

/// Latency histogram buckets: four per doubling (about ±10 %), so that
/// percentiles over any period can be computed from hourly counts.
pub fn latency_bucket(ms: i64) -> i64 {
    ((ms.max(0) as f64 + 1.0).log2() * 4.0).floor() as i64
}

/// The upper bound (ms) of a bucket: what a percentile falling in it is reported as.
pub fn bucket_upper_ms(bucket: i64) -> f64 {
    (2f64.powf((bucket + 1) as f64 / 4.0) - 1.0).max(0.0)
}

#[derive(Clone)]
pub struct UsageRecorder {
    tx: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl UsageRecorder {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Msg>(10_000);
        let dropped = Arc::new(AtomicU64::new(0));
        let dropped_w = dropped.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(500);
            let mut execs: Vec<ExecutionOp> = Vec::new();
            let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
            loop {
                let first = match rx.recv().await {
                    Some(m) => m,
                    None => break,
                };
                let take = |m: Msg, batch: &mut Vec<UsageEvent>, execs: &mut Vec<ExecutionOp>, waiters: &mut Vec<oneshot::Sender<()>>| match m {
                    Msg::Event(e) => batch.push(e),
                    Msg::Execution(x) => execs.push(x),
                    Msg::Flush(w) => waiters.push(w),
                };
                take(first, &mut batch, &mut execs, &mut waiters);
                // Take what is queued (up to 1000 records); when that is
                // less than a batch, sleep through a short window and take
                // what arrived meanwhile, so that a busy kickoff path wakes
                // this task once per batch, not once per record. A backlog
                // is written without waiting, and a flush goes at once.
                let mut drain = |batch: &mut Vec<UsageEvent>, execs: &mut Vec<ExecutionOp>, waiters: &mut Vec<oneshot::Sender<()>>| {
                    while batch.len() + execs.len() < 1000 {
                        match rx.try_recv() {
                            Ok(m) => take(m, batch, execs, waiters),
                            Err(_) => break,
                        }
                    }
                };
                drain(&mut batch, &mut execs, &mut waiters);
                if batch.len() + execs.len() < 1000 && waiters.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    drain(&mut batch, &mut execs, &mut waiters);
                }
                if !batch.is_empty() || !execs.is_empty() {
                    write_until_stored(store.as_ref(), &batch, &execs).await;
                    batch.clear();
                    execs.clear();
                }
                let d = dropped_w.swap(0, Ordering::Relaxed);
                if d > 0 {
                    tracing::warn!(dropped = d, "usage events dropped: the recorder could not keep up");
                }
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
            }
        });
        Self { tx, dropped }
    }

    /// Records a usage event; dropped (and counted) when the queue is full.
    pub fn record(&self, e: UsageEvent) {
        if self.tx.try_send(Msg::Event(e)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues an execution change; waits for room rather than dropping it.
    pub async fn execution(&self, op: ExecutionOp) {
        if self.tx.send(Msg::Execution(op)).await.is_err() {
            tracing::error!("the execution recorder has stopped");
        }
    }

    /// Waits until everything recorded so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Writes one batch. While the database is unreachable the batch is kept
/// and retried (backing off from 100 ms to 2 s), so that an outage loses no
/// execution or usage record: new records wait in the queue meanwhile
/// (10,000 places; executions wait for room, usage events beyond it are
/// dropped and counted). Any other failure is logged and the batch dropped,
/// as retrying could not help.
async fn write_until_stored(store: &dyn Store, batch: &[UsageEvent], execs: &[ExecutionOp]) {
    let mut wait = Duration::from_millis(100);
    let mut logged = false;
    loop {
        match store.append_usage_batch(batch, execs).await {
            Ok(()) => {
                if logged {
                    tracing::info!(events = batch.len(), executions = execs.len(), "usage events and executions recorded after the database came back");
                }
                return;
            }
            Err(e) if e.is_unavailable() => {
                if !logged {
                    tracing::warn!(error = %e, events = batch.len(), executions = execs.len(), "database unreachable: keeping usage events and executions until it is back");
                    logged = true;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), executions = execs.len(), "could not record usage events and executions");
                return;
            }
        }
    }
}

/// Records a sign-in attempt for each organization the user belongs to
/// (installation-wide when the account is unknown).
pub async fn record_signin(store: &dyn Store, recorder: &UsageRecorder, at: Timestamp, user: Option<portcullis_domain::UserId>, provider: &str, success: bool) {
    let orgs = match user {
        Some(u) => store.list_memberships(u).await.map(|ms| ms.into_iter().map(|m| Some(m.org.id)).collect()).unwrap_or_default(),
        None => vec![],
    };
    let orgs = if orgs.is_empty() { vec![None] } else { orgs };
    for org in orgs {
        let mut e = event("signin", at);
        e.org_id = org;
        e.user_id = user;
        e.provider = Some(provider.to_owned());
        e.success = Some(success);
        recorder.record(e);
    }
}

/// An event with nothing but its kind and time set.
pub fn event(kind: &str, at: Timestamp) -> UsageEvent {
    UsageEvent {
        at,
        org_id: None,
        kind: kind.to_owned(),
        provider: None,
        success: None,
        automation_id: None,
        user_id: None,
        latency_ms: None,
        latency_bucket: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bound_their_values() {
        let mut last = -1;
        for ms in [0, 1, 2, 3, 5, 10, 50, 100, 250, 1000, 30_000] {
            let b = latency_bucket(ms);
            assert!(b >= last);
            last = b;
            assert!(bucket_upper_ms(b) >= ms as f64, "{ms} > upper of {b}");
            assert!(bucket_upper_ms(b) <= (ms as f64 + 1.0) * 1.19 + 1.0, "{ms}: {}", bucket_upper_ms(b));
        }
    }
}
