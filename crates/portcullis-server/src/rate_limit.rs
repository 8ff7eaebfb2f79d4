//! A per-replica fixed-window counter: the first line against floods
//! (device-code requests per address), so that they are turned away in
//! memory before they cost a database write. Limits that must hold across
//! replicas (wrong user codes, password checks) are counted in the database
//! (`LimitStore`).
//!
//! Bounded: at most `max_keys` keys are tracked. Keys are kept in the order
//! their windows started, so expired windows are dropped from the front and,
//! when the map is full, the oldest window is evicted: every hit is O(1)
//! (amortised), whatever the number of keys an attacker makes up. IPv6
//! callers should be keyed by their /64 ([`portcullis_domain::address_key`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Window {
    hits: u32,
    started: Instant,
    /// Which entry of `order` stands for this window.
    seq: u64,
}

struct Inner {
    windows: HashMap<String, Window>,
    /// (key, seq) in the order windows started; entries whose seq no longer
    /// matches the key's window are stale and skipped.
    order: VecDeque<(String, u64)>,
    next_seq: u64,
}

pub struct WindowLimiter {
    limit: u32,
    window: Duration,
    max_keys: usize,
    inner: Mutex<Inner>,
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_max_keys(limit, window, 100_000)
    }

    pub fn with_max_keys(limit: u32, window: Duration, max_keys: usize) -> Self {
        Self {
            limit,
            window,
            max_keys: max_keys.max(1),
            inner: Mutex::new(Inner { windows: HashMap::new(), order: VecDeque::new(), next_seq: 0 }),
        }
    }

    /// Counts one event for `key`; `Err(retry_after)` when the limit was
    /// already reached in the current window.
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut g = self.inner.lock().expect("limiter lock");
        let inner = &mut *g;
        // Drop expired windows (and stale order entries) from the front.
        while let Some((k, seq)) = inner.order.front() {
            let live = inner.windows.get(k).filter(|w| w.seq == *seq);
            match live {
                Some(w) if now.duration_since(w.started) < self.window => break,
                Some(_) => {
                    inner.windows.remove(k);
                    inner.order.pop_front();
                }
                None => {
                    inner.order.pop_front();
                }
            }
        }
        if let Some(w) = inner.windows.get_mut(key) {
            if now.duration_since(w.started) < self.window {
                if w.hits >= self.limit {
                    return Err(self.window.saturating_sub(now.duration_since(w.started)));
                }
                w.hits += 1;
                return Ok(());
            }
        }
        // A new window for `key`: make room by evicting the oldest.
        while inner.windows.len() >= self.max_keys && !inner.windows.contains_key(key) {
            match inner.order.pop_front() {
                Some((k, seq)) => {
                    if inner.windows.get(&k).is_some_and(|w| w.seq == seq) {
                        inner.windows.remove(&k);
                    }
                }
                None => break,
            }
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.windows.insert(key.to_owned(), Window { hits: 1, started: now, seq });
        inner.order.push_back((key.to_owned(), seq));
        // Stale entries are bounded too: compact when they outnumber live ones.
        if inner.order.len() > 2 * self.max_keys {
            let windows = &inner.windows;
            inner.order.retain(|(k, s)| windows.get(k).is_some_and(|w| w.seq == *s));
        }
        Ok(())
    }

    /// How many keys are tracked now.
    pub fn tracked(&self) -> usize {
        self.inner.lock().expect("limiter lock").windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_within_the_window() {
        let l = WindowLimiter::new(2, Duration::from_secs(60));
        assert!(l.hit("a").is_ok());
        assert!(l.hit("a").is_ok());
        let retry = l.hit("a").unwrap_err();
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(50));
        assert!(l.hit("b").is_ok(), "keys are counted apart");
        let short = WindowLimiter::new(1, Duration::from_millis(1));
        assert!(short.hit("a").is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.hit("a").is_ok(), "a new window starts afresh");
    }

    #[test]
    fn many_keys_stay_bounded_and_evict_the_oldest() {
        let l = WindowLimiter::with_max_keys(1, Duration::from_secs(600), 1000);
        assert!(l.hit("victim").is_ok());
        assert!(l.hit("victim").is_err());
        // A flood of made-up keys: the map never grows past its bound...
        for i in 0..200_000 {
            let _ = l.hit(&format!("2001:db8::{i:x}"));
            assert!(l.tracked() <= 1000);
        }
        // ...and the oldest window went first.
        assert!(l.hit("victim").is_ok(), "evicted as the oldest");
        let inner = l.inner.lock().unwrap();
        assert!(inner.order.len() <= 2000, "stale entries are compacted: {}", inner.order.len());
    }
}
