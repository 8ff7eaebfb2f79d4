//! Password hashing with argon2id (RFC 9106), off the async executor and
//! bounded: each hash takes 19 MiB and a core for tens of milliseconds, so
//! hashes run on a pool of one thread per core (a semaphore sized to the
//! machine, in effect), and a bounded number wait in its queue. Past that,
//! a request is told the server is busy rather than queued without end.
//!
//! A pool of its own rather than tokio's blocking pool: that pool grows to
//! 512 threads, and each thread that ran a hash keeps its 19 MiB in its own
//! malloc arena afterwards, so even one hash at a time would, over a flood,
//! leave hundreds of MiB behind. A fixed set of threads keeps at most one
//! hash's memory per core.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// How many hashes may wait per core before new ones are refused.
const WAITING_PER_CORE: usize = 32;

/// Hashing was refused because too many are waiting already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked right now; try again in a few seconds")]
pub struct Busy;

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords. Holds a hash of a random password so that
/// a sign-in for an unknown account costs the same time as a real one.
pub struct Passwords {
    dummy_hash: String,
    queue: SyncSender<Job>,
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// Sized to the machine: one hashing thread per core.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self::with_capacity(cores, cores * WAITING_PER_CORE)
    }

    /// `threads` hashing at a time, at most `waiting` more in the queue.
    pub fn with_capacity(threads: usize, waiting: usize) -> Self {
        let (queue, jobs) = sync_channel::<Job>(waiting);
        let jobs: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(jobs));
        for i in 0..threads.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || loop {
                    // The lock is held only to take the next job.
                    let job = match jobs.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // the server is shutting down
                    }
                })
                .expect("a password hashing thread");
        }
        let dummy_hash = hash_blocking(&crate::keys::random_token()).expect("argon2 with default parameters");
        Self { dummy_hash, queue }
    }

    /// Runs `f` on the hashing pool, or refuses when its queue is full.
    async fn bounded<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.queue.try_send(job) {
            Ok(()) => rx.await.map_err(|_| Busy),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(Busy),
        }
    }

    /// PHC string of the argon2id hash (default parameters: 19 MiB, 2 passes).
    pub async fn hash(&self, password: String) -> Result<String, String> {
        self.bounded(move || hash_blocking(&password)).await.map_err(|b| b.to_string())?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is none (and then always answers false).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Busy> {
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let ok = self
            .bounded(move || PasswordHash::new(&hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false))
            .await?;
        Ok(ok && real)
    }
}

fn hash_blocking(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let p = Passwords::new();
        let h = p.hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!p.verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!p.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_waiting_room_hashes_are_refused_not_queued() {
        let p = std::sync::Arc::new(Passwords::with_capacity(1, 3));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let p = p.clone();
            tasks.push(tokio::spawn(async move { p.verify("x".into(), None).await }));
        }
        let mut busy = 0;
        for t in tasks {
            if t.await.unwrap() == Err(Busy) {
                busy += 1;
            }
        }
        assert!(busy >= 12 - 1 - 3 - 2, "{busy} of 12 refused; at most 1 may run and 3 wait at once");
        // The pool is free again afterwards.
        assert!(!p.verify("x".into(), None).await.unwrap());
    }
}
