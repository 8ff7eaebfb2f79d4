//! The one invariant the schema cannot hold alone: an organization keeps at
//! least one owner. Checked inside the writing transaction, which holds the
//! organization row lock, by every change of a membership or an account.

use super::{get_i64, get_str};
use crate::{Result, StoreError};
use portcullis_domain::{OrgId, RoleKind, UserId};
use sqlx::{Any, Transaction};

async fn owner_count(tx: &mut Transaction<'static, Any>, org: OrgId) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships m JOIN roles r ON r.id = m.role_id \
         WHERE m.org_id = $1 AND r.kind = 'owner'",
    )
    .bind(org.to_string())
    .fetch_one(&mut **tx)
    .await?;
    get_i64(&row, "n")
}

async fn current_kind(tx: &mut Transaction<'static, Any>, org: OrgId, user: UserId) -> Result<RoleKind> {
    let row = sqlx::query(
        "SELECT r.kind AS kind FROM memberships m JOIN roles r ON r.id = m.role_id \
         WHERE m.org_id = $1 AND m.user_id = $2",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound { what: "member" })?;
    let k = get_str(&row, "kind")?;
    RoleKind::parse(&k).ok_or_else(|| StoreError::Corrupt(format!("role kind `{k}`")))
}

/// Refuses to take away the last owner of an organization (the transaction
/// must hold the organization lock).
pub(crate) async fn guard_last_owner(
    tx: &mut Transaction<'static, Any>,
    org: OrgId,
    user: UserId,
) -> Result<()> {
    if current_kind(tx, org, user).await? == RoleKind::Owner && owner_count(tx, org).await? <= 1 {
        return Err(StoreError::LastOwner);
    }
    Ok(())
}
