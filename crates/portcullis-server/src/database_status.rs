//! Whether this replica's database is reachable, as far as it has seen: a
//! circuit breaker for the caches' `stale-if-error` path
//! ([`crate::cache::TtlCache::get_stale`]).
//!
//! Once a lookup finds the database unreachable, the replica stops asking
//! it for what its caches still hold (each attempt would wait for the
//! pool's acquire timeout) and serves those entries at once; one probe
//! pings the database every 200 ms and closes the breaker as soon as it
//! answers, so that everything reads fresh again within a fraction of a
//! second of its return. Requests that need the database still try it and
//! answer 503 `database_unavailable` when it is away.

use portcullis_storage::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Put on a response by the error layer when the database was unreachable.
#[derive(Clone, Copy, Debug)]
pub struct Unreachable;

/// Middleware: any answer that found the database unreachable opens the
/// breaker, so that the next cached lookups do not wait for it.
pub fn watch(state: &crate::state::AppState, resp: axum::response::Response) -> axum::response::Response {
    if resp.extensions().get::<Unreachable>().is_some() {
        state.database.mark_down(state.store.clone());
    }
    resp
}

#[derive(Default)]
pub struct DatabaseStatus {
    down: AtomicBool,
    probing: AtomicBool,
}

impl DatabaseStatus {
    /// Whether the database was last seen unreachable.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Records that the database did not answer, and starts the probe.
    pub fn mark_down(self: &Arc<Self>, store: Arc<dyn Store>) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!("the database is unreachable: serving what the caches hold, 503 for the rest");
        }
        if self.probing.swap(true, Ordering::Relaxed) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if store.ping().await.is_ok() {
                    me.down.store(false, Ordering::Relaxed);
                    me.probing.store(false, Ordering::Relaxed);
                    tracing::info!("the database answers again");
                    return;
                }
            }
        });
    }
}
