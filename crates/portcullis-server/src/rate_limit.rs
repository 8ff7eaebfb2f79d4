//! A per-replica fixed-window counter, for limits where an exact count
//! across replicas is not needed (device-code requests per address, wrong
//! user codes per account): an attacker spread over N replicas gets N times
//! the limit, which still keeps a 20^8 code space out of reach.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct WindowLimiter {
    limit: u32,
    window: Duration,
    max_keys: usize,
    counts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window, max_keys: 100_000, counts: Mutex::new(HashMap::new()) }
    }

    /// Counts one event for `key`; `Err(retry_after)` when the limit was
    /// already reached in the current window.
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        let mut map = self.counts.lock().expect("limiter lock");
        let now = Instant::now();
        if map.len() >= self.max_keys {
            let w = self.window;
            map.retain(|_, (_, start)| now.duration_since(*start) < w);
        }
        let entry = map.entry(key.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        if entry.0 >= self.limit {
            return Err(self.window.saturating_sub(now.duration_since(entry.1)));
        }
        entry.0 += 1;
        Ok(())
    }

    /// Whether `key` is over its limit, without counting.
    pub fn blocked(&self, key: &str) -> Option<Duration> {
        let map = self.counts.lock().expect("limiter lock");
        let (n, start) = map.get(key)?;
        let left = self.window.checked_sub(start.elapsed())?;
        (*n >= self.limit).then_some(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_within_the_window() {
        let l = WindowLimiter::new(2, Duration::from_secs(60));
        assert!(l.hit("a").is_ok());
        assert!(l.blocked("a").is_none());
        assert!(l.hit("a").is_ok());
        assert!(l.blocked("a").is_some());
        let retry = l.hit("a").unwrap_err();
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(50));
        assert!(l.hit("b").is_ok(), "keys are counted apart");
        let short = WindowLimiter::new(1, Duration::from_millis(1));
        assert!(short.hit("a").is_ok());
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.hit("a").is_ok(), "a new window starts afresh");
    }
}
