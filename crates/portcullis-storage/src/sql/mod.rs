//! The sqlx implementation of the store, for SQLite and PostgreSQL.
//!
//! One implementation serves both through sqlx's `Any` driver: queries use
//! `$n` placeholders (which both backends accept) and only portable types
//! (TEXT, BIGINT). Only the migrations differ per backend, for triggers.

mod audit;
mod automations;
mod env;
mod group_rules;
mod idp;
mod invitations;
mod limits;
mod notify;
mod oauth;
mod orgs;
mod owners;
mod scim;
mod sessions;
mod usage;
mod users;

pub use notify::Notice;
use crate::{Result, Store, StoreError};
use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The database behind a [`SqlStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend a database URL selects, if any.
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
    /// Its name (`sqlite`, `postgres`).
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The store, over a connection pool.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL's URL, for the listener's own connection (`notify.rs`).
    listen_url: Option<String>,
}

impl std::fmt::Debug for SqlStore {
    // The pool's Debug would print connection options; say only the backend.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("backend", &self.backend).finish_non_exhaustive()
    }
}

static DRIVERS: Once = Once::new();

/// Per-connection SQLite settings: enforce foreign keys, wait for locks
/// instead of failing at once, and use the write-ahead log so that readers
/// never wait for the writer.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
];

impl SqlStore {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://...`).
    /// Does not migrate; call [`SqlStore::migrate`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Corrupt("database URL must start with sqlite: or postgres://".into())
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            // PostgreSQL: a request that cannot get a connection within
            // 1.5 s answers a clear 503 (database_unavailable) rather than
            // hanging while the database is away; every connection busy for
            // that long is overload, shed the same way. SQLite is a local
            // file: waiting longer for its single writer is right.
            .acquire_timeout(match backend {
                Backend::Postgres => Duration::from_millis(1500),
                Backend::Sqlite => Duration::from_secs(10),
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for p in SQLITE_PRAGMAS {
                            conn.execute(*p).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let listen_url = (backend == Backend::Postgres).then(|| url.to_owned());
        Ok(Self { pool, backend, listen_url })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        let m = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        m.run(&self.pool).await.map_err(|e| StoreError::db(sqlx::Error::Migrate(Box::new(e))))
    }

    /// Closes the connection pool.
    pub async fn close(&self) {
        self.pool.close().await
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The `n`th (1-based) bind parameter of a statement built at run time
    /// with many of them: `$n` on PostgreSQL, and on SQLite a plain `?`
    /// (taken in order), because SQLite looks numbered parameters up by
    /// name in a list, once per parameter, which made binding a 1,100-value
    /// multi-row insert quadratic (9 % of the kickoff path's CPU in a profile).
    pub(crate) fn param(&self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// `BEGIN IMMEDIATE`: a deferred transaction that reads first and then
    /// writes fails at once with "database is locked" when another
    /// connection wrote meanwhile (the busy timeout does not apply to that
    /// upgrade), which under parallel requests made correct requests fail.
    /// PostgreSQL locks per row and needs nothing more than `BEGIN`.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
    fn backend(&self) -> Backend {
        self.backend
    }
    async fn publish_invalidation(&self, message: &str) -> Result<()> {
        self.publish(message).await
    }
    async fn subscribe_invalidations(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Notice>>> {
        self.subscribe().await
    }
    fn pool_stats(&self) -> crate::PoolStats {
        crate::PoolStats { size: self.pool.size(), idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX), max: self.pool.options().get_max_connections() }
    }
}

// ---- row decoding helpers -------------------------------------------------

pub(crate) fn get_str(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn get_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

pub(crate) fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

pub(crate) fn get_id<T: FromStr>(row: &AnyRow, col: &str) -> Result<T> {
    let s = get_str(row, col)?;
    s.parse().map_err(|_| StoreError::Corrupt(format!("column {col}: `{s}` is not a UUID")))
}

pub(crate) fn get_opt_id<T: FromStr>(row: &AnyRow, col: &str) -> Result<Option<T>> {
    match get_opt_str(row, col)? {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("column {col}: `{s}` is not a UUID"))),
    }
}

/// `($1, $2, ...), ($n+1, ...)`: `rows` groups of `cols` numbered placeholders.
pub(crate) fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", (1..=cols).map(|c| format!("${}", r * cols + c)).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The key that makes names unique regardless of case.
pub(crate) fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}
