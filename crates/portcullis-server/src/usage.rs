//! Recording usage events and executions without slowing requests down, and
//! the latency histogram usage is summarised with.
//!
//! One task writes everything, in batches of one transaction each (with the
//! roll-ups), so the kickoff path has no synchronous database write and
//! SQLite sees one writer instead of many competing for its lock.
//! - Executions go through a bounded channel, in order; when it is full
//!   their sender waits, so none is ever dropped.
//! - Usage events never wait and are never dropped: they are merged as they
//!   arrive into counts per hour and key (what the roll-ups keep anyway), so
//!   what waits for the writer grows with the variety of the traffic, not its
//!   volume: a flood of API calls, or an hour-long database outage, is a
//!   few thousand counters. Sign-ins and upstream errors, which are also
//!   kept as rows, wait one by one up to [`ROWS_WAITING`], and are merged
//!   past that (their counts stay exact).

use portcullis_domain::{AutomationId, OrgId, Timestamp, UserId};
use portcullis_storage::{ExecutionOp, Store, UsageEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// How many events kept as rows may wait one by one before they are merged.
pub const ROWS_WAITING: usize = 100_000;

/// The smallest roll-up period: merged events are counted per hour.
const HOUR_MS: i64 = 3_600_000;

enum Msg {
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

/// Everything of an event the roll-ups read, with its time cut to the hour.
#[derive(Clone, PartialEq, Eq, Hash)]
struct MergeKey {
    hour: i64,
    org: Option<OrgId>,
    kind: String,
    provider: Option<String>,
    success: Option<bool>,
    automation: Option<AutomationId>,
    user: Option<UserId>,
    bucket: Option<i64>,
}

/// Usage events waiting for the writer.
#[derive(Default)]
struct Waiting {
    merged: HashMap<MergeKey, i64>,
    rows: Vec<UsageEvent>,
    /// Events kept as rows that were merged because too many waited.
    rows_merged: u64,
}

impl Waiting {
    fn is_empty(&self) -> bool {
        self.merged.is_empty() && self.rows.is_empty()
    }

    fn add(&mut self, e: UsageEvent) {
        if e.kept_as_row() && self.rows.len() < ROWS_WAITING {
            self.rows.push(e);
            return;
        }
        if e.kept_as_row() {
            self.rows_merged += e.count as u64;
        }
        let key = MergeKey {
            hour: e.at.0.div_euclid(HOUR_MS) * HOUR_MS,
            org: e.org_id,
            kind: e.kind,
            provider: e.provider,
            success: e.success,
            automation: e.automation_id,
            user: e.user_id,
            bucket: e.latency_bucket,
        };
        *self.merged.entry(key).or_default() += e.count;
    }

    /// The events to write: the rows, then one record per merged key.
    fn into_events(self) -> Vec<UsageEvent> {
        let mut out = self.rows;
        out.extend(self.merged.into_iter().map(|(k, count)| UsageEvent {
            at: Timestamp(k.hour),
            org_id: k.org,
            kind: k.kind,
            provider: k.provider,
            success: k.success,
            automation_id: k.automation,
            user_id: k.user,
            latency_ms: None,
            latency_bucket: k.bucket,
            count,
        }));
        out
    }
}

#[derive(Clone)]
pub struct UsageRecorder {
    tx: mpsc::Sender<Msg>,
    waiting: Arc<Mutex<Waiting>>,
    wake: Arc<Notify>,
}

impl UsageRecorder {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Msg>(10_000);
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        let wake = Arc::new(Notify::new());
        let (waiting_w, wake_w) = (waiting.clone(), wake.clone());
        tokio::spawn(async move {
            let mut execs: Vec<ExecutionOp> = Vec::new();
            let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
            let mut open = true;
            while open {
                let take = |m: Msg, execs: &mut Vec<ExecutionOp>, waiters: &mut Vec<oneshot::Sender<()>>| match m {
                    Msg::Execution(x) => execs.push(x),
                    Msg::Flush(w) => waiters.push(w),
                };
                tokio::select! {
                    m = rx.recv() => match m {
                        Some(m) => take(m, &mut execs, &mut waiters),
                        None => open = false, // every recorder is gone: write what waits, then stop
                    },
                    _ = wake_w.notified() => {}
                }
                // Take what is queued (up to 1000 executions); when that is
                // less, sleep through a short window and take what arrived
                // meanwhile, so that a busy kickoff path wakes this task once
                // per batch, not once per record. A backlog is written
                // without waiting, and a flush goes at once.
                let mut drain = |execs: &mut Vec<ExecutionOp>, waiters: &mut Vec<oneshot::Sender<()>>| {
                    while execs.len() < 1000 {
                        match rx.try_recv() {
                            Ok(m) => take(m, execs, waiters),
                            Err(_) => break,
                        }
                    }
                };
                drain(&mut execs, &mut waiters);
                if open && execs.len() < 1000 && waiters.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    drain(&mut execs, &mut waiters);
                }
                let taken = std::mem::take(&mut *waiting_w.lock().unwrap_or_else(|p| p.into_inner()));
                if taken.rows_merged > 0 {
                    tracing::warn!(
                        merged = taken.rows_merged,
                        "sign-in and upstream-error events were waiting past {ROWS_WAITING}: the rest were merged per hour (their counts are exact)"
                    );
                }
                let batch = taken.into_events();
                if !batch.is_empty() || !execs.is_empty() {
                    write_until_stored(store.as_ref(), &batch, &execs).await;
                    execs.clear();
                }
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
            }
        });
        Self { tx, waiting, wake }
    }

    /// Records a usage event. Never waits and never drops it (see the module docs).
    pub fn record(&self, e: UsageEvent) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let was_empty = waiting.is_empty();
        waiting.add(e);
        drop(waiting);
        if was_empty {
            // One wake-up per batch: the writer takes everything that waits.
            self.wake.notify_one();
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
/// (executions in a channel of 10,000 places, waiting for room; usage
/// events merged, see the module docs). Any other failure is logged and the batch dropped,
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
            // Another replica's batch won a lock race: nothing was written, so write it again.
            Err(e) if e.is_contention() => {
                tracing::debug!(error = %e, "usage batch lost a lock race; writing it again");
                tokio::time::sleep(Duration::from_millis(10)).await;
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
        count: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_events_keep_every_count_and_rows_stay_rows() {
        let mut w = Waiting::default();
        let org = OrgId::new();
        for i in 0..10_000 {
            let mut e = event(if i % 2 == 0 { "api_call" } else { "kickoff" }, Timestamp(5 * HOUR_MS + i));
            e.org_id = Some(org);
            e.latency_bucket = (i % 2 == 1).then_some(3);
            w.add(e);
        }
        w.add(event("signin", Timestamp(7)));
        w.add(event("signin", Timestamp(8)));
        assert_eq!(w.merged.len(), 2, "two keys for 10,000 events");
        let events = w.into_events();
        assert_eq!(events.len(), 4);
        assert_eq!(events.iter().filter(|e| e.kind == "signin").map(|e| e.at.0).collect::<Vec<_>>(), vec![7, 8]);
        for kind in ["api_call", "kickoff"] {
            let e = events.iter().find(|e| e.kind == kind).unwrap();
            assert_eq!((e.count, e.at.0), (5_000, 5 * HOUR_MS));
        }
    }

    #[test]
    fn past_the_rows_waiting_rows_are_merged_and_counted() {
        let mut w = Waiting::default();
        for i in 0..(ROWS_WAITING as i64 + 10) {
            w.add(event("upstream_error", Timestamp(i)));
        }
        assert_eq!((w.rows.len(), w.rows_merged), (ROWS_WAITING, 10));
        let total: i64 = w.into_events().iter().map(|e| e.count).sum();
        assert_eq!(total, ROWS_WAITING as i64 + 10);
    }

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
