//! Usage events and their hourly roll-ups.

use super::{get_i64, get_str, SqlStore};
use crate::{LatencyCount, Result, UsageCount, UsageEvent, UsageStore};
use async_trait::async_trait;
use portcullis_domain::{OrgId, Timestamp};

const HOUR_MS: i64 = 3_600_000;

fn opt(s: Option<String>) -> String {
    s.unwrap_or_default()
}

fn none_if_empty<T: std::str::FromStr>(s: String) -> Option<T> {
    if s.is_empty() {
        None
    } else {
        s.parse().ok()
    }
}

#[async_trait]
impl UsageStore for SqlStore {
    async fn record_usage(&self, events: &[UsageEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for e in events {
            let org = opt(e.org_id.map(|o| o.to_string()));
            let automation = opt(e.automation_id.map(|a| a.to_string()));
            let user = opt(e.user_id.map(|u| u.to_string()));
            let hour = e.at.0.div_euclid(HOUR_MS) * HOUR_MS;
            sqlx::query(
                "INSERT INTO usage_events (id, at, org_id, kind, provider, success, automation_id, user_id, latency_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(e.at.0)
            .bind(e.org_id.map(|o| o.to_string()))
            .bind(e.kind.clone())
            .bind(e.provider.clone())
            .bind(e.success.map(|s| s as i64))
            .bind(e.automation_id.map(|a| a.to_string()))
            .bind(e.user_id.map(|u| u.to_string()))
            .bind(e.latency_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO usage_hourly (org_id, hour, kind, provider, success, automation_id, user_id, count) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1) \
                 ON CONFLICT (org_id, hour, kind, provider, success, automation_id, user_id) \
                 DO UPDATE SET count = usage_hourly.count + 1",
            )
            .bind(org.clone())
            .bind(hour)
            .bind(e.kind.clone())
            .bind(opt(e.provider.clone()))
            .bind(e.success.unwrap_or(true) as i64)
            .bind(automation.clone())
            .bind(user)
            .execute(&mut *tx)
            .await?;
            if let Some(bucket) = e.latency_bucket {
                sqlx::query(
                    "INSERT INTO usage_latency_hourly (org_id, hour, automation_id, bucket, count) VALUES ($1, $2, $3, $4, 1) \
                     ON CONFLICT (org_id, hour, automation_id, bucket) DO UPDATE SET count = usage_latency_hourly.count + 1",
                )
                .bind(org)
                .bind(hour)
                .bind(automation)
                .bind(bucket)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn usage_counts(&self, org: Option<OrgId>, from: Timestamp, to: Timestamp) -> Result<Vec<UsageCount>> {
        let rows = sqlx::query(
            "SELECT hour, kind, provider, success, automation_id, user_id, count FROM usage_hourly \
             WHERE org_id = $1 AND hour >= $2 AND hour < $3",
        )
        .bind(opt(org.map(|o| o.to_string())))
        .bind(from.0.div_euclid(HOUR_MS) * HOUR_MS)
        .bind(to.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UsageCount {
                    hour: Timestamp(get_i64(r, "hour")?),
                    kind: get_str(r, "kind")?,
                    provider: get_str(r, "provider")?,
                    success: get_i64(r, "success")? != 0,
                    automation_id: none_if_empty(get_str(r, "automation_id")?),
                    user_id: none_if_empty(get_str(r, "user_id")?),
                    count: get_i64(r, "count")?,
                })
            })
            .collect()
    }

    async fn usage_latency(&self, org: Option<OrgId>, from: Timestamp, to: Timestamp) -> Result<Vec<LatencyCount>> {
        let rows = sqlx::query(
            "SELECT hour, automation_id, bucket, count FROM usage_latency_hourly \
             WHERE org_id = $1 AND hour >= $2 AND hour < $3",
        )
        .bind(opt(org.map(|o| o.to_string())))
        .bind(from.0.div_euclid(HOUR_MS) * HOUR_MS)
        .bind(to.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LatencyCount {
                    hour: Timestamp(get_i64(r, "hour")?),
                    automation_id: none_if_empty(get_str(r, "automation_id")?),
                    bucket: get_i64(r, "bucket")?,
                    count: get_i64(r, "count")?,
                })
            })
            .collect()
    }
}
