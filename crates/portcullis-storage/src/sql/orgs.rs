//! Organizations, roles and memberships.

use super::owners::guard_last_owner;
use super::{get_i64, get_id, get_str, name_key, SqlStore};
use crate::{Member, Membership, OrgStore, Organization, Result, StoreError};
use async_trait::async_trait;
use portcullis_domain::{FeaturePermissions, OrgId, Role, RoleId, RoleKind, Timestamp, UserId};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

pub(crate) fn permissions_to_json(p: &FeaturePermissions) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        p.iter().map(|(f, l)| (f.as_str().to_owned(), l.as_str().into())).collect();
    serde_json::Value::Object(map).to_string()
}

fn permissions_from_json(s: &str) -> Result<FeaturePermissions> {
    let v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("role permissions: {e}")))?;
    let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or(""))).collect();
    FeaturePermissions::from_pairs(pairs).map_err(|e| StoreError::Corrupt(format!("role permissions: {e}")))
}

pub(crate) fn role_from_row(row: &AnyRow, prefix: &str) -> Result<Role> {
    let kind = get_str(row, &format!("{prefix}kind"))?;
    Ok(Role {
        id: get_id(row, &format!("{prefix}id"))?,
        org_id: get_id(row, &format!("{prefix}org_id"))?,
        name: get_str(row, &format!("{prefix}name"))?,
        key: get_str(row, &format!("{prefix}role_key"))?,
        kind: RoleKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("role kind `{kind}`")))?,
        permissions: permissions_from_json(&get_str(row, &format!("{prefix}permissions"))?)?,
    })
}

fn org_from_row(row: &AnyRow, prefix: &str) -> Result<Organization> {
    Ok(Organization {
        id: get_id(row, &format!("{prefix}id"))?,
        name: get_str(row, &format!("{prefix}name"))?,
        created_at: Timestamp(get_i64(row, &format!("{prefix}created_at"))?),
    })
}

fn member_from_row(row: &AnyRow) -> Result<Member> {
    Ok(Member {
        user: super::users::user_from_row(row)?,
        role: role_from_row(row, "r_")?,
        joined_at: Timestamp(get_i64(row, "joined_at")?),
    })
}

/// Members of `$1` (an organization), with `suffix` appended (more
/// conditions, an order).
fn member_query(suffix: &str) -> String {
    format!(
        "SELECT {USER_COLS}, m.created_at AS joined_at, {ROLE_COLS} FROM memberships m \
         JOIN users u ON u.id = m.user_id JOIN roles r ON r.id = m.role_id WHERE m.org_id = $1 {suffix}",
        USER_COLS = super::users::USER_COLS
    )
}

pub(crate) const ROLE_COLS: &str = "r.id AS r_id, r.org_id AS r_org_id, r.name AS r_name, r.role_key AS r_role_key, r.kind AS r_kind, r.permissions AS r_permissions";

async fn insert_role(
    tx: &mut Transaction<'static, Any>,
    org: OrgId,
    name: &str,
    key: &str,
    kind: RoleKind,
    perms: &FeaturePermissions,
    now: Timestamp,
) -> Result<Role> {
    let id = RoleId::new();
    sqlx::query(
        "INSERT INTO roles (id, org_id, name, name_key, role_key, kind, permissions, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id.to_string())
    .bind(org.to_string())
    .bind(name.to_owned())
    .bind(name_key(name))
    .bind(key.to_owned())
    .bind(kind.as_str())
    .bind(permissions_to_json(perms))
    .bind(now.0)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::on_write(e, "a role with this name", "organization"))?;
    Ok(Role { id, org_id: org, name: name.to_owned(), key: key.to_owned(), kind, permissions: *perms })
}

/// Serializes changes to one organization's memberships: the first write of
/// the transaction takes the organization row's lock (PostgreSQL) or the
/// database write lock (SQLite), so two concurrent demotions cannot both see
/// "another owner is left".
pub(crate) async fn lock_org(tx: &mut Transaction<'static, Any>, org: OrgId, now: Timestamp) -> Result<()> {
    let r = sqlx::query("UPDATE organizations SET updated_at = $2 WHERE id = $1")
        .bind(org.to_string())
        .bind(now.0)
        .execute(&mut **tx)
        .await?;
    if r.rows_affected() == 0 {
        return Err(StoreError::NotFound { what: "organization" });
    }
    Ok(())
}

#[async_trait]
impl OrgStore for SqlStore {
    async fn create_org(&self, name: &str, now: Timestamp) -> Result<Organization> {
        let id = OrgId::new();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO organizations (id, name, name_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id.to_string())
        .bind(name.to_owned())
        .bind(name_key(name))
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_write(e, "an organization with this name", "organization"))?;
        insert_role(&mut tx, id, "Owner", RoleKind::Owner.as_str(), RoleKind::Owner, &FeaturePermissions::owner(), now).await?;
        insert_role(&mut tx, id, "Member", RoleKind::Member.as_str(), RoleKind::Member, &FeaturePermissions::member(), now).await?;
        tx.commit().await?;
        Ok(Organization { id, name: name.to_owned(), created_at: now })
    }

    async fn get_org(&self, id: OrgId) -> Result<Option<Organization>> {
        let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| org_from_row(&r, "")).transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<Organization>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM organizations ORDER BY created_at, id")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| org_from_row(r, "")).collect()
    }

    async fn count_orgs(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM organizations").fetch_one(self.pool()).await?;
        get_i64(&row, "n")
    }

    async fn list_roles(&self, org: OrgId) -> Result<Vec<Role>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_COLS} FROM roles r WHERE r.org_id = $1 ORDER BY r.created_at, r.name_key"
        ))
        .bind(org.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| role_from_row(r, "r_")).collect()
    }

    async fn get_role(&self, org: OrgId, id: RoleId) -> Result<Option<Role>> {
        let row = sqlx::query(&format!("SELECT {ROLE_COLS} FROM roles r WHERE r.org_id = $1 AND r.id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| role_from_row(&r, "r_")).transpose()
    }

    async fn get_predefined_role(&self, org: OrgId, kind: RoleKind) -> Result<Role> {
        let row = sqlx::query(&format!("SELECT {ROLE_COLS} FROM roles r WHERE r.org_id = $1 AND r.kind = $2"))
            .bind(org.to_string())
            .bind(kind.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound { what: "role" })?;
        role_from_row(&row, "r_")
    }

    async fn create_role(&self, org: OrgId, name: &str, perms: FeaturePermissions, now: Timestamp) -> Result<Role> {
        // The first free key for this name; the unique index decides a race
        // between two new roles whose names make the same key: the loser
        // reads the keys again and takes the next free one (each round,
        // one of the contenders wins, so a few rounds are always enough).
        for _ in 0..16 {
            let taken: Vec<String> = sqlx::query("SELECT role_key FROM roles WHERE org_id = $1")
                .bind(org.to_string())
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| get_str(r, "role_key"))
                .collect::<Result<_>>()?;
            let key = portcullis_domain::custom_role_keys(name).find(|k| !taken.contains(k)).expect("an endless list of keys");
            let mut tx = self.write_tx().await?;
            let inserted = insert_role(&mut tx, org, name, &key, RoleKind::Custom, &perms, now).await;
            match inserted {
                Ok(role) => {
                    tx.commit().await?;
                    return Ok(role);
                }
                Err(StoreError::Conflict { what }) => {
                    // Give the write lock back before looking at why.
                    drop(tx);
                    if self.list_roles(org).await?.iter().any(|r| name_key(&r.name) == name_key(name)) {
                        return Err(StoreError::Conflict { what });
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict { what: "a role with this name" })
    }

    async fn update_role(
        &self,
        org: OrgId,
        id: RoleId,
        name: Option<&str>,
        perms: Option<FeaturePermissions>,
        now: Timestamp,
    ) -> Result<Role> {
        let current = self.get_role(org, id).await?.ok_or(StoreError::NotFound { what: "role" })?;
        if current.kind == RoleKind::Owner && perms.is_some_and(|p| p != FeaturePermissions::owner()) {
            return Err(StoreError::Predefined);
        }
        let new_name = name.unwrap_or(&current.name);
        let new_perms = perms.unwrap_or(current.permissions);
        let r = sqlx::query(
            "UPDATE roles SET name = $3, name_key = $4, permissions = $5, updated_at = $6 \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(new_name.to_owned())
        .bind(name_key(new_name))
        .bind(permissions_to_json(&new_perms))
        .bind(now.0)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::on_write(e, "a role with this name", "role"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "role" });
        }
        Ok(Role { name: new_name.to_owned(), permissions: new_perms, ..current })
    }

    async fn delete_role(&self, org: OrgId, id: RoleId) -> Result<()> {
        let mut tx = self.write_tx().await?;
        // Only custom roles; the CHECK on kind happens in the WHERE clause.
        let r = sqlx::query("DELETE FROM roles WHERE org_id = $1 AND id = $2 AND kind = 'custom'")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if crate::error::is_foreign_key_violation(d.as_ref()) => StoreError::InUse { what: "role" },
                _ => StoreError::db(e),
            })?;
        if r.rows_affected() == 0 {
            drop(tx);
            return match self.get_role(org, id).await? {
                Some(_) => Err(StoreError::Predefined),
                None => Err(StoreError::NotFound { what: "role" }),
            };
        }
        sqlx::query("DELETE FROM automation_grants WHERE subject_type = 'role' AND subject_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_member(&self, org: OrgId, user: UserId, role: RoleId, now: Timestamp) -> Result<()> {
        sqlx::query("INSERT INTO memberships (org_id, user_id, role_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(role.to_string())
            .bind(now.0)
            .execute(self.pool())
            .await
            .map_err(|e| StoreError::on_write(e, "this membership", "organization, user or role"))?;
        Ok(())
    }

    async fn update_member_role(&self, org: OrgId, user: UserId, role: RoleId, now: Timestamp) -> Result<()> {
        let mut tx = self.write_tx().await?;
        lock_org(&mut tx, org, now).await?;
        let new_role = sqlx::query("SELECT kind FROM roles WHERE org_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(role.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound { what: "role" })?;
        if get_str(&new_role, "kind")? != RoleKind::Owner.as_str() {
            guard_last_owner(&mut tx, org, user).await?;
        }
        let r = sqlx::query("UPDATE memberships SET role_id = $3 WHERE org_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(role.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::on_write(e, "this membership", "role"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "member" });
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_member(&self, org: OrgId, user: UserId, now: Timestamp) -> Result<()> {
        let mut tx = self.write_tx().await?;
        lock_org(&mut tx, org, now).await?;
        guard_last_owner(&mut tx, org, user).await?;
        sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        // Grants on this organization's automations go too, so that a member
        // who comes back later does not find old access waiting.
        sqlx::query(
            "DELETE FROM automation_grants WHERE subject_type = 'user' AND subject_id = $2 \
             AND automation_id IN (SELECT id FROM automations WHERE org_id = $1)",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_members(&self, org: OrgId) -> Result<Vec<Member>> {
        let rows = sqlx::query(&member_query("ORDER BY u.email, u.id"))
        .bind(org.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(member_from_row).collect()
    }

    async fn get_member(&self, org: OrgId, user: UserId) -> Result<Option<Member>> {
        let row = sqlx::query(&member_query("AND m.user_id = $2"))
        .bind(org.to_string())
        .bind(user.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(member_from_row).transpose()
    }

    async fn list_memberships(&self, user: UserId) -> Result<Vec<Membership>> {
        let rows = sqlx::query(&format!(
            "SELECT o.id AS o_id, o.name AS o_name, o.created_at AS o_created_at, {ROLE_COLS} \
             FROM memberships m JOIN organizations o ON o.id = m.org_id JOIN roles r ON r.id = m.role_id \
             WHERE m.user_id = $1 ORDER BY m.created_at, o.id"
        ))
        .bind(user.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok(Membership { org: org_from_row(row, "o_")?, role: role_from_row(row, "r_")? }))
            .collect()
    }
}
