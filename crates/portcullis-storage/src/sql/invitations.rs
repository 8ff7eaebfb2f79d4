//! Invitations: pending memberships, accepted once.

use super::orgs::{role_from_row, ROLE_COLS};
use super::{get_i64, get_id, get_opt_str, SqlStore};
use crate::{Invitation, InvitationStore, Invitee, NewInvitation, Result, StoreError};
use async_trait::async_trait;
use portcullis_domain::{TokenHash, OrgId, Timestamp, UserId};
use sqlx::any::AnyRow;

fn invitation_from_row(row: &AnyRow) -> Result<Invitation> {
    Ok(Invitation {
        id: get_id(row, "id")?,
        org_id: get_id(row, "org_id")?,
        email: super::get_str(row, "email")?,
        role: role_from_row(row, "r_")?,
        invited_by: get_id(row, "invited_by")?,
        has_link: get_opt_str(row, "token_hash")?.is_some(),
        created_at: Timestamp(get_i64(row, "created_at")?),
        expires_at: Timestamp(get_i64(row, "expires_at")?),
    })
}

/// Pending, unexpired invitations, with `cond` on `i` (numbered from $2; $1 is now).
fn pending(cond: &str) -> String {
    format!(
        "SELECT i.id, i.org_id, i.email, i.invited_by, i.token_hash, i.created_at, i.expires_at, {ROLE_COLS} \
         FROM org_invitations i JOIN roles r ON r.id = i.role_id \
         WHERE i.accepted_at IS NULL AND i.expires_at > $1 AND {cond} ORDER BY i.created_at DESC, i.id"
    )
}

#[async_trait]
impl InvitationStore for SqlStore {
    async fn create_invitation(&self, n: &NewInvitation) -> Result<Invitation> {
        // An expired pending invitation for the same address gives way.
        sqlx::query("DELETE FROM org_invitations WHERE org_id = $1 AND email = $2 AND accepted_at IS NULL AND expires_at <= $3")
            .bind(n.org_id.to_string())
            .bind(n.email.to_lowercase())
            .bind(n.created_at.0)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO org_invitations (id, org_id, email, role_id, invited_by, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(n.id.to_string())
        .bind(n.org_id.to_string())
        .bind(n.email.to_lowercase())
        .bind(n.role_id.to_string())
        .bind(n.invited_by.to_string())
        .bind(n.token_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(n.created_at.0)
        .bind(n.expires_at.0)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::on_write(e, "a pending invitation for this address", "organization, role or inviter"))?;
        let row = sqlx::query(&pending("i.id = $2")).bind(n.created_at.0).bind(n.id.to_string()).fetch_one(self.pool()).await?;
        invitation_from_row(&row)
    }

    async fn find_invitation_by_token(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<Invitation>> {
        let row = sqlx::query(&pending("i.token_hash = $2")).bind(now.0).bind(token_hash.as_str().to_owned()).fetch_optional(self.pool()).await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn list_invitations_for_email(&self, email: &str, now: Timestamp) -> Result<Vec<Invitation>> {
        let rows = sqlx::query(&pending("i.email = $2")).bind(now.0).bind(email.to_lowercase()).fetch_all(self.pool()).await?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn list_invitations(&self, org: OrgId, now: Timestamp) -> Result<Vec<Invitation>> {
        let rows = sqlx::query(&pending("i.org_id = $2")).bind(now.0).bind(org.to_string()).fetch_all(self.pool()).await?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn delete_invitation(&self, org: OrgId, id: uuid::Uuid) -> Result<bool> {
        let r = sqlx::query("DELETE FROM org_invitations WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn consume_invitation(&self, id: uuid::Uuid, who: &Invitee, now: Timestamp) -> Result<Option<UserId>> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT org_id, email, role_id FROM org_invitations WHERE id = $1 AND accepted_at IS NULL AND expires_at > $2")
            .bind(id.to_string())
            .bind(now.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (org, email, role): (OrgId, String, String) = (get_id(&row, "org_id")?, super::get_str(&row, "email")?, super::get_str(&row, "role_id")?);
        let user = match who {
            Invitee::Account(u) => *u,
            Invitee::NewLocal { display_name, password_hash } => {
                let u = UserId::new();
                sqlx::query("INSERT INTO users (id, email, display_name, password_hash, factory_admin, created_at) VALUES ($1, $2, $3, $4, 0, $5)")
                    .bind(u.to_string())
                    .bind(email.clone())
                    .bind(display_name.clone())
                    .bind(password_hash.clone())
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::on_write(e, "a user with this e-mail address", "user"))?;
                u
            }
            Invitee::SetPassword { user, password_hash } => {
                let r = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash IS NULL AND idp_issuer IS NULL")
                    .bind(user.to_string())
                    .bind(password_hash.clone())
                    .execute(&mut *tx)
                    .await?;
                if r.rows_affected() != 1 {
                    return Ok(None);
                }
                *user
            }
        };
        // The conditional UPDATE decides between concurrent acceptances.
        let r = sqlx::query("UPDATE org_invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1 AND accepted_at IS NULL")
            .bind(id.to_string())
            .bind(now.0)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(None);
        }
        let exists = sqlx::query("SELECT 1 AS one FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            sqlx::query("INSERT INTO memberships (org_id, user_id, role_id, created_at) VALUES ($1, $2, $3, $4)")
                .bind(org.to_string())
                .bind(user.to_string())
                .bind(role)
                .bind(now.0)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::on_write(e, "this membership", "organization, user or role"))?;
        }
        tx.commit().await?;
        Ok(Some(user))
    }
}
