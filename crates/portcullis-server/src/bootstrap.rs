//! First start: the default organization, and the way to its first owner.

use crate::idp::vendors::VendorOf;
use crate::keys::{random_token, token_hash};
use crate::state::AppState;
use portcullis_domain::RoleKind;
use portcullis_storage::{NewUser, StoreError};
use secrecy::ExposeSecret;
use std::time::Duration;

pub const DEFAULT_ORG: &str = "Default";
/// How long a printed setup link stays valid.
pub const SETUP_LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What start-up did about the first account.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Accounts exist already: nothing to do.
    Ready,
    /// The first owner was created from `PORTCULLIS_BOOTSTRAP_ADMIN_*`.
    AdminCreated(String),
    /// No account yet: this one-time link lets the first person set the
    /// owner's password.
    SetupLink(String),
    /// Local sign-in is off: the first people come from the identity
    /// provider (named here), owners from its `factory-admin` role.
    IdentityProvider(String),
}

pub async fn run(state: &AppState) -> Result<Bootstrap, StoreError> {
    let now = state.clock.now();
    if state.store.count_orgs().await? == 0 {
        match state.store.create_org(DEFAULT_ORG, now).await {
            // Another replica starting at the same moment created it.
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if state.store.count_users().await? > 0 {
        return Ok(Bootstrap::Ready);
    }
    if !state.config.sso.local {
        let oidc = state.config.sso.providers.iter().map(|p| p.vendor().display_name());
        let names: Vec<&str> = oidc.chain(state.config.sso.saml.iter().map(|s| s.display_name)).collect();
        return Ok(Bootstrap::IdentityProvider(names.join(", ")));
    }
    let org = state.store.list_orgs().await?.into_iter().next().ok_or(StoreError::NotFound { what: "organization" })?;
    if let Some((email, password)) = &state.config.bootstrap_admin {
        let hash = state.passwords.hash(password.expose_secret().to_owned()).await.map_err(StoreError::Corrupt)?;
        let user = match state
            .store
            .create_user(NewUser { email: email.clone(), display_name: "Administrator".into(), password_hash: Some(hash), factory_admin: true }, now)
            .await
        {
            Ok(u) => u,
            Err(StoreError::Conflict { .. }) => return Ok(Bootstrap::Ready),
            Err(e) => return Err(e),
        };
        let owner = state.store.get_predefined_role(org.id, RoleKind::Owner).await?;
        state.store.create_member(org.id, user.id, owner.id, now).await?;
        crate::audit::record(state, crate::audit::Entry::new("setup.bootstrap_admin", true).org(org.id).target(format!("user:{}", user.id))).await;
        return Ok(Bootstrap::AdminCreated(email.clone()));
    }
    let token = random_token();
    state.store.create_setup_token(&token_hash(&token), org.id, now, now.plus(SETUP_LINK_LIFETIME)).await?;
    Ok(Bootstrap::SetupLink(state.config.public(&format!("/setup?token={token}"))))
}
