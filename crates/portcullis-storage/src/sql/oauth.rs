//! The `local` authorization server's rows: signing keys, device
//! authorizations and refresh-token families.
//!
//! Each one-time transition is a single conditional `UPDATE` (approve only a
//! pending code, redeem only an approved one, use only an unused refresh
//! token), so two replicas racing on the same row cannot both succeed.

use super::{get_i64, get_id, get_opt_i64, get_opt_id, get_opt_str, get_str, SqlStore};
use crate::{
    DeviceAuthorization, NewDeviceAuthorization, NewRefreshToken, OAuthStore, RefreshFamily, RefreshToken, Result, SigningKey, StoreError,
};
use async_trait::async_trait;
use portcullis_domain::{TokenHash, DeviceStatus, RefreshOutcome, Timestamp, UserId};
use sqlx::any::AnyRow;

const KEY_COLS: &str = "kid, alg, private_sealed, public_jwk, created_at, retired_at, publish_until";
const DEVICE_COLS: &str = "device_code_hash, user_code, client_id, scope, status, user_id, interval_secs, last_polled_at, client_ip, created_at, expires_at";
const REFRESH_COLS: &str = "token_hash, family_id, user_id, client_id, scope, expires_at, family_expires_at";

fn key_from_row(r: &AnyRow) -> Result<SigningKey> {
    Ok(SigningKey {
        kid: get_str(r, "kid")?,
        alg: get_str(r, "alg")?,
        private_sealed: get_str(r, "private_sealed")?,
        public_jwk: get_str(r, "public_jwk")?,
        created_at: Timestamp(get_i64(r, "created_at")?),
        retired_at: get_opt_i64(r, "retired_at")?.map(Timestamp),
        publish_until: get_opt_i64(r, "publish_until")?.map(Timestamp),
    })
}

fn device_from_row(r: &AnyRow) -> Result<DeviceAuthorization> {
    let user: Option<UserId> = get_opt_id(r, "user_id")?;
    let status = match (get_str(r, "status")?.as_str(), user) {
        ("pending", _) => DeviceStatus::Pending,
        ("denied", _) => DeviceStatus::Denied,
        ("approved", Some(u)) => DeviceStatus::Approved(u),
        ("redeemed", Some(_)) => DeviceStatus::Redeemed,
        (other, _) => return Err(StoreError::Corrupt(format!("device authorization status `{other}`"))),
    };
    Ok(DeviceAuthorization {
        device_code_hash: TokenHash::from_stored(get_str(r, "device_code_hash")?),
        user_code: get_str(r, "user_code")?,
        client_id: get_str(r, "client_id")?,
        scope: get_str(r, "scope")?,
        status,
        interval_secs: get_i64(r, "interval_secs")?,
        last_polled_at: get_opt_i64(r, "last_polled_at")?.map(Timestamp),
        client_ip: get_opt_str(r, "client_ip")?,
        created_at: Timestamp(get_i64(r, "created_at")?),
        expires_at: Timestamp(get_i64(r, "expires_at")?),
    })
}

fn refresh_from_row(r: &AnyRow) -> Result<RefreshToken> {
    Ok(RefreshToken {
        token_hash: TokenHash::from_stored(get_str(r, "token_hash")?),
        family_id: get_str(r, "family_id")?,
        user_id: get_id(r, "user_id")?,
        client_id: get_str(r, "client_id")?,
        scope: get_str(r, "scope")?,
        expires_at: Timestamp(get_i64(r, "expires_at")?),
        family_expires_at: Timestamp(get_i64(r, "family_expires_at")?),
    })
}

#[async_trait]
impl OAuthStore for SqlStore {
    async fn list_signing_keys(&self, now: Timestamp) -> Result<Vec<SigningKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLS} FROM oauth_signing_keys WHERE active = 1 OR publish_until > $1 ORDER BY (active IS NULL), created_at DESC"
        ))
        .bind(now.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn list_all_signing_keys(&self) -> Result<Vec<SigningKey>> {
        let rows = sqlx::query(&format!("SELECT {KEY_COLS} FROM oauth_signing_keys ORDER BY created_at")).fetch_all(self.pool()).await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn create_first_signing_key(&self, key: &SigningKey) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO oauth_signing_keys (kid, alg, private_sealed, public_jwk, active, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT DO NOTHING",
        )
        .bind(key.kid.clone())
        .bind(key.alg.clone())
        .bind(key.private_sealed.clone())
        .bind(key.public_jwk.clone())
        .bind(key.created_at.0)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn rotate_signing_key(&self, key: &SigningKey, publish_old_until: Timestamp, now: Timestamp) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE oauth_signing_keys SET active = NULL, retired_at = $1, publish_until = $2 WHERE active = 1")
            .bind(now.0)
            .bind(publish_old_until.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_signing_keys (kid, alg, private_sealed, public_jwk, active, created_at) VALUES ($1, $2, $3, $4, 1, $5)",
        )
        .bind(key.kid.clone())
        .bind(key.alg.clone())
        .bind(key.private_sealed.clone())
        .bind(key.public_jwk.clone())
        .bind(key.created_at.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_write(e, "signing key", "signing key"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn reseal_signing_key(&self, kid: &str, old: &str, new: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE oauth_signing_keys SET private_sealed = $1 WHERE kid = $2 AND private_sealed = $3")
            .bind(new.to_owned())
            .bind(kid.to_owned())
            .bind(old.to_owned())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn create_device_authorization(&self, new: &NewDeviceAuthorization) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_authorizations (device_code_hash, user_code, client_id, scope, status, interval_secs, client_ip, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8)",
        )
        .bind(new.device_code_hash.as_str().to_owned())
        .bind(new.user_code.clone())
        .bind(new.client_id.clone())
        .bind(new.scope.clone())
        .bind(new.interval_secs)
        .bind(new.client_ip.clone())
        .bind(new.created_at.0)
        .bind(new.expires_at.0)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::on_write(e, "user code", "device authorization"))?;
        Ok(())
    }

    async fn find_device_by_code(&self, device_code_hash: &TokenHash) -> Result<Option<DeviceAuthorization>> {
        let row = sqlx::query(&format!("SELECT {DEVICE_COLS} FROM device_authorizations WHERE device_code_hash = $1"))
            .bind(device_code_hash.as_str().to_owned())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn find_device_by_user_code(&self, user_code: &str) -> Result<Option<DeviceAuthorization>> {
        let row = sqlx::query(&format!("SELECT {DEVICE_COLS} FROM device_authorizations WHERE user_code = $1"))
            .bind(user_code.to_owned())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn update_device_poll(&self, device_code_hash: &TokenHash, now: Timestamp, new_interval_secs: Option<i64>) -> Result<()> {
        sqlx::query(
            "UPDATE device_authorizations SET last_polled_at = $1, interval_secs = COALESCE($2, interval_secs) WHERE device_code_hash = $3",
        )
        .bind(now.0)
        .bind(new_interval_secs)
        .bind(device_code_hash.as_str().to_owned())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn update_device_decision(&self, user_code: &str, user: UserId, approve: bool, now: Timestamp) -> Result<Option<DeviceAuthorization>> {
        let row = sqlx::query(&format!(
            "UPDATE device_authorizations SET status = $1, user_id = $2 \
             WHERE user_code = $3 AND status = 'pending' AND expires_at > $4 RETURNING {DEVICE_COLS}"
        ))
        .bind(if approve { "approved" } else { "denied" })
        .bind(approve.then(|| user.to_string()))
        .bind(user_code.to_owned())
        .bind(now.0)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn consume_device(&self, device_code_hash: &TokenHash) -> Result<bool> {
        let r = sqlx::query("UPDATE device_authorizations SET status = 'redeemed' WHERE device_code_hash = $1 AND status = 'approved'")
            .bind(device_code_hash.as_str().to_owned())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn create_refresh_token(&self, new: &NewRefreshToken) -> Result<RefreshToken> {
        let family = uuid::Uuid::new_v4().to_string();
        insert_refresh(self.pool(), new, &family, new.expires_at.min(new.family_expires_at), new.family_expires_at).await?;
        Ok(RefreshToken {
            token_hash: new.token_hash.clone(),
            family_id: family,
            user_id: new.user_id,
            client_id: new.client_id.clone(),
            scope: new.scope.clone(),
            expires_at: new.expires_at.min(new.family_expires_at),
            family_expires_at: new.family_expires_at,
        })
    }

    async fn rotate_refresh_token(&self, presented: &TokenHash, successor: &NewRefreshToken, now: Timestamp) -> Result<RefreshOutcome<RefreshToken>> {
        let mut tx = self.write_tx().await?;
        let used = sqlx::query(&format!(
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 RETURNING {REFRESH_COLS}"
        ))
        .bind(now.0)
        .bind(presented.as_str().to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = used {
            let old = refresh_from_row(&row)?;
            let expires_at = successor.expires_at.min(old.family_expires_at);
            let new = NewRefreshToken { user_id: old.user_id, client_id: old.client_id.clone(), scope: old.scope.clone(), ..successor.clone() };
            insert_refresh(&mut *tx, &new, &old.family_id, expires_at, old.family_expires_at).await?;
            tx.commit().await?;
            return Ok(RefreshOutcome::Rotated(RefreshToken {
                token_hash: new.token_hash,
                family_id: old.family_id,
                user_id: old.user_id,
                client_id: old.client_id,
                scope: old.scope,
                expires_at,
                family_expires_at: old.family_expires_at,
            }));
        }
        // Not usable: find out why, and revoke the family on reuse.
        let row = sqlx::query("SELECT family_id, used_at, revoked_at, expires_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(presented.as_str().to_owned())
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match row {
            None => RefreshOutcome::Unknown,
            Some(r) if get_opt_i64(&r, "revoked_at")?.is_some() => RefreshOutcome::Revoked,
            Some(r) if get_opt_i64(&r, "used_at")?.is_some() => {
                sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
                    .bind(now.0)
                    .bind(get_str(&r, "family_id")?)
                    .execute(&mut *tx)
                    .await?;
                RefreshOutcome::Reused
            }
            Some(_) => RefreshOutcome::Expired,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn revoke_refresh_family(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<String>> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT family_id FROM refresh_tokens WHERE token_hash = $1").bind(token_hash.as_str().to_owned()).fetch_optional(&mut *tx).await?;
        let Some(row) = row else { return Ok(None) };
        let family = get_str(&row, "family_id")?;
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
            .bind(now.0)
            .bind(family.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(family))
    }

    async fn get_refresh_family_active(&self, family_id: &str, now: Timestamp) -> Result<bool> {
        // Revocation marks every row of the family, so any row tells.
        let row = sqlx::query("SELECT revoked_at, family_expires_at FROM refresh_tokens WHERE family_id = $1 LIMIT 1")
            .bind(family_id.to_owned())
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => get_opt_i64(&r, "revoked_at")?.is_none() && get_i64(&r, "family_expires_at")? > now.0,
            None => false,
        })
    }

    async fn revoke_user_refresh_tokens(&self, user: UserId, now: Timestamp) -> Result<u64> {
        let r = sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now.0)
            .bind(user.to_string())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    async fn list_refresh_families(&self, user: UserId, now: Timestamp) -> Result<Vec<RefreshFamily>> {
        // Revocation marks every row of a family, so an unrevoked row is a
        // live family's.
        let rows = sqlx::query(
            "SELECT family_id, MIN(client_id) AS client_id, MIN(scope) AS scope, MIN(created_at) AS started_at, \
             MAX(created_at) AS last_used_at, MIN(family_expires_at) AS expires_at \
             FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL AND family_expires_at > $2 \
             GROUP BY family_id ORDER BY MAX(created_at) DESC, family_id",
        )
        .bind(user.to_string())
        .bind(now.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RefreshFamily {
                    family_id: get_str(r, "family_id")?,
                    client_id: get_str(r, "client_id")?,
                    scope: get_str(r, "scope")?,
                    started_at: Timestamp(get_i64(r, "started_at")?),
                    last_used_at: Timestamp(get_i64(r, "last_used_at")?),
                    expires_at: Timestamp(get_i64(r, "expires_at")?),
                })
            })
            .collect()
    }

    async fn revoke_user_refresh_family(&self, user: UserId, family_id: &str, now: Timestamp) -> Result<bool> {
        let r = sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND user_id = $3 AND revoked_at IS NULL")
            .bind(now.0)
            .bind(family_id.to_owned())
            .bind(user.to_string())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn purge_oauth(&self, now: Timestamp) -> Result<u64> {
        let mut n = 0;
        // Expired device codes are kept a day, so that a late poll still
        // gets `expired_token` rather than `invalid_grant`.
        let day = 86_400_000;
        n += sqlx::query("DELETE FROM device_authorizations WHERE expires_at < $1").bind(now.0 - day).execute(self.pool()).await?.rows_affected();
        // A family is kept until it expires, so that reuse of any of its
        // tokens is still recognized until then.
        n += sqlx::query("DELETE FROM refresh_tokens WHERE family_expires_at < $1").bind(now.0).execute(self.pool()).await?.rows_affected();
        n += sqlx::query("DELETE FROM oauth_signing_keys WHERE active IS NULL AND publish_until < $1")
            .bind(now.0)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n)
    }
}

async fn insert_refresh<'e, E>(exec: E, new: &NewRefreshToken, family: &str, expires_at: Timestamp, family_expires_at: Timestamp) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scope, created_at, expires_at, family_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.token_hash.as_str().to_owned())
    .bind(family.to_owned())
    .bind(new.user_id.to_string())
    .bind(new.client_id.clone())
    .bind(new.scope.clone())
    .bind(new.created_at.0)
    .bind(expires_at.0)
    .bind(family_expires_at.0)
    .execute(exec)
    .await
    .map_err(|e| StoreError::on_write(e, "refresh token", "user"))?;
    Ok(())
}
