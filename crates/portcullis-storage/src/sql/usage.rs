//! Usage events and their roll-ups.
//!
//! A batch of events is first summed in memory per roll-up key, so that a
//! burst of API calls costs a handful of upserts rather than one per event.

use super::{get_i64, get_str, SqlStore};
use crate::{Result, UsageEvent, UsageKindRow, UsageLatencyRow, UsageQuery, UsageRows, UsageStore, UsageSubjectRow};
use async_trait::async_trait;
use sqlx::{Any, Transaction};
use std::collections::HashMap;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
const PERIODS: [(&str, i64); 2] = [("hour", HOUR_MS), ("day", DAY_MS)];
/// The coarsest per-subject roll-up (`usage_rollup_subject_30d`).
const PERIOD_30D_MS: i64 = 30 * DAY_MS;

/// Where the kickoffs per subject of `[from, to)` are read: whole 30-day
/// periods from the coarse roll-up, the whole days at their edges from the
/// daily one, the hours at the ends from the hourly one. The pieces cover
/// the range exactly once, so the sum is the same as over the hourly rows.
fn subject_pieces(from: i64, to: i64) -> Vec<(&'static str, i64, i64)> {
    let up = |t: i64, unit: i64| (t + unit - 1).div_euclid(unit) * unit;
    let down = |t: i64, unit: i64| t.div_euclid(unit) * unit;
    let mut out = Vec::new();
    let (d0, d1) = (up(from, DAY_MS), down(to, DAY_MS));
    if d0 >= d1 {
        out.push(("hour", from, to));
    } else {
        out.push(("hour", from, d0));
        out.push(("hour", d1, to));
        let (m0, m1) = (up(d0, PERIOD_30D_MS), down(d1, PERIOD_30D_MS));
        if m0 >= m1 {
            out.push(("day", d0, d1));
        } else {
            out.push(("day", d0, m0));
            out.push(("day", m1, d1));
            out.push(("30d", m0, m1));
        }
    }
    out.retain(|(_, a, b)| a < b);
    out
}

fn key(s: Option<String>) -> String {
    s.unwrap_or_default()
}

#[async_trait]
impl UsageStore for SqlStore {
    async fn append_usage(&self, events: &[UsageEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        write_usage(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }


    async fn list_usage_rows(&self, q: &UsageQuery) -> Result<UsageRows> {
        let period = if q.daily { "day" } else { "hour" };
        let org = key(q.org_id.map(|o| o.to_string()));
        let bucket_ms = q.bucket_ms.max(1);
        let kinds = sqlx::query(
            "SELECT (start - $3) / $5 AS b, kind, provider, success, CAST(SUM(count) AS BIGINT) AS n FROM usage_rollup \
             WHERE period = $1 AND org_id = $2 AND start >= $3 AND start < $4 GROUP BY 1, 2, 3, 4",
        )
        .bind(period)
        .bind(org.clone())
        .bind(q.from.0)
        .bind(q.to.0)
        .bind(bucket_ms)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(UsageKindRow {
                bucket: get_i64(r, "b")?,
                kind: get_str(r, "kind")?,
                provider: get_str(r, "provider")?,
                success: get_i64(r, "success")? != 0,
                count: get_i64(r, "n")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let mut per_subject: HashMap<(String, String), i64> = HashMap::new();
        for (piece, from, to) in subject_pieces(q.from.0, q.to.0) {
            let sql = if piece == "30d" {
                "SELECT subject_type, subject_id, CAST(SUM(count) AS BIGINT) AS n FROM usage_rollup_subject_30d \
                 WHERE org_id = $1 AND start >= $2 AND start < $3 GROUP BY 1, 2"
            } else {
                "SELECT subject_type, subject_id, CAST(SUM(count) AS BIGINT) AS n FROM usage_rollup_subject \
                 WHERE org_id = $1 AND start >= $2 AND start < $3 AND period = $4 GROUP BY 1, 2"
            };
            let mut query = sqlx::query(sql).bind(org.clone()).bind(from).bind(to);
            if piece != "30d" {
                query = query.bind(piece);
            }
            for r in query.fetch_all(self.pool()).await? {
                *per_subject.entry((get_str(&r, "subject_type")?, get_str(&r, "subject_id")?)).or_default() += get_i64(&r, "n")?;
            }
        }
        let subjects = per_subject.into_iter().map(|((subject_type, subject_id), count)| UsageSubjectRow { subject_type, subject_id, count }).collect();
        let latency = sqlx::query(
            "SELECT (start - $3) / $5 AS b, bucket, CAST(SUM(count) AS BIGINT) AS n FROM usage_rollup_latency \
             WHERE period = $1 AND org_id = $2 AND start >= $3 AND start < $4 GROUP BY 1, 2",
        )
        .bind(period)
        .bind(org)
        .bind(q.from.0)
        .bind(q.to.0)
        .bind(bucket_ms)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok(UsageLatencyRow { bucket: get_i64(r, "b")?, latency_bucket: get_i64(r, "bucket")?, count: get_i64(r, "n")? }))
        .collect::<Result<Vec<_>>>()?;
        Ok(UsageRows { kinds, subjects, latency })
    }
}

/// Inserts the events and adds them to the roll-ups (summed per key first).
pub(crate) async fn write_usage(tx: &mut Transaction<'static, Any>, events: &[UsageEvent]) -> Result<()> {
        let mut kinds: HashMap<(&str, String, i64, String, String, i64), i64> = HashMap::new();
        let mut subjects: HashMap<(&str, String, i64, &str, String), i64> = HashMap::new();
        let mut latency: HashMap<(&str, String, i64, i64), i64> = HashMap::new();
        for e in events {
            let org = key(e.org_id.map(|o| o.to_string()));
            for (period, ms) in PERIODS {
                let start = e.at.0.div_euclid(ms) * ms;
                *kinds
                    .entry((period, org.clone(), start, e.kind.clone(), key(e.provider.clone()), e.success.unwrap_or(true) as i64))
                    .or_default() += 1;
                if e.kind == "kickoff" {
                    if let Some(a) = e.automation_id {
                        *subjects.entry((period, org.clone(), start, "automation", a.to_string())).or_default() += 1;
                    }
                    if let Some(u) = e.user_id {
                        *subjects.entry((period, org.clone(), start, "user", u.to_string())).or_default() += 1;
                    }
                }
                if let Some(b) = e.latency_bucket {
                    *latency.entry((period, org.clone(), start, b)).or_default() += 1;
                }
            }
        }
        // The raw record of API calls and kickoffs is the roll-ups and the
        // executions table; writing each one again here would double the
        // write load of the busiest paths. Sign-ins and upstream errors are kept.
        let raw: Vec<&UsageEvent> = events.iter().filter(|e| e.kind != "api_call" && e.kind != "kickoff").collect();
        // Many rows per statement: far fewer round trips through the driver.
        for chunk in raw.chunks(100) {
            let mut sql = String::from(
                "INSERT INTO usage_events (id, at, org_id, kind, provider, success, automation_id, user_id, latency_ms) VALUES ",
            );
            sql.push_str(&super::placeholders(chunk.len(), 9));
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(uuid::Uuid::new_v4().to_string())
                    .bind(e.at.0)
                    .bind(e.org_id.map(|o| o.to_string()))
                    .bind(e.kind.clone())
                    .bind(e.provider.clone())
                    .bind(e.success.map(|s| s as i64))
                    .bind(e.automation_id.map(|a| a.to_string()))
                    .bind(e.user_id.map(|u| u.to_string()))
                    .bind(e.latency_ms);
            }
            q.execute(&mut **tx).await?;
        }
        for ((period, org, start, kind, provider, success), n) in kinds {
            sqlx::query(
                "INSERT INTO usage_rollup (period, org_id, start, kind, provider, success, count) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (period, org_id, start, kind, provider, success) DO UPDATE SET count = usage_rollup.count + excluded.count",
            )
            .bind(period)
            .bind(org)
            .bind(start)
            .bind(kind)
            .bind(provider)
            .bind(success)
            .bind(n)
            .execute(&mut **tx)
            .await?;
        }
        for ((period, org, start, st, sid), n) in subjects.iter().map(|(k, n)| (k.clone(), *n)) {
            sqlx::query(
                "INSERT INTO usage_rollup_subject (period, org_id, start, subject_type, subject_id, count) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (period, org_id, start, subject_type, subject_id) DO UPDATE SET count = usage_rollup_subject.count + excluded.count",
            )
            .bind(period)
            .bind(org)
            .bind(start)
            .bind(st)
            .bind(sid)
            .bind(n)
            .execute(&mut **tx)
            .await?;
        }
        // The 30-day roll-up, from the daily keys of this batch.
        let mut coarse: HashMap<(String, i64, &str, String), i64> = HashMap::new();
        for ((period, org, start, st, sid), n) in &subjects {
            if *period == "day" {
                *coarse.entry((org.clone(), start.div_euclid(PERIOD_30D_MS) * PERIOD_30D_MS, st, sid.clone())).or_default() += n;
            }
        }
        for ((org, start, st, sid), n) in coarse {
            sqlx::query(
                "INSERT INTO usage_rollup_subject_30d (org_id, start, subject_type, subject_id, count) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (org_id, start, subject_type, subject_id) DO UPDATE SET count = usage_rollup_subject_30d.count + excluded.count",
            )
            .bind(org)
            .bind(start)
            .bind(st)
            .bind(sid)
            .bind(n)
            .execute(&mut **tx)
            .await?;
        }
        for ((period, org, start, b), n) in latency {
            sqlx::query(
                "INSERT INTO usage_rollup_latency (period, org_id, start, bucket, count) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (period, org_id, start, bucket) DO UPDATE SET count = usage_rollup_latency.count + excluded.count",
            )
            .bind(period)
            .bind(org)
            .bind(start)
            .bind(b)
            .bind(n)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_pieces_cover_the_range_exactly_once() {
        let h = HOUR_MS;
        for (from, to) in [(0, 400 * DAY_MS), (5 * h, 3 * DAY_MS + 7 * h), (29 * DAY_MS + 3 * h, 95 * DAY_MS), (7 * h, 9 * h), (DAY_MS, 2 * DAY_MS)] {
            let pieces = subject_pieces(from, to);
            let mut hours = std::collections::BTreeSet::new();
            for (unit, a, b) in &pieces {
                let step = match *unit { "hour" => h, "day" => DAY_MS, _ => PERIOD_30D_MS };
                assert_eq!((a % step, b % step), (0, 0), "{unit} piece aligned: {pieces:?}");
                let mut t = *a;
                while t < *b {
                    assert!(hours.insert(t), "hour {t} read twice: {pieces:?}");
                    t += h;
                }
            }
            assert_eq!(hours.len() as i64, (to - from) / h, "every hour of [{from}, {to}) read: {pieces:?}");
        }
        assert!(subject_pieces(0, 400 * DAY_MS).iter().any(|p| p.0 == "30d"));
    }
}
