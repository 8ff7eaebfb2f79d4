//! Accounts and sessions of users who sign in through an identity provider,
//! and one-time values (`state`, logout-token `jti`).

use super::users::{user_from_row, USER_COLS};
use super::{get_id, get_opt_str, SqlStore};
use crate::{IdpStore, IdpUser, OnceKind, Result, SamlLogout, User};
use async_trait::async_trait;
use portcullis_domain::{TokenHash, SessionId, Timestamp, UserId};

#[async_trait]
impl IdpStore for SqlStore {
    async fn upsert_idp_user(&self, user: &IdpUser, now: Timestamp) -> Result<(User, bool)> {
        let fresh = UserId::new();
        // One statement decides: the (idp_issuer, idp_subject) constraint
        // turns a concurrent second insert into an update of the same row.
        let row = sqlx::query(
            "INSERT INTO users (id, email, display_name, factory_admin, idp_issuer, idp_subject, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (idp_issuer, idp_subject) DO UPDATE SET \
             email = excluded.email, display_name = excluded.display_name, factory_admin = excluded.factory_admin \
             RETURNING id AS u_id, email AS u_email, display_name AS u_display_name, password_hash AS u_password_hash, \
             factory_admin AS u_factory_admin, disabled_at AS u_disabled_at, created_at AS u_created_at",
        )
        .bind(fresh.to_string())
        .bind(user.email.clone())
        .bind(user.display_name.clone())
        .bind(user.factory_admin as i64)
        .bind(user.issuer.clone())
        .bind(user.subject.clone())
        .bind(now.0)
        .fetch_one(self.pool())
        .await?;
        let stored = user_from_row(&row)?;
        let created = stored.id == fresh;
        Ok((stored, created))
    }

    async fn find_user_by_idp(&self, issuer: &str, subject: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users u WHERE u.idp_issuer = $1 AND u.idp_subject = $2"))
            .bind(issuer.to_owned())
            .bind(subject.to_owned())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn get_session_id_token(&self, id: SessionId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id_token_sealed FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => get_opt_str(&r, "id_token_sealed")?,
            None => None,
        })
    }

    async fn revoke_idp_sessions(
        &self,
        provider: &str,
        issuer: &str,
        sid: Option<&str>,
        subject: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<UserId>> {
        // OpenID Back-Channel Logout 1.0 §2.4: with both `sid` and `sub`,
        // the sessions matching both; with one, those matching it.
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(
            "SELECT DISTINCT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.provider = $1 AND s.revoked_at IS NULL AND u.idp_issuer = $2 \
             AND ($3 IS NULL OR s.idp_sid = $3) AND ($4 IS NULL OR u.idp_subject = $4)",
        )
        .bind(provider.to_owned())
        .bind(issuer.to_owned())
        .bind(sid.map(str::to_owned))
        .bind(subject.map(str::to_owned))
        .fetch_all(&mut *tx)
        .await?;
        let users = rows.iter().map(|r| get_id(r, "user_id")).collect::<Result<Vec<UserId>>>()?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $5 WHERE provider = $1 AND revoked_at IS NULL \
             AND ($3 IS NULL OR idp_sid = $3) \
             AND user_id IN (SELECT id FROM users WHERE idp_issuer = $2 AND ($4 IS NULL OR idp_subject = $4))",
        )
        .bind(provider.to_owned())
        .bind(issuer.to_owned())
        .bind(sid.map(str::to_owned))
        .bind(subject.map(str::to_owned))
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(users)
    }

    async fn revoke_saml_sessions_once(&self, request: &SamlLogout<'_>, now: Timestamp) -> Result<Option<Vec<UserId>>> {
        let SamlLogout { provider, name_id_hash, session_indexes, request_key_hash, request_expires } = *request;
        let mut tx = self.write_tx().await?;
        let spent = sqlx::query("INSERT INTO used_once (kind, key_hash, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(OnceKind::SamlLogoutRequest.as_str())
            .bind(request_key_hash.as_str().to_owned())
            .bind(request_expires.0)
            .execute(&mut *tx)
            .await?;
        if spent.rows_affected() == 0 {
            return Ok(None);
        }
        // No SessionIndex: every session of that NameID; otherwise those of
        // each index (one statement per index keeps the SQL portable).
        let indexes: Vec<Option<&str>> = if session_indexes.is_empty() { vec![None] } else { session_indexes.iter().map(|i| Some(i.as_str())).collect() };
        let mut users = Vec::new();
        for index in indexes {
            let filter = "provider = $1 AND idp_name_id_hash = $2 AND revoked_at IS NULL AND ($3 IS NULL OR idp_sid = $3)";
            let rows = sqlx::query(&format!("SELECT DISTINCT user_id FROM sessions WHERE {filter}"))
                .bind(provider.to_owned())
                .bind(name_id_hash.to_owned())
                .bind(index.map(str::to_owned))
                .fetch_all(&mut *tx)
                .await?;
            for r in &rows {
                users.push(get_id(r, "user_id")?);
            }
            sqlx::query(&format!("UPDATE sessions SET revoked_at = $4 WHERE {filter}"))
                .bind(provider.to_owned())
                .bind(name_id_hash.to_owned())
                .bind(index.map(str::to_owned))
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        users.sort_by_key(|u: &UserId| u.to_string());
        users.dedup();
        Ok(Some(users))
    }

    async fn consume_once(&self, kind: OnceKind, key_hash: &TokenHash, expires_at: Timestamp) -> Result<bool> {
        let r = sqlx::query("INSERT INTO used_once (kind, key_hash, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(kind.as_str())
            .bind(key_hash.as_str().to_owned())
            .bind(expires_at.0)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn purge_used_once(&self, now: Timestamp) -> Result<u64> {
        let r = sqlx::query("DELETE FROM used_once WHERE expires_at < $1").bind(now.0).execute(self.pool()).await?;
        Ok(r.rows_affected())
    }
}
