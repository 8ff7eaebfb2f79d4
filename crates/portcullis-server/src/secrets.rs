//! `portcullis-server secrets rotate-key`: re-seal every stored secret under the
//! current key.
//!
//! Rotation without downtime for readers:
//! 1. give every replica the new key as `PORTCULLIS_SECRET_KEY` and the old
//!    one as `PORTCULLIS_SECRET_KEY_PREVIOUS` (they seal with the new key
//!    and open values of either);
//! 2. run `portcullis-server secrets rotate-key` with the same settings;
//! 3. remove `PORTCULLIS_SECRET_KEY_PREVIOUS`.
//!
//! Each value is replaced by compare-and-swap, so a value written during the
//! rotation is never overwritten with an older one.

use crate::api::env;
use crate::crypto::{self, Sealer};
use crate::state::AppState;
use portcullis_storage::StoreError;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub env_vars: usize,
    pub automation_tokens: usize,
    pub signing_keys: usize,
    pub already_current: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("{what} does not open with the current or the previous key: {source}")]
    Open { what: String, source: crypto::SealError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn rotate(state: &AppState) -> Result<Rotation, RotateError> {
    let sealer: &Sealer = &state.sealer;
    let mut r = Rotation::default();
    for v in state.store.list_all_env().await? {
        if sealer.is_current(&v.sealed_value) {
            r.already_current += 1;
            continue;
        }
        let clear = env::open(state, &v).map_err(|source| RotateError::Open { what: format!("variable {} ({})", v.name, v.id), source })?;
        let resealed = env::seal(state, &v, &clear);
        if state.store.reseal_env(v.id, &v.sealed_value, &resealed).await? {
            r.env_vars += 1;
        }
    }
    for a in state.store.list_all_automations().await? {
        let Some(sealed) = a.upstream_token_sealed.as_deref() else { continue };
        if sealer.is_current(sealed) {
            r.already_current += 1;
            continue;
        }
        let aad = crate::upstream_policy::token_aad(a.id, &crate::upstream_policy::origin(&a.upstream_url).unwrap_or_default());
        let clear = sealer.open(sealed, &aad).map_err(|source| RotateError::Open { what: format!("the token of automation {}", a.name), source })?;
        if state.store.reseal_automation_token(a.id, sealed, &sealer.seal(&clear, &aad)).await? {
            r.automation_tokens += 1;
        }
    }
    for k in state.store.list_all_signing_keys().await? {
        if sealer.is_current(&k.private_sealed) {
            r.already_current += 1;
            continue;
        }
        let aad = crate::authserver::signing::aad(&k.kid);
        let clear = sealer.open(&k.private_sealed, &aad).map_err(|source| RotateError::Open { what: format!("signing key {}", k.kid), source })?;
        if state.store.reseal_signing_key(&k.kid, &k.private_sealed, &sealer.seal(&clear, &aad)).await? {
            r.signing_keys += 1;
        }
    }
    state.store.update_key_check(&sealer.seal(crypto::KEY_CHECK, crypto::KEY_CHECK_AAD)).await?;
    Ok(r)
}
