//! SCIM provisioning: tokens, provisioned users (with their accounts and
//! memberships) and groups. Uniqueness of `userName`, `externalId` and a
//! group's `displayName` is the schema's (UNIQUE per organization); a
//! change is written only over the version it was computed from.

use super::owners::guard_last_owner;
use super::orgs::lock_org;
use super::{get_i64, get_id, get_opt_i64, get_opt_id, get_opt_str, get_str, SqlStore};
use crate::{AccessChange, NewScimToken, Result, ScimGroup, ScimGroupFields, ScimKey, ScimMember, ScimStore, ScimToken, ScimUser, ScimUserFields, StoreError};
use async_trait::async_trait;
use portcullis_domain::group_rules::KnownGroup;
use portcullis_domain::{OrgId, Timestamp, TokenHash, UserId};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use std::collections::HashMap;
use uuid::Uuid;

/// The `idp_issuer` of an account provisioned before its first sign-in.
const UNLINKED: &str = "scim";

/// How often a token's `last_used_at` is brought up to date.
const LAST_USED_EVERY_MS: i64 = 60_000;

const USER_COLS: &str = "id, org_id, user_id, user_name, external_id, display_name, active, document, version, created_at, updated_at";
const GROUP_COLS: &str = "id, org_id, display_name, external_id, document, version, created_at, updated_at";

fn token_from_row(row: &AnyRow) -> Result<ScimToken> {
    Ok(ScimToken {
        id: get_id(row, "id")?,
        org_id: get_id(row, "org_id")?,
        name: get_str(row, "name")?,
        created_by: get_opt_id(row, "created_by")?,
        created_at: Timestamp(get_i64(row, "created_at")?),
        last_used_at: get_opt_i64(row, "last_used_at")?.map(Timestamp),
        revoked_at: get_opt_i64(row, "revoked_at")?.map(Timestamp),
    })
}

fn user_from_row(row: &AnyRow) -> Result<ScimUser> {
    let user_name = get_str(row, "user_name")?;
    Ok(ScimUser {
        id: get_id(row, "id")?,
        org_id: get_id(row, "org_id")?,
        user_id: get_id(row, "user_id")?,
        fields: ScimUserFields {
            email: user_name.clone(),
            user_name,
            external_id: get_opt_str(row, "external_id")?,
            display_name: get_opt_str(row, "display_name")?,
            active: get_i64(row, "active")? != 0,
            document: get_str(row, "document")?,
        },
        version: get_i64(row, "version")?,
        created_at: Timestamp(get_i64(row, "created_at")?),
        updated_at: Timestamp(get_i64(row, "updated_at")?),
    })
}

fn group_from_row(row: &AnyRow) -> Result<ScimGroup> {
    Ok(ScimGroup {
        id: get_id(row, "id")?,
        org_id: get_id(row, "org_id")?,
        fields: ScimGroupFields { display_name: get_str(row, "display_name")?, external_id: get_opt_str(row, "external_id")?, document: get_str(row, "document")? },
        members: Vec::new(),
        version: get_i64(row, "version")?,
        created_at: Timestamp(get_i64(row, "created_at")?),
        updated_at: Timestamp(get_i64(row, "updated_at")?),
    })
}

fn unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::on_write(e, what, "organization")
}

impl SqlStore {
    /// The rows of `sql` for the SCIM resources `ids` of `org`, 500 ids per
    /// statement: `{org}` in `sql` becomes the organization's parameter and
    /// `{ids}` the list of the others.
    async fn rows_for_ids(&self, sql: &str, org: OrgId, ids: &[Uuid]) -> Result<Vec<AnyRow>> {
        let mut rows = Vec::new();
        for chunk in ids.chunks(500) {
            let params = (2..chunk.len() + 2).map(|n| self.param(n)).collect::<Vec<_>>().join(", ");
            let sql = sql.replace("{org}", &self.param(1)).replace("{ids}", &params);
            let mut q = sqlx::query(&sql).bind(org.to_string());
            for id in chunk {
                q = q.bind(id.to_string());
            }
            rows.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(rows)
    }

    async fn user_in_tx(tx: &mut Transaction<'static, Any>, org: OrgId, id: Uuid) -> Result<Option<ScimUser>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM scim_users WHERE org_id = $1 AND id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Ends the person's access to `org`: the membership (its role kept for
    /// a reactivation), every browser session and CLI login.
    async fn end_access(tx: &mut Transaction<'static, Any>, org: OrgId, scim_id: Uuid, user: UserId, now: Timestamp) -> Result<()> {
        lock_org(tx, org, now).await?;
        guard_last_owner(tx, org, user).await?;
        sqlx::query("UPDATE scim_users SET role_id = (SELECT role_id FROM memberships WHERE org_id = $1 AND user_id = $2) WHERE id = $3")
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(scim_id.to_string())
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2").bind(org.to_string()).bind(user.to_string()).execute(&mut **tx).await?;
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL").bind(user.to_string()).bind(now.0).execute(&mut **tx).await?;
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL").bind(user.to_string()).bind(now.0).execute(&mut **tx).await?;
        Ok(())
    }

    /// Gives the person a membership of `org` again: the role they held, or
    /// Member when that role is gone.
    async fn restore_access(tx: &mut Transaction<'static, Any>, org: OrgId, scim_id: Uuid, user: UserId, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role_id, created_at) \
             SELECT $1, $2, COALESCE((SELECT r.id FROM roles r JOIN scim_users s ON s.role_id = r.id WHERE s.id = $3 AND r.org_id = $1), \
                                     (SELECT id FROM roles WHERE org_id = $1 AND kind = 'member')), $4 \
             WHERE 1 = 1 ON CONFLICT (org_id, user_id) DO NOTHING",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(scim_id.to_string())
        .bind(now.0)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE scim_users SET role_id = NULL WHERE id = $1").bind(scim_id.to_string()).execute(&mut **tx).await?;
        Ok(())
    }

    async fn group_members(&self, groups: &mut [ScimGroup]) -> Result<()> {
        if groups.is_empty() {
            return Ok(());
        }
        let index: HashMap<Uuid, usize> = groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        let params: Vec<String> = (1..=groups.len()).map(|n| self.param(n)).collect();
        let sql = format!(
            "SELECT m.group_id, m.member_id, COALESCE(u.display_name, u.user_name) AS display FROM scim_group_members m \
             JOIN scim_users u ON u.id = m.member_id WHERE m.group_id IN ({}) ORDER BY m.group_id, u.user_name_key",
            params.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for g in groups.iter() {
            q = q.bind(g.id.to_string());
        }
        for row in q.fetch_all(self.pool()).await? {
            let g: Uuid = get_id(&row, "group_id")?;
            if let Some(&i) = index.get(&g) {
                groups[i].members.push(ScimMember { id: get_id(&row, "member_id")?, display: get_str(&row, "display")? });
            }
        }
        Ok(())
    }

    async fn change_members(&self, tx: &mut Transaction<'static, Any>, org: OrgId, group: Uuid, add: &[Uuid], remove: &[Uuid]) -> Result<()> {
        for chunk in remove.chunks(500) {
            let params: Vec<String> = (2..chunk.len() + 2).map(|n| self.param(n)).collect();
            let sql = format!("DELETE FROM scim_group_members WHERE group_id = {} AND member_id IN ({})", self.param(1), params.join(", "));
            let mut q = sqlx::query(&sql);
            q = q.bind(group.to_string());
            for m in chunk {
                q = q.bind(m.to_string());
            }
            q.execute(&mut **tx).await?;
        }
        for chunk in add.chunks(300) {
            let rows: Vec<String> = (0..chunk.len()).map(|i| format!("({}, {}, {})", self.param(3 * i + 1), self.param(3 * i + 2), self.param(3 * i + 3))).collect();
            let sql = format!("INSERT INTO scim_group_members (org_id, group_id, member_id) VALUES {} ON CONFLICT (group_id, member_id) DO NOTHING", rows.join(", "));
            let mut q = sqlx::query(&sql);
            for m in chunk {
                q = q.bind(org.to_string()).bind(group.to_string()).bind(m.to_string());
            }
            q.execute(&mut **tx).await.map_err(|e| StoreError::on_write(e, "group member", "group member (a User of this organization)"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl ScimStore for SqlStore {
    async fn create_scim_token(&self, n: &NewScimToken) -> Result<ScimToken> {
        sqlx::query("INSERT INTO scim_tokens (id, org_id, name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(n.id.to_string())
            .bind(n.org_id.to_string())
            .bind(n.name.clone())
            .bind(n.token_hash.as_str().to_owned())
            .bind(n.created_by.to_string())
            .bind(n.created_at.0)
            .execute(self.pool())
            .await
            .map_err(|e| StoreError::on_write(e, "SCIM token", "organization or creator"))?;
        Ok(ScimToken { id: n.id, org_id: n.org_id, name: n.name.clone(), created_by: Some(n.created_by), created_at: n.created_at, last_used_at: None, revoked_at: None })
    }

    async fn list_scim_tokens(&self, org: OrgId) -> Result<Vec<ScimToken>> {
        let rows = sqlx::query("SELECT id, org_id, name, created_by, created_at, last_used_at, revoked_at FROM scim_tokens WHERE org_id = $1 ORDER BY created_at DESC, id")
            .bind(org.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_scim_token(&self, org: OrgId, id: Uuid, now: Timestamp) -> Result<bool> {
        let r = sqlx::query("UPDATE scim_tokens SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(now.0)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn use_scim_token(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<ScimToken>> {
        // Read on every request (a revoked token stops at once, on every
        // replica); `last_used_at` is written at most once a minute, so that
        // a lookup does not wait for a commit.
        let row = sqlx::query("SELECT id, org_id, name, created_by, created_at, last_used_at, revoked_at FROM scim_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash.as_str().to_owned())
            .fetch_optional(self.pool())
            .await?;
        let Some(mut token) = row.as_ref().map(token_from_row).transpose()? else { return Ok(None) };
        if !matches!(token.last_used_at, Some(t) if now.0 - t.0 < LAST_USED_EVERY_MS) {
            sqlx::query("UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1").bind(token.id.to_string()).bind(now.0).execute(self.pool()).await?;
            token.last_used_at = Some(now);
        }
        Ok(Some(token))
    }

    async fn create_scim_user(&self, org: OrgId, id: Uuid, f: &ScimUserFields, now: Timestamp) -> Result<ScimUser> {
        let account = UserId(Uuid::new_v4());
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO users (id, email, display_name, factory_admin, idp_issuer, idp_subject, created_at) VALUES ($1, $2, $3, 0, $4, $5, $6)")
            .bind(account.to_string())
            .bind(f.email.to_lowercase())
            .bind(f.display_name.clone().unwrap_or_else(|| f.user_name.clone()))
            .bind(UNLINKED)
            .bind(id.to_string())
            .bind(now.0)
            .execute(&mut *tx)
            .await
            .map_err(unique("SCIM user"))?;
        sqlx::query(
            "INSERT INTO scim_users (id, org_id, user_id, user_name, user_name_key, external_id, display_name, active, document, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(account.to_string())
        .bind(f.user_name.clone())
        .bind(f.user_name.to_lowercase())
        .bind(f.external_id.clone())
        .bind(f.display_name.clone())
        .bind(f.active as i64)
        .bind(f.document.clone())
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(unique("a User with this userName or externalId"))?;
        if f.active {
            sqlx::query("INSERT INTO memberships (org_id, user_id, role_id, created_at) SELECT $1, $2, id, $3 FROM roles WHERE org_id = $1 AND kind = 'member'")
                .bind(org.to_string())
                .bind(account.to_string())
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
        }
        let user = Self::user_in_tx(&mut tx, org, id).await?.ok_or(StoreError::NotFound { what: "SCIM user" })?;
        tx.commit().await?;
        Ok(user)
    }

    async fn get_scim_user(&self, org: OrgId, id: Uuid) -> Result<Option<ScimUser>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM scim_users WHERE org_id = $1 AND id = $2"))
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn find_scim_users(&self, org: OrgId, key: ScimKey, value: &str) -> Result<Vec<ScimUser>> {
        let (col, v) = match key {
            ScimKey::Name => ("user_name_key", value.to_lowercase()),
            ScimKey::ExternalId => ("external_id", value.to_owned()),
        };
        let rows = sqlx::query(&format!("SELECT {USER_COLS} FROM scim_users WHERE org_id = $1 AND {col} = $2")).bind(org.to_string()).bind(v).fetch_all(self.pool()).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn list_scim_users(&self, org: OrgId, offset: i64, limit: Option<i64>) -> Result<(Vec<ScimUser>, i64)> {
        let total = get_i64(&sqlx::query("SELECT COUNT(*) AS n FROM scim_users WHERE org_id = $1").bind(org.to_string()).fetch_one(self.pool()).await?, "n")?;
        let rows = sqlx::query(&format!("SELECT {USER_COLS} FROM scim_users WHERE org_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"))
            .bind(org.to_string())
            .bind(limit.unwrap_or(i64::MAX))
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        Ok((rows.iter().map(user_from_row).collect::<Result<_>>()?, total))
    }

    async fn update_scim_user(&self, org: OrgId, id: Uuid, f: &ScimUserFields, if_version: Option<i64>, now: Timestamp) -> Result<(ScimUser, AccessChange)> {
        let mut tx = self.write_tx().await?;
        let old = Self::user_in_tx(&mut tx, org, id).await?.ok_or(StoreError::NotFound { what: "User" })?;
        if if_version.is_some_and(|v| v != old.version) {
            return Err(StoreError::Stale);
        }
        let change = match (old.fields.active, f.active) {
            (true, false) => {
                Self::end_access(&mut tx, org, id, old.user_id, now).await?;
                AccessChange::Ended
            }
            (false, true) => {
                Self::restore_access(&mut tx, org, id, old.user_id, now).await?;
                AccessChange::Restored
            }
            _ => AccessChange::Unchanged,
        };
        let r = sqlx::query(
            "UPDATE scim_users SET user_name = $3, user_name_key = $4, external_id = $5, display_name = $6, active = $7, document = $8, \
             version = version + 1, updated_at = $9 WHERE org_id = $1 AND id = $2 AND version = $10",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(f.user_name.clone())
        .bind(f.user_name.to_lowercase())
        .bind(f.external_id.clone())
        .bind(f.display_name.clone())
        .bind(f.active as i64)
        .bind(f.document.clone())
        .bind(now.0)
        .bind(old.version)
        .execute(&mut *tx)
        .await
        .map_err(unique("a User with this userName or externalId"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Stale);
        }
        sqlx::query("UPDATE users SET email = $2, display_name = $3 WHERE id = $1")
            .bind(old.user_id.to_string())
            .bind(f.email.to_lowercase())
            .bind(f.display_name.clone().unwrap_or_else(|| f.user_name.clone()))
            .execute(&mut *tx)
            .await?;
        let user = Self::user_in_tx(&mut tx, org, id).await?.ok_or(StoreError::NotFound { what: "User" })?;
        tx.commit().await?;
        Ok((user, change))
    }

    async fn delete_scim_user(&self, org: OrgId, id: Uuid, now: Timestamp) -> Result<Option<UserId>> {
        let mut tx = self.write_tx().await?;
        let Some(old) = Self::user_in_tx(&mut tx, org, id).await? else { return Ok(None) };
        Self::end_access(&mut tx, org, id, old.user_id, now).await?;
        sqlx::query("DELETE FROM scim_users WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        // The account stays (its audit history refers to it); with no
        // membership left anywhere it is disabled, so that a sign-in cannot
        // bring the person back just in time.
        sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)")
            .bind(old.user_id.to_string())
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(old.user_id))
    }

    async fn end_scim_membership(&self, org: OrgId, id: Uuid, now: Timestamp) -> Result<Option<UserId>> {
        let mut tx = self.write_tx().await?;
        let Some(u) = Self::user_in_tx(&mut tx, org, id).await? else { return Ok(None) };
        let held = sqlx::query("SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $2").bind(org.to_string()).bind(u.user_id.to_string()).fetch_optional(&mut *tx).await?;
        if held.is_none() {
            return Ok(None);
        }
        Self::end_access(&mut tx, org, id, u.user_id, now).await?;
        tx.commit().await?;
        Ok(Some(u.user_id))
    }

    async fn list_scim_users_without_membership(&self, org: OrgId, ids: &[Uuid]) -> Result<Vec<(Uuid, UserId)>> {
        let sql = "SELECT s.id, s.user_id FROM scim_users s WHERE s.org_id = {org} AND s.active = 1 AND s.id IN ({ids}) \
                   AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = s.org_id AND m.user_id = s.user_id)";
        self.rows_for_ids(sql, org, ids).await?.iter().map(|row| Ok((get_id(row, "id")?, get_id(row, "user_id")?))).collect()
    }

    async fn list_scim_member_groups(&self, org: OrgId, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<KnownGroup>>> {
        let sql = "SELECT m.member_id, g.id, g.display_name, g.external_id FROM scim_group_members m JOIN scim_groups g ON g.id = m.group_id \
                   WHERE m.org_id = {org} AND m.member_id IN ({ids})";
        let mut out: HashMap<Uuid, Vec<KnownGroup>> = HashMap::new();
        for row in self.rows_for_ids(sql, org, ids).await? {
            let ids = std::iter::once(get_str(&row, "id")?).chain(get_opt_str(&row, "external_id")?).collect();
            out.entry(get_id(&row, "member_id")?).or_default().push(KnownGroup { display_name: get_str(&row, "display_name")?, ids, member: true });
        }
        Ok(out)
    }

    async fn list_scim_user_groups(&self, org: OrgId, users: &[Uuid]) -> Result<HashMap<Uuid, Vec<ScimMember>>> {
        let sql = "SELECT m.member_id, g.id, g.display_name FROM scim_group_members m JOIN scim_groups g ON g.id = m.group_id \
                   WHERE m.org_id = {org} AND m.member_id IN ({ids}) ORDER BY g.display_name_key";
        let mut out: HashMap<Uuid, Vec<ScimMember>> = HashMap::new();
        for row in self.rows_for_ids(sql, org, users).await? {
            out.entry(get_id(&row, "member_id")?).or_default().push(ScimMember { id: get_id(&row, "id")?, display: get_str(&row, "display_name")? });
        }
        Ok(out)
    }

    async fn link_scim_user(&self, issuer: &str, subject: &str, verified_email: Option<&str>) -> Result<Option<UserId>> {
        // By the IdP's subject as the provisioned externalId, or by a
        // verified address as the userName; never by an unverified address.
        let row = sqlx::query(
            "SELECT s.user_id FROM scim_users s JOIN users u ON u.id = s.user_id \
             WHERE u.idp_issuer = $1 AND (s.external_id = $2 OR ($3 <> '' AND s.user_name_key = $3)) \
             ORDER BY CASE WHEN s.external_id = $2 THEN 0 ELSE 1 END, s.created_at LIMIT 1",
        )
        .bind(UNLINKED)
        .bind(subject.to_owned())
        .bind(verified_email.map(str::to_lowercase).unwrap_or_default())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user: UserId = get_id(&row, "user_id")?;
        let r = sqlx::query("UPDATE users SET idp_issuer = $2, idp_subject = $3 WHERE id = $1 AND idp_issuer = $4")
            .bind(user.to_string())
            .bind(issuer.to_owned())
            .bind(subject.to_owned())
            .bind(UNLINKED)
            .execute(self.pool())
            .await
            // Someone already signed in with this subject: that account stays theirs.
            .map_err(|e| StoreError::on_write(e, "an account for this IdP subject", "user"));
        match r {
            Ok(r) if r.rows_affected() == 1 => Ok(Some(user)),
            Ok(_) | Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_scim_deactivated_orgs(&self, user: UserId) -> Result<Vec<OrgId>> {
        let rows = sqlx::query("SELECT org_id FROM scim_users WHERE user_id = $1 AND active = 0").bind(user.to_string()).fetch_all(self.pool()).await?;
        rows.iter().map(|r| get_id(r, "org_id")).collect()
    }

    async fn create_scim_group(&self, org: OrgId, id: Uuid, f: &ScimGroupFields, members: &[Uuid], now: Timestamp) -> Result<ScimGroup> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO scim_groups (id, org_id, display_name, display_name_key, external_id, document, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(f.display_name.clone())
        .bind(f.display_name.to_lowercase())
        .bind(f.external_id.clone())
        .bind(f.document.clone())
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(unique("a Group with this displayName or externalId"))?;
        self.change_members(&mut tx, org, id, members, &[]).await?;
        tx.commit().await?;
        self.get_scim_group(org, id).await?.ok_or(StoreError::NotFound { what: "Group" })
    }

    async fn get_scim_group(&self, org: OrgId, id: Uuid) -> Result<Option<ScimGroup>> {
        let row = sqlx::query(&format!("SELECT {GROUP_COLS} FROM scim_groups WHERE org_id = $1 AND id = $2")).bind(org.to_string()).bind(id.to_string()).fetch_optional(self.pool()).await?;
        let Some(row) = row else { return Ok(None) };
        let mut g = [group_from_row(&row)?];
        self.group_members(&mut g).await?;
        let [g] = g;
        Ok(Some(g))
    }

    async fn find_scim_groups(&self, org: OrgId, key: ScimKey, value: &str) -> Result<Vec<ScimGroup>> {
        let (col, v) = match key {
            ScimKey::Name => ("display_name_key", value.to_lowercase()),
            ScimKey::ExternalId => ("external_id", value.to_owned()),
        };
        let rows = sqlx::query(&format!("SELECT {GROUP_COLS} FROM scim_groups WHERE org_id = $1 AND {col} = $2")).bind(org.to_string()).bind(v).fetch_all(self.pool()).await?;
        let mut groups = rows.iter().map(group_from_row).collect::<Result<Vec<_>>>()?;
        self.group_members(&mut groups).await?;
        Ok(groups)
    }

    async fn list_scim_groups(&self, org: OrgId, offset: i64, limit: Option<i64>) -> Result<(Vec<ScimGroup>, i64)> {
        let total = get_i64(&sqlx::query("SELECT COUNT(*) AS n FROM scim_groups WHERE org_id = $1").bind(org.to_string()).fetch_one(self.pool()).await?, "n")?;
        let rows = sqlx::query(&format!("SELECT {GROUP_COLS} FROM scim_groups WHERE org_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"))
            .bind(org.to_string())
            .bind(limit.unwrap_or(i64::MAX))
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let mut groups = rows.iter().map(group_from_row).collect::<Result<Vec<_>>>()?;
        self.group_members(&mut groups).await?;
        Ok((groups, total))
    }

    async fn update_scim_group(&self, org: OrgId, id: Uuid, f: &ScimGroupFields, add: &[Uuid], remove: &[Uuid], if_version: Option<i64>, now: Timestamp) -> Result<ScimGroup> {
        let mut tx = self.write_tx().await?;
        let version = sqlx::query("SELECT version FROM scim_groups WHERE org_id = $1 AND id = $2").bind(org.to_string()).bind(id.to_string()).fetch_optional(&mut *tx).await?;
        let version = get_i64(&version.ok_or(StoreError::NotFound { what: "Group" })?, "version")?;
        if if_version.is_some_and(|v| v != version) {
            return Err(StoreError::Stale);
        }
        let r = sqlx::query(
            "UPDATE scim_groups SET display_name = $3, display_name_key = $4, external_id = $5, document = $6, version = version + 1, updated_at = $7 \
             WHERE org_id = $1 AND id = $2 AND version = $8",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(f.display_name.clone())
        .bind(f.display_name.to_lowercase())
        .bind(f.external_id.clone())
        .bind(f.document.clone())
        .bind(now.0)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(unique("a Group with this displayName or externalId"))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::Stale);
        }
        self.change_members(&mut tx, org, id, add, remove).await?;
        tx.commit().await?;
        self.get_scim_group(org, id).await?.ok_or(StoreError::NotFound { what: "Group" })
    }

    async fn delete_scim_group(&self, org: OrgId, id: Uuid) -> Result<bool> {
        let r = sqlx::query("DELETE FROM scim_groups WHERE org_id = $1 AND id = $2").bind(org.to_string()).bind(id.to_string()).execute(self.pool()).await?;
        Ok(r.rows_affected() == 1)
    }
}
