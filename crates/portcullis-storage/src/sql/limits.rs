//! Limits shared by every replica: password checks registered before they
//! run, and fixed-window counters.

use super::{get_i64, get_opt_i64, SqlStore};
use crate::{CheckOutcome, LimitStore, Result, SignInCheck, SignInPressure};
use async_trait::async_trait;
use portcullis_domain::{FailureStats, Pressure, Timestamp};

/// Failed and running checks for one column's value.
async fn pressure(store: &SqlStore, column: &str, value: &str, since: Timestamp, running_since: Timestamp) -> Result<Pressure> {
    // `column` is one of two names fixed below, never input.
    let row = sqlx::query(&format!(
        "SELECT \
           COALESCE(SUM(CASE WHEN failed_at IS NOT NULL AND failed_at >= $2 THEN 1 ELSE 0 END), 0) AS failures, \
           MAX(failed_at) AS last, \
           COALESCE(SUM(CASE WHEN failed_at IS NULL AND started_at >= $3 THEN 1 ELSE 0 END), 0) AS running \
         FROM sign_in_checks WHERE {column} = $1 AND started_at >= $4"
    ))
    .bind(value.to_owned())
    .bind(since.0)
    .bind(running_since.0)
    .bind(since.0.min(running_since.0))
    .fetch_one(store.pool())
    .await?;
    let n = |v: i64| v.clamp(0, u32::MAX as i64) as u32;
    Ok(Pressure {
        failures: FailureStats { count: n(get_i64(&row, "failures")?), last: get_opt_i64(&row, "last")?.map(Timestamp) },
        in_flight: n(get_i64(&row, "running")?),
    })
}

#[async_trait]
impl LimitStore for SqlStore {
    async fn create_sign_in_check(&self, check: &SignInCheck, since: Timestamp, running_since: Timestamp) -> Result<SignInPressure> {
        // Registered (committed) before counting: of N parallel checks, the
        // k-th to commit sees at least k running, on any replica.
        sqlx::query("INSERT INTO sign_in_checks (id, account, address_key, started_at) VALUES ($1, $2, $3, $4)")
            .bind(check.id.to_string())
            .bind(check.account.clone())
            .bind(check.address_key.clone())
            .bind(check.started_at.0)
            .execute(self.pool())
            .await?;
        let account = pressure(self, "account", &check.account, since, running_since).await?;
        let address = match &check.address_key {
            Some(a) => pressure(self, "address_key", a, since, running_since).await?,
            None => Pressure::default(),
        };
        Ok(SignInPressure { account, address })
    }

    async fn update_sign_in_check(&self, id: uuid::Uuid, account: &str, outcome: CheckOutcome, now: Timestamp) -> Result<()> {
        match outcome {
            CheckOutcome::Failed => {
                sqlx::query("UPDATE sign_in_checks SET failed_at = $2 WHERE id = $1").bind(id.to_string()).bind(now.0).execute(self.pool()).await?;
            }
            CheckOutcome::Withdrawn => {
                sqlx::query("DELETE FROM sign_in_checks WHERE id = $1").bind(id.to_string()).execute(self.pool()).await?;
            }
            CheckOutcome::Succeeded => {
                // The account starts afresh; the address keeps its count.
                let mut tx = self.write_tx().await?;
                sqlx::query("DELETE FROM sign_in_checks WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
                sqlx::query("UPDATE sign_in_checks SET account = '' WHERE account = $1 AND failed_at IS NOT NULL")
                    .bind(account.to_owned())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn upsert_limit(&self, key: &str, window_ms: i64, now: Timestamp) -> Result<(i64, Timestamp)> {
        // One statement, atomic on both backends; every SET expression reads
        // the row as it was before the update.
        let row = sqlx::query(
            "INSERT INTO rate_limits (limit_key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (limit_key) DO UPDATE SET \
               hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END, \
               window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
             RETURNING hits, window_start",
        )
        .bind(key.to_owned())
        .bind(now.0)
        .bind(now.0 - window_ms)
        .fetch_one(self.pool())
        .await?;
        Ok((get_i64(&row, "hits")?, Timestamp(get_i64(&row, "window_start")?)))
    }

    async fn update_limit_refund(&self, key: &str, window_start: Timestamp) -> Result<()> {
        sqlx::query("UPDATE rate_limits SET hits = hits - 1 WHERE limit_key = $1 AND window_start = $2 AND hits > 0")
            .bind(key.to_owned())
            .bind(window_start.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn purge_limits(&self, before: Timestamp) -> Result<u64> {
        let a = sqlx::query("DELETE FROM sign_in_checks WHERE started_at < $1").bind(before.0).execute(self.pool()).await?;
        let b = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1").bind(before.0).execute(self.pool()).await?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}
