//! Usage events and their roll-ups.
//!
//! A batch of events is first summed in memory per roll-up key, so that a
//! burst of API calls costs a handful of upserts rather than one per event.

use super::{get_i64, get_str, SqlStore};
use crate::{Result, UsageEvent, UsageKindRow, UsageLatencyRow, UsageQuery, UsageRows, UsageStore, UsageSubjectRow};
use async_trait::async_trait;
use sqlx::{Any, Transaction};
use std::collections::{BTreeMap, HashMap};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
const PERIODS: [(&str, i64); 2] = [("hour", HOUR_MS), ("day", DAY_MS)];
/// The per-subject roll-ups, coarsest first: four-week periods and weeks
/// (`usage_rollup_subject_weeks`), days and hours (`usage_rollup_subject`).
/// Each is a whole number of the next, so a range splits into few pieces.
const SUBJECT_LEVELS: [(&str, i64); 4] = [("28d", 28 * DAY_MS), ("7d", 7 * DAY_MS), ("day", DAY_MS), ("hour", HOUR_MS)];

/// Where the kickoffs per subject of `[from, to)` (whole hours) are read:
/// whole periods of the coarsest level that fit, and the edges by the finer
/// levels. The pieces cover the range exactly once, so the sum is the same
/// as over the hourly rows.
fn subject_pieces(from: i64, to: i64) -> Vec<(&'static str, i64, i64)> {
    fn split(from: i64, to: i64, levels: &[(&'static str, i64)], out: &mut Vec<(&'static str, i64, i64)>) {
        let Some(((name, unit), finer)) = levels.split_first() else { return };
        if from >= to {
            return;
        }
        if finer.is_empty() {
            out.push((name, from, to));
            return;
        }
        let (a, b) = ((from + unit - 1).div_euclid(*unit) * unit, to.div_euclid(*unit) * unit);
        if a >= b {
            return split(from, to, finer, out);
        }
        split(from, a, finer, out);
        out.push((name, a, b));
        split(b, to, finer, out);
    }
    let mut out = Vec::new();
    split(from, to, &SUBJECT_LEVELS, &mut out);
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
        write_usage(self, &mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }


    async fn list_usage_rows(&self, q: &UsageQuery) -> Result<UsageRows> {
        let period = if q.daily { "day" } else { "hour" };
        let org = key(q.org_id.map(|o| o.to_string()));
        let bucket_ms = q.bucket_ms.max(1);
        // The three reads are independent: run them at once (SQLite's WAL and
        // PostgreSQL both serve readers in parallel), which roughly halves a
        // year's report on two cores.
        let kinds = async {
            sqlx::query(
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
            .collect::<Result<Vec<_>>>()
        };
        let subjects = async {
            let mut per_subject: HashMap<(String, String), i64> = HashMap::new();
            for (piece, from, to) in subject_pieces(q.from.0, q.to.0) {
                let table = if matches!(piece, "day" | "hour") { "usage_rollup_subject" } else { "usage_rollup_subject_weeks" };
                let sql = format!(
                    "SELECT subject_type, subject_id, CAST(SUM(count) AS BIGINT) AS n FROM {table} \
                     WHERE period = $1 AND org_id = $2 AND start >= $3 AND start < $4 GROUP BY 1, 2"
                );
                let query = sqlx::query(&sql).bind(piece).bind(org.clone()).bind(from).bind(to);
                for r in query.fetch_all(self.pool()).await? {
                    *per_subject.entry((get_str(&r, "subject_type")?, get_str(&r, "subject_id")?)).or_default() += get_i64(&r, "n")?;
                }
            }
            Ok::<Vec<UsageSubjectRow>, crate::StoreError>(per_subject.into_iter().map(|((subject_type, subject_id), count)| UsageSubjectRow { subject_type, subject_id, count }).collect())
        };
        let latency = async {
            sqlx::query(
                "SELECT (start - $3) / $5 AS b, bucket, CAST(SUM(count) AS BIGINT) AS n FROM usage_rollup_latency \
                 WHERE period = $1 AND org_id = $2 AND start >= $3 AND start < $4 GROUP BY 1, 2",
            )
            .bind(period)
            .bind(org.clone())
            .bind(q.from.0)
            .bind(q.to.0)
            .bind(bucket_ms)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok(UsageLatencyRow { bucket: get_i64(r, "b")?, latency_bucket: get_i64(r, "bucket")?, count: get_i64(r, "n")? }))
            .collect::<Result<Vec<_>>>()
        };
        let (kinds, subjects, latency) = tokio::try_join!(kinds, subjects, latency)?;
        Ok(UsageRows { kinds, subjects, latency })
    }
}

/// Inserts the events and adds them to the roll-ups (summed per key first).
/// A key column's value in a roll-up row.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Val {
    S(String),
    I(i64),
}

/// Adds `count` to each roll-up row of `table` (inserting it at first),
/// 100 rows per statement. The rows come sorted by key (a `BTreeMap`), so
/// every writer (every replica) locks the rows it updates in the same
/// order: two batches that touch the same hours then wait for each other,
/// where in any order they could deadlock, and PostgreSQL would abort one
/// of them after a second.
async fn add_counts(store: &SqlStore, tx: &mut Transaction<'static, Any>, table: &str, keys: &[&str], rows: &BTreeMap<Vec<Val>, i64>) -> Result<()> {
    let rows: Vec<(&Vec<Val>, &i64)> = rows.iter().collect();
    let cols = keys.len() + 1;
    for chunk in rows.chunks(100) {
        let values = (0..chunk.len())
            .map(|r| format!("({})", (1..=cols).map(|c| store.param(r * cols + c)).collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
            .join(", ");
        let key_list = keys.join(", ");
        let sql = format!("INSERT INTO {table} ({key_list}, count) VALUES {values} ON CONFLICT ({key_list}) DO UPDATE SET count = {table}.count + excluded.count");
        let mut q = sqlx::query(&sql);
        for (key, n) in chunk {
            for v in key.iter() {
                q = match v {
                    Val::S(s) => q.bind(s.clone()),
                    Val::I(i) => q.bind(*i),
                };
            }
            q = q.bind(**n);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn write_usage(store: &SqlStore, tx: &mut Transaction<'static, Any>, events: &[UsageEvent]) -> Result<()> {
    use Val::{I, S};
    let mut kinds: BTreeMap<Vec<Val>, i64> = BTreeMap::new();
    let mut subjects: BTreeMap<Vec<Val>, i64> = BTreeMap::new();
    let mut latency: BTreeMap<Vec<Val>, i64> = BTreeMap::new();
    // The week and four-week roll-ups of the subjects, from the daily keys.
    let mut coarse: BTreeMap<Vec<Val>, i64> = BTreeMap::new();
    for e in events {
        let org = key(e.org_id.map(|o| o.to_string()));
        for (period, ms) in PERIODS {
            let start = e.at.0.div_euclid(ms) * ms;
            let base = || vec![S(period.to_string()), S(org.clone()), I(start)];
            let mut k = base();
            k.extend([S(e.kind.clone()), S(key(e.provider.clone())), I(e.success.unwrap_or(true) as i64)]);
            *kinds.entry(k).or_default() += e.count;
            if e.kind == "kickoff" {
                let subjects_of = [("automation", e.automation_id.map(|a| a.to_string())), ("user", e.user_id.map(|u| u.to_string()))];
                for (st, sid) in subjects_of {
                    let Some(sid) = sid else { continue };
                    let mut k = base();
                    k.extend([S(st.into()), S(sid.clone())]);
                    *subjects.entry(k).or_default() += e.count;
                    if period == "day" {
                        for (level, unit) in &SUBJECT_LEVELS[..2] {
                            let k = vec![S(level.to_string()), S(org.clone()), I(start.div_euclid(*unit) * unit), S(st.into()), S(sid.clone())];
                            *coarse.entry(k).or_default() += e.count;
                        }
                    }
                }
            }
            if let Some(b) = e.latency_bucket {
                let mut k = base();
                k.push(I(b));
                *latency.entry(k).or_default() += e.count;
            }
        }
    }
    let raw: Vec<&UsageEvent> = events.iter().filter(|e| e.kept_as_row()).collect();
    // Many rows per statement: far fewer round trips through the driver.
    for chunk in raw.chunks(100) {
        let mut sql = String::from("INSERT INTO usage_events (id, at, org_id, kind, provider, success, automation_id, user_id, latency_ms) VALUES ");
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
    // The tables always in this order, for the same reason as the rows.
    add_counts(store, tx, "usage_rollup", &["period", "org_id", "start", "kind", "provider", "success"], &kinds).await?;
    add_counts(store, tx, "usage_rollup_subject", &["period", "org_id", "start", "subject_type", "subject_id"], &subjects).await?;
    add_counts(store, tx, "usage_rollup_subject_weeks", &["period", "org_id", "start", "subject_type", "subject_id"], &coarse).await?;
    add_counts(store, tx, "usage_rollup_latency", &["period", "org_id", "start", "bucket"], &latency).await?;
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
                let step = SUBJECT_LEVELS.iter().find(|l| l.0 == *unit).unwrap().1;
                assert_eq!((a % step, b % step), (0, 0), "{unit} piece aligned: {pieces:?}");
                let mut t = *a;
                while t < *b {
                    assert!(hours.insert(t), "hour {t} read twice: {pieces:?}");
                    t += h;
                }
            }
            assert_eq!(hours.len() as i64, (to - from) / h, "every hour of [{from}, {to}) read: {pieces:?}");
        }
        // A year: whole four-week periods, and only a few weeks, days and hours at its edges.
        let year = subject_pieces(5 * h, 365 * DAY_MS + 5 * h);
        assert!(year.iter().any(|p| p.0 == "28d"));
        assert!(year.len() <= 7, "{year:?}");
    }
}
