//! Cache invalidation between replicas, over PostgreSQL's `LISTEN`/`NOTIFY`
//! (<https://www.postgresql.org/docs/current/sql-notify.html>): a replica
//! that revokes, disables or changes something publishes a short message;
//! every replica listening on the same database drops what it cached about
//! it. SQLite serves one replica only, so there is nothing to tell.
//!
//! Delivery is at most once: a listener that loses its connection misses
//! what was sent meanwhile, so it reports a [`Notice::Gap`] on reconnecting
//! and the server then empties its caches (and the caches' short TTL bounds
//! staleness while the database is away).

use super::{Backend, SqlStore};
use crate::Result;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::mpsc;

/// The channel every replica listens on.
pub const CHANNEL: &str = "portcullis_invalidate";

/// What a subscription delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A message some replica (this one too) published.
    Message(String),
    /// The listener was disconnected and is listening again: messages may
    /// have been missed.
    Gap,
}

impl SqlStore {
    /// Sends `message` to every replica (PostgreSQL); nothing on SQLite.
    pub async fn publish(&self, message: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(message).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Listens for published messages on a connection of its own, until the
    /// receiver is dropped, reconnecting by itself. `None` on SQLite.
    pub async fn subscribe(&self) -> Result<Option<mpsc::Receiver<Notice>>> {
        let Some(url) = self.listen_url.clone() else { return Ok(None) };
        let first = listen(&url).await?;
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            let mut listener = Some(first);
            loop {
                let Some(l) = listener.as_mut() else {
                    match listen(&url).await {
                        Ok(l) => {
                            tracing::info!("cache invalidation listener: listening again");
                            listener = Some(l);
                            if tx.send(Notice::Gap).await.is_err() {
                                return;
                            }
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                    }
                    continue;
                };
                match l.try_recv().await {
                    Ok(Some(n)) => {
                        if tx.send(Notice::Message(n.payload().to_owned())).await.is_err() {
                            return;
                        }
                    }
                    // `None`: the connection was lost. Either way a fresh
                    // listener is made, and the gap reported once it listens.
                    Ok(None) | Err(_) => {
                        tracing::warn!("cache invalidation listener: lost the database connection; reconnecting");
                        listener = None;
                    }
                }
            }
        });
        Ok(Some(rx))
    }
}

async fn listen(url: &str) -> Result<PgListener> {
    let mut l = PgListener::connect(url).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}
