//! Environment variables (values sealed by the server) and the key check.

use super::{get_i64, get_id, get_opt_id, get_str, SqlStore};
use crate::{EnvStore, EnvVar, Result, StoreError};
use async_trait::async_trait;
use portcullis_domain::{OrgId, Timestamp};
use sqlx::any::AnyRow;

const COLS: &str = "id, org_id, automation_id, name, sealed_value, value_bytes, updated_by, updated_at";

fn env_from_row(row: &AnyRow) -> Result<EnvVar> {
    Ok(EnvVar {
        id: get_id(row, "id")?,
        org_id: get_id(row, "org_id")?,
        automation_id: get_opt_id(row, "automation_id")?,
        name: get_str(row, "name")?,
        sealed_value: get_str(row, "sealed_value")?,
        value_bytes: get_i64(row, "value_bytes")?,
        updated_by: get_opt_id(row, "updated_by")?,
        updated_at: Timestamp(get_i64(row, "updated_at")?),
    })
}

#[async_trait]
impl EnvStore for SqlStore {
    async fn upsert_env(&self, v: &EnvVar) -> Result<EnvVar> {
        let scope = v.automation_id.map(|a| a.to_string()).unwrap_or_default();
        // The row keeps its id when it exists already (the id is part of the
        // sealed value's associated data, so the caller sealed for this id).
        sqlx::query(
            "INSERT INTO env_vars (id, org_id, automation_id, scope_key, name, sealed_value, value_bytes, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (org_id, scope_key, name) DO UPDATE SET sealed_value = excluded.sealed_value, \
             value_bytes = excluded.value_bytes, updated_by = excluded.updated_by, updated_at = excluded.updated_at \
             WHERE env_vars.id = excluded.id",
        )
        .bind(v.id.to_string())
        .bind(v.org_id.to_string())
        .bind(v.automation_id.map(|a| a.to_string()))
        .bind(scope.clone())
        .bind(v.name.clone())
        .bind(v.sealed_value.clone())
        .bind(v.value_bytes)
        .bind(v.updated_by.map(|u| u.to_string()))
        .bind(v.updated_at.0)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::on_write(e, "a variable with this name", "organization or automation"))?;
        let row = sqlx::query(&format!("SELECT {COLS} FROM env_vars WHERE org_id = $1 AND scope_key = $2 AND name = $3"))
            .bind(v.org_id.to_string())
            .bind(scope)
            .bind(v.name.clone())
            .fetch_one(self.pool())
            .await?;
        let stored = env_from_row(&row)?;
        if stored.id != v.id {
            // Another id holds this name: the caller must seal for that id.
            return Err(StoreError::Conflict { what: "a variable with this name" });
        }
        Ok(stored)
    }

    async fn list_env(&self, org: OrgId) -> Result<Vec<EnvVar>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM env_vars WHERE org_id = $1 ORDER BY scope_key, name"))
            .bind(org.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(env_from_row).collect()
    }

    async fn get_env(&self, org: OrgId, id: uuid::Uuid) -> Result<Option<EnvVar>> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM env_vars WHERE org_id = $1 AND id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| env_from_row(&r)).transpose()
    }

    async fn delete_env(&self, org: OrgId, id: uuid::Uuid) -> Result<bool> {
        let r = sqlx::query("DELETE FROM env_vars WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn list_all_env(&self) -> Result<Vec<EnvVar>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM env_vars ORDER BY id")).fetch_all(self.pool()).await?;
        rows.iter().map(env_from_row).collect()
    }

    async fn reseal_env(&self, id: uuid::Uuid, old: &str, new: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE env_vars SET sealed_value = $3 WHERE id = $1 AND sealed_value = $2")
            .bind(id.to_string())
            .bind(old.to_owned())
            .bind(new.to_owned())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn get_key_check(&self) -> Result<Option<String>> {
        let row = sqlx::query("SELECT sealed FROM key_check WHERE id = 1").fetch_optional(self.pool()).await?;
        row.map(|r| get_str(&r, "sealed")).transpose()
    }

    async fn get_or_create_key_check(&self, sealed: &str) -> Result<String> {
        sqlx::query("INSERT INTO key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(sealed.to_owned())
            .execute(self.pool())
            .await?;
        self.get_key_check().await?.ok_or(StoreError::NotFound { what: "key check" })
    }

    async fn update_key_check(&self, sealed: &str) -> Result<()> {
        sqlx::query("UPDATE key_check SET sealed = $1 WHERE id = 1").bind(sealed.to_owned()).execute(self.pool()).await?;
        Ok(())
    }
}
