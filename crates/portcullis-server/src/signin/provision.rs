//! Just-in-time accounts and roles from the IdP, re-read at every sign-in.
//!
//! The account is keyed on issuer + subject (never the e-mail address). The
//! IdP roles `member` and `factory-admin` are the platform's: with
//! `require_role`, a user with neither is refused; `factory-admin` makes the
//! user an administrator of the whole installation. `PORTCULLIS_ROLE_MAPPING`
//! maps IdP roles or groups to organization roles; in the organizations the
//! mapping names, the IdP is authoritative: a role removed there is gone at
//! the next sign-in.

use crate::idp::error::SignInError;
use crate::idp::identity::Identity;
use crate::config::sso::RoleRule;
use crate::idp::vendors::{OidcSettings, VendorOf};
use crate::state::AppState;
use portcullis_storage::{IdpUser, StoreError, User};

pub const MEMBER: &str = "member";
pub const FACTORY_ADMIN: &str = "factory-admin";

fn db(e: StoreError) -> SignInError {
    SignInError::from(e)
}

/// What provisioning needs to know about the provider, whatever its protocol.
pub struct IdpRef<'a> {
    pub provider: &'static str,
    pub display_name: &'static str,
    /// The accounts' key, with the subject: the OpenID issuer or the SAML
    /// IdP's entity id.
    pub issuer: &'a str,
    pub require_role: bool,
}

impl<'a> From<&'a OidcSettings> for IdpRef<'a> {
    fn from(s: &'a OidcSettings) -> Self {
        IdpRef { provider: s.provider, display_name: s.vendor().display_name(), issuer: s.issuer.as_str(), require_role: s.require_role }
    }
}

pub async fn sign_in(state: &AppState, s: IdpRef<'_>, ident: &Identity) -> Result<User, SignInError> {
    let has = |r: &str| ident.roles.iter().any(|x| x == r);
    if s.require_role && !has(MEMBER) && !has(FACTORY_ADMIN) {
        return Err(SignInError::NotAssigned { provider: s.display_name.into() });
    }
    let now = state.clock.now();
    // A person provisioned over SCIM before this first sign-in: their
    // account is linked by the IdP's subject as the provisioned externalId,
    // or by a verified address as the userName (never an unverified one).
    let verified = ident.email_verified.then_some(ident.email.as_str());
    if let Some(linked) = state.store.link_scim_user(s.issuer, &ident.subject, verified).await.map_err(db)? {
        crate::audit::record(state, crate::audit::Entry::new("user.linked", true).actor(linked, &ident.email).detail(serde_json::json!({ "provider": s.provider, "via": "scim" }))).await;
    }
    let (user, created) = state
        .store
        .upsert_idp_user(
            &IdpUser {
                issuer: s.issuer.to_owned(),
                subject: ident.subject.clone(),
                email: ident.email.clone(),
                display_name: ident.name.clone(),
                factory_admin: has(FACTORY_ADMIN),
            },
            now,
        )
        .await
        .map_err(db)?;
    if user.is_disabled() {
        return Err(SignInError::Disabled);
    }
    if created {
        crate::audit::record(state, crate::audit::Entry::new("user.provisioned", true).actor(user.id, &user.email).detail(serde_json::json!({ "provider": s.provider }))).await;
    }
    // Organizations whose directory deactivated the person: no sign-in
    // gives them their membership back there; only the directory does.
    let deprovisioned = state.store.list_scim_deactivated_orgs(user.id).await.map_err(db)?;
    apply_mapping(state, &state.config.sso.role_mapping, &user, &ident.roles, &deprovisioned).await.map_err(db)?;
    if ident.email_verified {
        crate::signin::invite::apply_at_sign_in(state, &user).await.map_err(db)?;
    }
    if !deprovisioned.is_empty() && state.store.list_memberships(user.id).await.map_err(db)?.is_empty() {
        return Err(SignInError::Deprovisioned);
    }
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserSessions(user.id));
    Ok(user)
}

/// Brings the user's memberships in the mapped organizations in line with
/// their IdP roles. A change that would leave an organization without an
/// owner is skipped (and logged), never forced.
async fn apply_mapping(state: &AppState, rules: &[RoleRule], user: &User, roles: &[String], deprovisioned: &[portcullis_domain::OrgId]) -> Result<(), StoreError> {
    let now = state.clock.now();
    let orgs = state.store.list_orgs().await?;
    let Some(default_org) = orgs.first() else { return Ok(()) };
    let targets = super::role_mapping::mapped_orgs(rules, &orgs);
    // Current memberships in one query; roles are listed only to change one.
    let memberships = state.store.list_memberships(user.id).await?;
    for org in targets.into_iter().filter(|o| !deprovisioned.contains(&o.id)) {
        let wanted = rules
            .iter()
            .filter(|r| match &r.org {
                None => org.id == default_org.id,
                Some(n) => org.name.eq_ignore_ascii_case(n),
            })
            .find(|r| r.idp_role == "*" || roles.contains(&r.idp_role))
            .map(|r| &r.role);
        let current = memberships.iter().find(|m| m.org.id == org.id);
        let result = match (wanted, current) {
            (Some(target), Some(m)) if target.matches(&m.role) => Ok(()),
            (Some(target), current) => {
                let Some(role) = state.store.list_roles(org.id).await?.into_iter().find(|r| target.matches(r)) else {
                    tracing::warn!(org = %org.name, role = %target, "PORTCULLIS_ROLE_MAPPING names a role the organization does not have");
                    continue;
                };
                match current {
                    None => state.store.create_member(org.id, user.id, role.id, now).await,
                    Some(_) => state.store.update_member_role(org.id, user.id, role.id, now).await,
                }
            }
            (None, Some(_)) => state.store.delete_member(org.id, user.id, now).await,
            (None, None) => Ok(()),
        };
        match result {
            Ok(()) => {}
            Err(StoreError::LastOwner) => {
                tracing::warn!(org = %org.name, user = %user.id, "IdP roles would leave the organization without an owner; membership kept")
            }
            Err(StoreError::Conflict { .. }) => {} // a concurrent sign-in added it
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
