//! Just-in-time accounts and roles from the IdP, re-read at every sign-in.
//!
//! The account is keyed on issuer + subject (never the e-mail address). The
//! IdP roles `member` and `factory-admin` are the platform's: with
//! `require_role`, a user with neither is refused; `factory-admin` makes the
//! user an administrator of the whole installation. The group-to-role rules
//! (`group_rules`, first written from `PORTCULLIS_ROLE_MAPPING`) map IdP
//! roles or groups to organization roles; in the organizations that have
//! them, the IdP is authoritative: a role removed there is gone at the next
//! sign-in.

use crate::idp::error::SignInError;
use crate::idp::identity::Identity;
use crate::idp::vendors::{OidcSettings, VendorOf};
use crate::state::AppState;
use portcullis_storage::{IdpUser, StoreError, User};

/// Okta caps the `groups` claim at 100 groups, and sends none unless the
/// app's sign-on settings add it: say which, and what to configure.
fn okta_groups_hint(provider: &str, claims: &serde_json::Value) -> Option<String> {
    if provider != "okta" {
        return None;
    }
    match claims.get("groups") {
        None => Some(
            "Okta sent no `groups` claim. In the Okta app's Sign On tab, add a groups claim named `groups` to the ID token (filter: Matches regex `.*`, or the groups the rules name), and make the CLI and browser clients request the `groups` scope."
                .into(),
        ),
        Some(serde_json::Value::Array(list)) if list.len() >= 100 => Some(format!(
            "Okta sent {} groups, its limit for the `groups` claim, so the one a rule names may have been cut. In the Okta app's Sign On tab, narrow the groups claim filter (Starts with, or Matches regex) to the groups the rules name.",
            list.len()
        )),
        _ => None,
    }
}

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
    // The rules, and the groups they read that the token left out for size.
    let sets = super::role_mapping::governed_sets(state).await.map_err(db)?;
    let completed = super::group_rules::complete_left_out(state, &sets, ident).await?;
    let ident = completed.as_ref().unwrap_or(ident);
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
    let no_role = super::group_rules::apply(state, &sets, &user, ident, &deprovisioned).await.map_err(db)?;
    if ident.email_verified {
        crate::signin::invite::apply_at_sign_in(state, &user).await.map_err(db)?;
    }
    let left_in_none = (!deprovisioned.is_empty() || !no_role.is_empty()) && state.store.list_memberships(user.id).await.map_err(db)?.is_empty();
    if left_in_none && !deprovisioned.is_empty() {
        return Err(SignInError::Deprovisioned);
    }
    // Refused by the rules everywhere: an installation administrator still
    // gets in (to the Organizations page), anyone else is told why.
    if left_in_none && !user.factory_admin {
        let seen = no_role.iter().flat_map(|n| n.seen.iter().cloned()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        return Err(SignInError::NoRoleRule { orgs: no_role.into_iter().map(|n| n.org).collect(), seen, hint: okta_groups_hint(s.provider, &ident.claims) });
    }
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserSessions(user.id));
    Ok(user)
}
