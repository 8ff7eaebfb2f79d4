//! Automations, their visibility and their grants.

use super::{get_i64, get_id, get_opt_id, get_str, name_key, SqlStore};
use crate::{Automation, AutomationStore, Grant, NewAutomation, Result, StoreError};
use async_trait::async_trait;
use portcullis_domain::{AutomationAcl, AutomationId, OrgId, PermSet, Subject, Timestamp, Visibility};
use sqlx::any::AnyRow;

const COLS: &str = "id, org_id, name, description, visibility, created_by, created_at, updated_at";

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
        let id = AutomationId::new();
        sqlx::query(
            "INSERT INTO automations (id, org_id, name, name_key, description, visibility, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id.to_string())
        .bind(new.org_id.to_string())
        .bind(new.name.clone())
        .bind(name_key(&new.name))
        .bind(new.description.clone())
        .bind(new.visibility.as_str())
        .bind(new.created_by.map(|u| u.to_string()))
        .bind(now.0)
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

    async fn set_visibility(&self, org: OrgId, id: AutomationId, v: Visibility, now: Timestamp) -> Result<()> {
        let r = sqlx::query("UPDATE automations SET visibility = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(v.as_str())
            .bind(now.0)
            .execute(self.pool())
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "automation" });
        }
        Ok(())
    }

    async fn put_grant(&self, org: OrgId, id: AutomationId, subject: Subject, perms: PermSet) -> Result<()> {
        let mut tx = self.pool().begin().await?;
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

    async fn replace_access(&self, org: OrgId, id: AutomationId, v: Visibility, grants: &[Grant], now: Timestamp) -> Result<()> {
        let mut tx = self.pool().begin().await?;
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

    async fn load_acl(&self, a: &Automation) -> Result<AutomationAcl> {
        let mut acl = AutomationAcl::new(a.org_id, a.visibility);
        for g in self.list_grants(a.id).await? {
            acl.grant(g.subject, g.permissions);
        }
        Ok(acl)
    }
}
