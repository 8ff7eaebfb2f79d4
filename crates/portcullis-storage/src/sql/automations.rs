//! Automations, their visibility and their grants.

use super::{get_i64, get_id, get_opt_i64, get_opt_id, get_opt_str, get_str, name_key, SqlStore};
use crate::{
    Automation, AutomationStore, AutomationUpdate, Execution, ExecutionOp, ExecutionStats, Grant, Health, NewAutomation,
    Result, StoreError, UsageEvent,
};
use std::collections::HashMap;
use async_trait::async_trait;
use portcullis_domain::{AutomationAcl, AutomationId, OrgId, PermSet, Subject, Timestamp, Visibility};
use sqlx::any::AnyRow;

const COLS: &str = "id, org_id, name, description, visibility, created_by, created_at, updated_at, \
     upstream_url, upstream_token, health, health_reason, health_checked_at";

fn automation_from_row(row: &AnyRow) -> Result<Automation> {
    let v = get_str(row, "visibility")?;
    Ok(Automation {
        id: get_id(row, "id")?,
        org_id: get_id(row, "org_id")?,
        name: get_str(row, "name")?,
        description: get_str(row, "description")?,
        visibility: Visibility::parse(&v).ok_or_else(|| StoreError::Corrupt(format!("visibility `{v}`")))?,
        created_by: get_opt_id(row, "created_by")?,
        created_at: Timestamp(get_i64(row, "created_at")?),
        updated_at: Timestamp(get_i64(row, "updated_at")?),
        upstream_url: get_str(row, "upstream_url")?,
        upstream_token_sealed: get_opt_str(row, "upstream_token")?,
        health: Health {
            state: get_str(row, "health")?,
            reason: get_opt_str(row, "health_reason")?,
            checked_at: get_opt_i64(row, "health_checked_at")?.map(Timestamp),
        },
    })
}

const EXECUTION_COLS: &str = "id, automation_id, org_id, user_id, started_at, inputs_bytes, kickoff_id, state, \
     upstream_latency_ms, error, updated_at";

fn execution_from_row(row: &AnyRow) -> Result<Execution> {
    Ok(Execution {
        id: get_id(row, "id")?,
        automation_id: get_id(row, "automation_id")?,
        org_id: get_id(row, "org_id")?,
        user_id: get_opt_id(row, "user_id")?,
        started_at: Timestamp(get_i64(row, "started_at")?),
        inputs_bytes: get_i64(row, "inputs_bytes")?,
        kickoff_id: get_opt_str(row, "kickoff_id")?,
        state: get_str(row, "state")?,
        upstream_latency_ms: get_opt_i64(row, "upstream_latency_ms")?,
        error: get_opt_str(row, "error")?,
        updated_at: Timestamp(get_i64(row, "updated_at")?),
    })
}

fn grant_from_row(row: &AnyRow) -> Result<Grant> {
    let t = get_str(row, "subject_type")?;
    let subject = match t.as_str() {
        "user" => Subject::User(get_id(row, "subject_id")?),
        "role" => Subject::Role(get_id(row, "subject_id")?),
        _ => return Err(StoreError::Corrupt(format!("grant subject type `{t}`"))),
    };
    Ok(Grant { subject, permissions: PermSet::from_bits(get_i64(row, "permissions")? as u8) })
}

fn subject_parts(s: Subject) -> (&'static str, String) {
    match s {
        Subject::User(u) => ("user", u.to_string()),
        Subject::Role(r) => ("role", r.to_string()),
    }
}

#[async_trait]
impl AutomationStore for SqlStore {
    async fn create_automation(&self, new: NewAutomation, now: Timestamp) -> Result<Automation> {
        let id = new.id;
        sqlx::query(
            "INSERT INTO automations (id, org_id, name, name_key, description, visibility, created_by, created_at, updated_at, \
             upstream_url, upstream_token) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)",
        )
        .bind(id.to_string())
        .bind(new.org_id.to_string())
        .bind(new.name.clone())
        .bind(name_key(&new.name))
        .bind(new.description.clone())
        .bind(new.visibility.as_str())
        .bind(new.created_by.map(|u| u.to_string()))
        .bind(now.0)
        .bind(new.upstream_url.clone())
        .bind(new.upstream_token_sealed.clone())
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::on_write(e, "an automation with this name", "organization"))?;
        Ok(Automation {
            id,
            org_id: new.org_id,
            name: new.name,
            description: new.description,
            visibility: new.visibility,
            created_by: new.created_by,
            created_at: now,
            updated_at: now,
            upstream_url: new.upstream_url,
            upstream_token_sealed: new.upstream_token_sealed,
            health: Health { state: "unknown".into(), reason: None, checked_at: None },
        })
    }

    async fn get_automation(&self, org: OrgId, id: AutomationId) -> Result<Option<Automation>> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM automations WHERE org_id = $1 AND id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| automation_from_row(&r)).transpose()
    }

    async fn list_automations(&self, org: OrgId) -> Result<Vec<Automation>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM automations WHERE org_id = $1 ORDER BY name_key"))
            .bind(org.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(automation_from_row).collect()
    }

    async fn delete_automation(&self, org: OrgId, id: AutomationId) -> Result<bool> {
        let r = sqlx::query("DELETE FROM automations WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn upsert_grant(&self, org: OrgId, id: AutomationId, subject: Subject, perms: PermSet) -> Result<()> {
        let mut tx = self.write_tx().await?;
        // Write first (SQLite write lock), and prove the automation is in `org`.
        let r = sqlx::query("UPDATE automations SET updated_at = updated_at WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "automation" });
        }
        let (kind, sid) = subject_parts(subject);
        if perms.is_empty() {
            sqlx::query("DELETE FROM automation_grants WHERE automation_id = $1 AND subject_type = $2 AND subject_id = $3")
                .bind(id.to_string())
                .bind(kind)
                .bind(sid)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO automation_grants (automation_id, subject_type, subject_id, permissions) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (automation_id, subject_type, subject_id) DO UPDATE SET permissions = excluded.permissions",
            )
            .bind(id.to_string())
            .bind(kind)
            .bind(sid)
            .bind(perms.bits() as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_access(&self, org: OrgId, id: AutomationId, v: Visibility, grants: &[Grant], now: Timestamp) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("UPDATE automations SET visibility = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(v.as_str())
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "automation" });
        }
        sqlx::query("DELETE FROM automation_grants WHERE automation_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        for g in grants.iter().filter(|g| !g.permissions.is_empty()) {
            let (kind, sid) = subject_parts(g.subject);
            sqlx::query("INSERT INTO automation_grants (automation_id, subject_type, subject_id, permissions) VALUES ($1, $2, $3, $4)")
                .bind(id.to_string())
                .bind(kind)
                .bind(sid)
                .bind(g.permissions.bits() as i64)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::on_write(e, "a grant for this subject", "automation"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_grants(&self, id: AutomationId) -> Result<Vec<Grant>> {
        let rows = sqlx::query(
            "SELECT subject_type, subject_id, permissions FROM automation_grants WHERE automation_id = $1 \
             ORDER BY subject_type, subject_id",
        )
        .bind(id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn get_acl(&self, a: &Automation) -> Result<AutomationAcl> {
        let mut acl = AutomationAcl::new(a.org_id, a.visibility);
        for g in self.list_grants(a.id).await? {
            acl.grant(g.subject, g.permissions);
        }
        Ok(acl)
    }

    async fn list_automations_with_acls(&self, org: OrgId) -> Result<Vec<(Automation, AutomationAcl)>> {
        let automations = self.list_automations(org).await?;
        let rows = sqlx::query(
            "SELECT g.automation_id AS automation_id, g.subject_type AS subject_type, g.subject_id AS subject_id, \
             g.permissions AS permissions FROM automation_grants g JOIN automations a ON a.id = g.automation_id WHERE a.org_id = $1",
        )
        .bind(org.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut grants: HashMap<AutomationId, Vec<Grant>> = HashMap::new();
        for row in &rows {
            grants.entry(get_id(row, "automation_id")?).or_default().push(grant_from_row(row)?);
        }
        Ok(automations
            .into_iter()
            .map(|a| {
                let mut acl = AutomationAcl::new(a.org_id, a.visibility);
                for g in grants.remove(&a.id).unwrap_or_default() {
                    acl.grant(g.subject, g.permissions);
                }
                (a, acl)
            })
            .collect())
    }

    async fn update_automation(&self, org: OrgId, id: AutomationId, u: AutomationUpdate, now: Timestamp) -> Result<Automation> {
        // One statement that touches only the given fields: a concurrent
        // change (or a key rotation's re-seal) of another field is kept.
        let r = sqlx::query(
            "UPDATE automations SET name = COALESCE($3, name), name_key = COALESCE($4, name_key), \
             description = COALESCE($5, description), upstream_url = COALESCE($6, upstream_url), \
             upstream_token = CASE WHEN $7 IS NULL AND $9 = 1 THEN NULL ELSE COALESCE($7, upstream_token) END, updated_at = $8 \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(u.name.clone())
        .bind(u.name.as_deref().map(name_key))
        .bind(u.description)
        .bind(u.upstream_url)
        .bind(u.upstream_token_sealed)
        .bind(now.0)
        .bind(u.clear_upstream_token as i64)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::on_write(e, "an automation with this name", "automation"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "automation" });
        }
        self.get_automation(org, id).await?.ok_or(StoreError::NotFound { what: "automation" })
    }

    async fn list_all_automations(&self) -> Result<Vec<Automation>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM automations ORDER BY id")).fetch_all(self.pool()).await?;
        rows.iter().map(automation_from_row).collect()
    }

    async fn update_health(&self, id: AutomationId, state: &str, reason: Option<&str>, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE automations SET health = $2, health_reason = $3, health_checked_at = $4 WHERE id = $1")
            .bind(id.to_string())
            .bind(state.to_owned())
            .bind(reason.map(str::to_owned))
            .bind(now.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn reseal_automation_token(&self, id: AutomationId, old: &str, new: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE automations SET upstream_token = $3 WHERE id = $1 AND upstream_token = $2")
            .bind(id.to_string())
            .bind(old.to_owned())
            .bind(new.to_owned())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn append_usage_batch(&self, usage: &[UsageEvent], executions: &[ExecutionOp]) -> Result<()> {
        if usage.is_empty() && executions.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        // In order; runs of inserts become multi-row statements.
        let mut i = 0;
        while i < executions.len() {
            let run: Vec<&Execution> = executions[i..]
                .iter()
                .take(100)
                .map_while(|op| match op {
                    ExecutionOp::Insert(e) => Some(e),
                    _ => None,
                })
                .collect();
            if !run.is_empty() {
                i += run.len();
                // Skipped, not failed, when the automation was deleted meanwhile or
                // the upstream reused a kickoff id: an error would abort the batch.
                let rows = (0..run.len())
                    .map(|r| {
                        let cols = (1..=11).map(|c| self.param(r * 11 + c)).collect::<Vec<_>>();
                        if r == 0 {
                            // Name the columns once, for the WHERE below.
                            let names = EXECUTION_COLS.split(", ").map(str::trim);
                            format!("SELECT {}", cols.iter().zip(names).map(|(p, n)| format!("{p} AS {n}")).collect::<Vec<_>>().join(", "))
                        } else {
                            format!("SELECT {}", cols.join(", "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                let sql = format!(
                    "INSERT INTO executions ({EXECUTION_COLS}) SELECT * FROM ({rows}) AS x \
                     WHERE EXISTS (SELECT 1 FROM automations a WHERE a.id = x.automation_id) ON CONFLICT DO NOTHING"
                );
                let mut q = sqlx::query(&sql);
                for e in run {
                    q = q
                        .bind(e.id.to_string())
                        .bind(e.automation_id.to_string())
                        .bind(e.org_id.to_string())
                        .bind(e.user_id.map(|u| u.to_string()))
                        .bind(e.started_at.0)
                        .bind(e.inputs_bytes)
                        .bind(e.kickoff_id.clone())
                        .bind(e.state.clone())
                        .bind(e.upstream_latency_ms)
                        .bind(e.error.clone())
                        .bind(e.updated_at.0);
                }
                // A savepoint, because on PostgreSQL a failed statement (an
                // automation deleted between the check and the insert) would
                // otherwise abort the whole batch, usage events included.
                sqlx::query("SAVEPOINT executions_insert").execute(&mut *tx).await?;
                match q.execute(&mut *tx).await {
                    Ok(_) => {
                        sqlx::query("RELEASE SAVEPOINT executions_insert").execute(&mut *tx).await?;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a run of execution records was skipped");
                        sqlx::query("ROLLBACK TO SAVEPOINT executions_insert").execute(&mut *tx).await?;
                    }
                }
                continue;
            }
            if let ExecutionOp::State { automation_id, kickoff_id, state, at } = &executions[i] {
                sqlx::query("UPDATE executions SET state = $3, updated_at = $4 WHERE automation_id = $1 AND kickoff_id = $2")
                    .bind(automation_id.to_string())
                    .bind(kickoff_id.clone())
                    .bind(state.clone())
                    .bind(at.0)
                    .execute(&mut *tx)
                    .await?;
            }
            i += 1;
        }
        super::usage::write_usage(self, &mut tx, usage).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_executions(&self, automation: AutomationId, limit: i64) -> Result<Vec<Execution>> {
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLS} FROM executions WHERE automation_id = $1 ORDER BY started_at DESC, id LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(automation.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(execution_from_row).collect()
    }

    async fn list_execution_stats(&self, org: OrgId, since: Timestamp) -> Result<HashMap<AutomationId, ExecutionStats>> {
        let rows = sqlx::query(
            "SELECT automation_id, COUNT(*) AS n, \
             SUM(CASE WHEN error IS NOT NULL OR state = 'failed' THEN 1 ELSE 0 END) AS failures \
             FROM executions WHERE org_id = $1 AND started_at >= $2 GROUP BY automation_id",
        )
        .bind(org.to_string())
        .bind(since.0)
        .fetch_all(self.pool())
        .await?;
        let mut out: HashMap<AutomationId, ExecutionStats> = HashMap::new();
        for row in &rows {
            let e = out.entry(get_id(row, "automation_id")?).or_default();
            e.executions = get_i64(row, "n")?;
            e.failures = get_opt_i64(row, "failures")?.unwrap_or(0);
        }
        // The last execution of each automation (whenever it was).
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLS} FROM executions e WHERE org_id = $1 AND started_at = \
             (SELECT MAX(started_at) FROM executions x WHERE x.automation_id = e.automation_id)"
        ))
        .bind(org.to_string())
        .fetch_all(self.pool())
        .await?;
        for row in &rows {
            let ex = execution_from_row(row)?;
            let id = ex.automation_id;
            out.entry(id).or_default().last = Some(ex);
        }
        Ok(out)
    }
}
