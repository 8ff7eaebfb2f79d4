//! The append-only audit log.

use super::{get_i64, get_id, get_opt_id, get_opt_str, get_str, SqlStore};
use crate::{AuditEvent, AuditFilter, AuditStore, Result, StoreError};
use async_trait::async_trait;
use portcullis_domain::Timestamp;
use sqlx::any::AnyRow;

fn event_from_row(row: &AnyRow) -> Result<AuditEvent> {
    let detail = get_str(row, "detail")?;
    Ok(AuditEvent {
        id: get_id(row, "id")?,
        at: Timestamp(get_i64(row, "at")?),
        org_id: get_opt_id(row, "org_id")?,
        actor_id: get_opt_id(row, "actor_id")?,
        actor: get_opt_str(row, "actor")?,
        action: get_str(row, "action")?,
        target: get_opt_str(row, "target")?,
        outcome: get_str(row, "outcome")?,
        ip: get_opt_str(row, "ip")?,
        request_id: get_opt_str(row, "request_id")?,
        detail: serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_events (id, at, org_id, actor_id, actor, action, target, outcome, ip, request_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(e.id.to_string())
        .bind(e.at.0)
        .bind(e.org_id.map(|o| o.to_string()))
        .bind(e.actor_id.map(|u| u.to_string()))
        .bind(e.actor.clone())
        .bind(e.action.clone())
        .bind(e.target.clone())
        .bind(e.outcome.clone())
        .bind(e.ip.clone())
        .bind(e.request_id.clone())
        .bind(e.detail.to_string())
        .execute(self.pool())
        .await
        .map_err(|err| StoreError::on_write(err, "this audit event", "audit event"))?;
        Ok(())
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>> {
        // Built with numbered placeholders so that it is valid on both backends.
        let mut sql = String::from(
            "SELECT id, at, org_id, actor_id, actor, action, target, outcome, ip, request_id, detail \
             FROM audit_events WHERE 1 = 1",
        );
        let mut args: Vec<(bool, String, i64)> = Vec::new(); // (is_text, text, int)
        let mut n = 0;
        let mut push = |sql: &mut String, clause: &str, text: Option<String>, int: Option<i64>| {
            n += 1;
            sql.push_str(&clause.replace("?", &format!("${n}")));
            match (text, int) {
                (Some(t), _) => args.push((true, t, 0)),
                (None, Some(i)) => args.push((false, String::new(), i)),
                _ => unreachable!(),
            }
        };
        if let Some(o) = f.org_id {
            push(&mut sql, " AND org_id = ?", Some(o.to_string()), None);
        }
        if let Some(s) = f.since {
            push(&mut sql, " AND at >= ?", None, Some(s.0));
        }
        if let Some(u) = f.until {
            push(&mut sql, " AND at < ?", None, Some(u.0));
        }
        if let Some(a) = f.actor_id {
            push(&mut sql, " AND actor_id = ?", Some(a.to_string()), None);
        }
        if let Some(a) = &f.action {
            push(&mut sql, " AND action = ?", Some(a.clone()), None);
        }
        if let Some(t) = f.target_prefix.as_deref().filter(|t| !t.is_empty()) {
            // substr counts characters on both backends, as chars() does.
            push(&mut sql, &format!(" AND substr(target, 1, {}) = ?", t.chars().count()), Some(t.to_owned()), None);
        }
        let limit = f.limit.clamp(1, 1000);
        sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT {limit}"));
        let mut q = sqlx::query(&sql);
        for (is_text, t, i) in args {
            q = if is_text { q.bind(t) } else { q.bind(i) };
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(event_from_row).collect()
    }
}
