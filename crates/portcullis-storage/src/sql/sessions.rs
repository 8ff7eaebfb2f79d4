//! Sessions and one-time setup tokens.

use super::{get_i64, get_id, get_opt_i64, get_opt_str, get_str, SqlStore};
use crate::{MemberActivity, NewSession, Result, SessionRecord, SessionStore, StoreError};
use std::collections::HashMap;
use async_trait::async_trait;
use portcullis_domain::{TokenHash, OrgId, SessionId, SessionTimes, Timestamp, UserId};
use sqlx::any::AnyRow;

const SESSION_COLS: &str = "id, user_id, provider, created_at, last_seen_at, expires_at, revoked_at, ip, user_agent";

fn session_from_row(row: &AnyRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id: get_id(row, "id")?,
        user_id: get_id(row, "user_id")?,
        provider: get_str(row, "provider")?,
        times: SessionTimes {
            created_at: Timestamp(get_i64(row, "created_at")?),
            last_seen_at: Timestamp(get_i64(row, "last_seen_at")?),
            expires_at: Timestamp(get_i64(row, "expires_at")?),
            revoked_at: get_opt_i64(row, "revoked_at")?.map(Timestamp),
        },
        ip: get_opt_str(row, "ip")?,
        user_agent: get_opt_str(row, "user_agent")?,
    })
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, new: NewSession) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, provider, created_at, last_seen_at, expires_at, ip, user_agent, \
             idp_sid, id_token_sealed, idp_name_id_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(new.id.to_string())
        .bind(new.token_hash.as_str().to_owned())
        .bind(new.user_id.to_string())
        .bind(new.provider.clone())
        .bind(new.times.created_at.0)
        .bind(new.times.last_seen_at.0)
        .bind(new.times.expires_at.0)
        .bind(new.ip)
        .bind(new.user_agent)
        .bind(new.idp_sid)
        .bind(new.id_token_sealed)
        .bind(new.idp_name_id_hash)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_write(e, "this session", "user"))?;
        sqlx::query("UPDATE users SET last_sign_in_at = $1, last_sign_in_provider = $2 WHERE id = $3")
            .bind(new.times.created_at.0)
            .bind(new.provider)
            .bind(new.user_id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_member_activity(&self, org: OrgId, now: Timestamp) -> Result<HashMap<UserId, MemberActivity>> {
        // One statement for the whole organization: counted subqueries per
        // member, each on an index by user.
        let rows = sqlx::query(
            "SELECT m.user_id, u.last_sign_in_at, u.last_sign_in_provider, \
             (SELECT COUNT(*) FROM sessions s WHERE s.user_id = m.user_id AND s.revoked_at IS NULL AND s.expires_at > $2) AS browser_sessions, \
             (SELECT COUNT(DISTINCT r.family_id) FROM refresh_tokens r WHERE r.user_id = m.user_id AND r.revoked_at IS NULL AND r.family_expires_at > $2) AS cli_logins \
             FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1",
        )
        .bind(org.to_string())
        .bind(now.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id = get_id::<UserId>(r, "user_id")?;
                Ok((
                    id,
                    MemberActivity {
                        last_sign_in_at: get_opt_i64(r, "last_sign_in_at")?.map(Timestamp),
                        last_sign_in_provider: get_opt_str(r, "last_sign_in_provider")?,
                        browser_sessions: get_i64(r, "browser_sessions")?,
                        cli_logins: get_i64(r, "cli_logins")?,
                    },
                ))
            })
            .collect()
    }

    async fn find_session_by_token_hash(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(&format!("SELECT {SESSION_COLS} FROM sessions WHERE token_hash = $1"))
            .bind(token_hash.as_str().to_owned())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    async fn update_session_last_seen(&self, id: SessionId, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
            .bind(id.to_string())
            .bind(now.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn list_sessions(&self, user: UserId, now: Timestamp) -> Result<Vec<SessionRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id"
        ))
        .bind(user.to_string())
        .bind(now.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_session(&self, user: UserId, id: SessionId, now: Timestamp) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(now.0)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn revoke_user_sessions(&self, user: UserId, now: Timestamp) -> Result<u64> {
        let r = sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user.to_string())
            .bind(now.0)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    async fn purge_sessions(&self, before: Timestamp) -> Result<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
            .bind(before.0)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    async fn create_setup_token(&self, token_hash: &TokenHash, org: OrgId, now: Timestamp, expires_at: Timestamp) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM setup_tokens WHERE used_at IS NULL")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO setup_tokens (token_hash, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash.as_str().to_owned())
            .bind(org.to_string())
            .bind(now.0)
            .bind(expires_at.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::on_write(e, "this setup token", "organization"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_setup_token(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<OrgId>> {
        let row = sqlx::query(
            "SELECT org_id FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash.as_str().to_owned())
        .bind(now.0)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| get_id(&r, "org_id")).transpose()
    }

    async fn consume_setup_token(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<OrgId>> {
        let mut tx = self.write_tx().await?;
        // The conditional UPDATE is the single point of truth: of two
        // concurrent uses, exactly one changes a row.
        let r = sqlx::query(
            "UPDATE setup_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash.as_str().to_owned())
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT org_id FROM setup_tokens WHERE token_hash = $1")
            .bind(token_hash.as_str().to_owned())
            .fetch_one(&mut *tx)
            .await?;
        let org = get_id(&row, "org_id")?;
        tx.commit().await?;
        Ok(Some(org))
    }
}
