//! Ending one's own browser sessions and CLI logins: the same operations
//! for the API (`/api/v1/me/...`) and the My account page.

use crate::audit::{self, Entry};
use crate::session::Caller;
use crate::state::AppState;
use portcullis_domain::SessionId;
use portcullis_storage::{RefreshFamily, StoreError};

/// Ends the caller's session `id` (any of theirs, this one too); `false`
/// when they have no such session.
pub async fn end_session(state: &AppState, caller: &Caller, id: SessionId) -> Result<bool, StoreError> {
    let user = &caller.ctx.user;
    if !state.store.revoke_session(user.id, id, state.clock.now()).await? {
        return Ok(false);
    }
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserSessions(user.id));
    audit::record(state, Entry::new("session.revoke", true).actor(user.id, &user.email).target(format!("session:{id}"))).await;
    Ok(true)
}

/// The caller's CLI logins that still work.
pub async fn cli_logins(state: &AppState, caller: &Caller) -> Result<Vec<RefreshFamily>, StoreError> {
    state.store.list_refresh_families(caller.ctx.user.id, state.clock.now()).await
}

/// Ends the caller's CLI login `family`: its refresh token stops working,
/// and its access tokens at once on this replica (within their lifetime on
/// others, which check the family when their cache misses); `false` when
/// it is not theirs or has ended.
pub async fn end_cli_login(state: &AppState, caller: &Caller, family: &str) -> Result<bool, StoreError> {
    let user = &caller.ctx.user;
    if !state.store.revoke_user_refresh_family(user.id, family, state.clock.now()).await? {
        return Ok(false);
    }
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::CliLogin(family.to_owned()));
    audit::record(state, Entry::new("cli_login.revoke", true).actor(user.id, &user.email).target(format!("cli_login:{family}"))).await;
    Ok(true)
}
