use std::fmt;

/// What can go wrong in storage, in terms the server can act on. Driver
/// errors are carried as opaque sources: they are logged, never matched on
/// and never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write: `what` already exists.
    #[error("{what} already exists")]
    Conflict {
        /// What exists already.
        what: &'static str,
    },
    /// The row to change does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was missing.
        what: &'static str,
    },
    /// The change would leave an organization without an owner.
    #[error("an organization must keep at least one owner")]
    LastOwner,
    /// Predefined roles cannot be deleted and the Owner role cannot be restricted.
    #[error("predefined role cannot be changed this way")]
    Predefined,
    /// Something still refers to the row.
    #[error("{what} is still in use")]
    InUse {
        /// What is still referred to.
        what: &'static str,
    },
    /// The row changed since it was read (a concurrent write won): read it
    /// again and redo the change.
    #[error("the record changed meanwhile")]
    Stale,
    /// Stored data that does not parse (a bug or manual tampering).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database failed (logged with its detail, shown as a generic 500).
    #[error("database error")]
    Backend(#[source] BackendError),
    /// The database cannot be reached right now: no connection within the
    /// pool's acquire timeout, a connection lost, or the server shutting
    /// down or starting up. Nothing was written; the caller may retry.
    #[error("the database cannot be reached")]
    Unavailable(#[source] BackendError),
}

/// An opaque database driver error.
pub struct BackendError(pub(crate) sqlx::Error);

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl StoreError {
    pub(crate) fn db(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(BackendError(e))
        } else {
            StoreError::Backend(BackendError(e))
        }
    }

    /// Whether the transaction lost a race that running it again can win:
    /// PostgreSQL's deadlock (SQLSTATE 40P01) and serialization failure
    /// (40001). Nothing was written.
    pub fn is_contention(&self) -> bool {
        matches!(self, StoreError::Backend(BackendError(sqlx::Error::Database(d))) if d.code().is_some_and(|c| c == "40P01" || c == "40001"))
    }

    /// Whether the database was unreachable (worth retrying later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Maps a write error: unique violations become [`StoreError::Conflict`],
    /// foreign-key violations [`StoreError::NotFound`] of the referenced row.
    pub(crate) fn on_write(e: sqlx::Error, what: &'static str, referenced: &'static str) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return StoreError::Conflict { what };
            }
            if is_foreign_key_violation(d.as_ref()) {
                return StoreError::NotFound { what: referenced };
            }
        }
        StoreError::db(e)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::db(e)
    }
}

/// An error that says the database is away rather than that the request
/// was wrong: pool and connection failures, and PostgreSQL's SQLSTATE
/// classes 08 (connection exception) and 57P (operator intervention:
/// shutting down, starting up).
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Foreign-key violations, including SQLite's report of an `ON DELETE
/// RESTRICT` action (extended code 1811, `SQLITE_CONSTRAINT_TRIGGER`).
pub(crate) fn is_foreign_key_violation(d: &dyn sqlx::error::DatabaseError) -> bool {
    d.is_foreign_key_violation() || (d.code().as_deref() == Some("1811") && d.message().contains("FOREIGN KEY"))
}
