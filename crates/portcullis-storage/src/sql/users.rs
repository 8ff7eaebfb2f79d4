//! Users.

use super::{get_i64, get_id, get_opt_i64, get_opt_str, get_str, SqlStore};
use crate::{NewUser, Result, StoreError, User, UserStore};
use async_trait::async_trait;
use portcullis_domain::{OrgId, Timestamp, UserId};
use sqlx::any::AnyRow;

pub(crate) const USER_COLS: &str = "u.id AS u_id, u.email AS u_email, u.display_name AS u_display_name, \
     u.password_hash AS u_password_hash, u.factory_admin AS u_factory_admin, \
     u.disabled_at AS u_disabled_at, u.created_at AS u_created_at";

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: get_id(row, "u_id")?,
        email: get_str(row, "u_email")?,
        display_name: get_str(row, "u_display_name")?,
        password_hash: get_opt_str(row, "u_password_hash")?,
        factory_admin: get_i64(row, "u_factory_admin")? != 0,
        disabled_at: get_opt_i64(row, "u_disabled_at")?.map(Timestamp),
        created_at: Timestamp(get_i64(row, "u_created_at")?),
    })
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, new: NewUser, now: Timestamp) -> Result<User> {
        let id = UserId::new();
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, factory_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(new.email.clone())
        .bind(new.display_name.clone())
        .bind(new.password_hash.clone())
        .bind(new.factory_admin as i64)
        .bind(now.0)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::on_write(e, "a user with this e-mail address", "user"))?;
        Ok(User {
            id,
            email: new.email,
            display_name: new.display_name,
            password_hash: new.password_hash,
            factory_admin: new.factory_admin,
            disabled_at: None,
            created_at: now,
        })
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn find_local_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users u WHERE u.email = $1 AND u.idp_issuer IS NULL"
        ))
        .bind(email.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(self.pool()).await?;
        get_i64(&row, "n")
    }

    async fn update_password_hash(&self, id: UserId, hash: &str) -> Result<()> {
        let r = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(hash.to_owned())
            .execute(self.pool())
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "user" });
        }
        Ok(())
    }

    async fn update_user_disabled(&self, id: UserId, disabled: bool, now: Timestamp) -> Result<()> {
        let r = sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(disabled.then_some(now.0))
            .execute(self.pool())
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "user" });
        }
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        let mut tx = self.write_tx().await?;
        // Write first, so that SQLite takes its write lock now rather than
        // failing to upgrade a read snapshot later.
        let r = sqlx::query("UPDATE users SET disabled_at = disabled_at WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "user" });
        }
        // Owned organizations, locked one by one (their row first, as
        // change_member_role does), then the last-owner rule for each.
        let owned = sqlx::query(
            "SELECT m.org_id AS org_id FROM memberships m JOIN roles r ON r.id = m.role_id \
             WHERE m.user_id = $1 AND r.kind = 'owner' ORDER BY m.org_id",
        )
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await?;
        for row in &owned {
            let org: OrgId = get_id(row, "org_id")?;
            sqlx::query("UPDATE organizations SET updated_at = updated_at WHERE id = $1")
                .bind(org.to_string())
                .execute(&mut *tx)
                .await?;
            super::owners::guard_last_owner(&mut tx, org, id).await?;
        }
        sqlx::query("DELETE FROM automation_grants WHERE subject_type = 'user' AND subject_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM users WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "user" });
        }
        tx.commit().await?;
        Ok(())
    }
}
