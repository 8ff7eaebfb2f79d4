//! Password hashing with argon2id (RFC 9106), off the async executor and
//! bounded: each hash takes 19 MiB and a core for tens of milliseconds, so
//! hashes run on a pool of one thread per core (a semaphore sized to the
//! machine, in effect), and a bounded number wait in its queue. Past that,
//! a request is told the server is busy rather than queued without end.
//!
//! A pool of its own rather than tokio's blocking pool: that pool grows to
//! 512 threads, and each thread that ran a hash keeps its 19 MiB in its own
//! malloc arena afterwards, so even one hash at a time would, over a flood,
//! leave hundreds of MiB behind.
//!
//! Each hashing thread also keeps one Argon2 block buffer for its whole life
//! (RFC 9106 §3.2: the memory the hash fills) and hands it to
//! `hash_password_into_with_memory`, instead of letting the crate allocate
//! and free 19 MiB per hash. Freed blocks that size go back to the operating
//! system and come back on the next sign-in, so resident memory swung by
//! tens of MiB under sign-in load (the soak in docs/benchmarks.md); with the
//! buffer kept it is flat at one buffer per core. The PHC string is still
//! parsed, produced and compared by the `password-hash` crate, whose
//! `Output` compares in constant time.

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
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
        // The dummy is hashed on the pool too, so that no other thread keeps a buffer.
        let (tx, rx) = std::sync::mpsc::channel();
        let password = crate::keys::random_token();
        queue
            .send(Box::new(move || {
                let _ = tx.send(hash_blocking(&password));
            }))
            .expect("the password hashing pool");
        let dummy_hash = rx.recv().expect("the password hashing pool").expect("argon2 with default parameters");
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
            .bounded(move || PasswordHash::new(&hash).map(|h| verify_blocking(password.as_bytes(), &h)).unwrap_or(false))
            .await?;
        Ok(ok && real)
    }
}

/// The largest Argon2 memory a stored hash may ask for (256 MiB): a
/// corrupted or hostile hash must not make a hashing thread allocate without bound.
const MAX_BLOCKS: usize = 256 * 1024;

thread_local! {
    /// This thread's Argon2 block buffer, kept between hashes (see the module docs).
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `count` blocks of this thread's buffer, growing it once if needed.
fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    BLOCKS.with(|b| {
        let mut blocks = b.borrow_mut();
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        f(&mut blocks[..count])
    })
}

/// Hashes with the default parameters (argon2id, 19 MiB, 2 passes, 1 lane:
/// OWASP's first recommendation) and a fresh 16-byte salt.
fn hash_blocking(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let ctx = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes).map_err(|e| e.to_string())?;
    let output = with_blocks(params.block_count(), |blocks| {
        Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| ctx.hash_password_into_with_memory(password.as_bytes(), salt_raw, out, blocks).map_err(Into::into))
    })
    .map_err(|e| e.to_string())?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Recomputes `hash` for `password` with the hash's own algorithm, version,
/// parameters and salt, and compares in constant time. Anything unreadable
/// in the stored hash fails closed.
fn verify_blocking(password: &[u8], hash: &PasswordHash<'_>) -> bool {
    let (Some(expected), Some(salt)) = (hash.hash, hash.salt) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(hash.algorithm), Params::try_from(hash)) else { return false };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    if params.block_count() > MAX_BLOCKS {
        tracing::error!(memory_kib = params.m_cost(), "a stored password hash asks for more Argon2 memory than allowed; refused");
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else { return false };
    let ctx = Argon2::new(algorithm, version, params.clone());
    let computed = with_blocks(params.block_count(), |blocks| {
        Output::init_with(expected.len(), |out| ctx.hash_password_into_with_memory(password, salt_raw, out, blocks).map_err(Into::into))
    });
    computed.map(|c| c == expected).unwrap_or(false)
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

    /// Hashes stored before the kept buffer (by the crate's own hasher) still
    /// verify, and the new ones verify with the crate's own verifier.
    #[tokio::test]
    async fn the_phc_strings_are_the_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let p = Passwords::new();
        let salt = SaltString::generate(&mut OsRng);
        let old = Argon2::default().hash_password(b"old password", &salt).unwrap().to_string();
        assert!(p.verify("old password".into(), Some(old.clone())).await.unwrap());
        assert!(!p.verify("old passwore".into(), Some(old)).await.unwrap());
        // Other parameters (an older cost, another variant) are read from the hash.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(8 * 1024, 3, 1, None).unwrap());
        let other = argon2i.hash_password(b"other", &salt).unwrap().to_string();
        assert!(p.verify("other".into(), Some(other)).await.unwrap());
        let new = p.hash("new password".into()).await.unwrap();
        assert!(Argon2::default().verify_password(b"new password", &PasswordHash::new(&new).unwrap()).is_ok());
        assert_eq!(PasswordHash::new(&new).unwrap().params.get_decimal("m"), Some(Params::DEFAULT_M_COST));
    }

    #[tokio::test]
    async fn a_hash_asking_for_unbounded_memory_is_refused() {
        let p = Passwords::new();
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(PasswordHash::new(huge).is_ok());
        assert!(!p.verify("x".into(), Some(huge.into())).await.unwrap());
        assert!(!p.verify("x".into(), Some("$argon2id$v=19$garbage".into())).await.unwrap());
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
