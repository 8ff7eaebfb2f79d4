//! Membership that follows SCIM groups at once, not only at the next
//! sign-in. In an organization whose enabled group rules name SCIM groups
//! (`scim_group` rules) and refuse when nothing matches:
//!
//! - removal from the last group that a rule gives a role for (a PATCH or
//!   PUT of the group, or its DELETE) ends the person's membership on every
//!   replica within a second, as deactivation does: browser sessions, CLI
//!   logins at the local authorization server, cached bearer tokens,
//!   kickoffs. Their SCIM account stays active and their audit history
//!   stays;
//! - being added to such a group gives a provisioned, active person without
//!   a membership the role the rules give (the membership only: ended
//!   sessions stay ended).
//!
//! Joining or leaving a group that no rule gives a role for changes
//! nothing (and costs no per-person work). Role changes between two
//! granting groups take effect at the next sign-in, when the claims that
//! may come first in the rules are known.

use super::ScimCaller;
use crate::invalidation::{broadcast, Invalidation};
use crate::state::AppState;
use portcullis_domain::group_rules::{GroupSource, KnownGroup, NoMatch};
use portcullis_domain::Role;
use portcullis_storage::{StoreError, StoredRuleSet};
use serde_json::json;
use uuid::Uuid;

/// The group a change was made to, as the rules know groups.
pub struct ChangedGroup {
    pub id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
}

/// The role the rules give from the person's SCIM groups alone (no
/// claims, no IdP roles: those are only known at sign-in).
fn role_from_groups(set: &StoredRuleSet, known: &[KnownGroup], roles: &[Role]) -> Option<Role> {
    crate::signin::group_rules::evaluate(set, &[], &serde_json::Value::Null, known, roles).outcome.role().cloned()
}

/// The organization's rule set when its memberships follow SCIM groups.
async fn governing(state: &AppState, caller: &ScimCaller) -> Result<Option<StoredRuleSet>, StoreError> {
    let Some(set) = state.store.get_group_rules(caller.org).await? else { return Ok(None) };
    let names_groups = set.set.rules.iter().any(|r| matches!(r.source, GroupSource::ScimGroup));
    Ok((set.enabled && names_groups && matches!(set.set.no_match, NoMatch::Refuse)).then_some(set))
}

/// Brings the memberships of the people `added` to and `removed` from
/// `group` (SCIM user ids) in line with the rules, after the change.
pub async fn follow(state: &AppState, caller: &ScimCaller, group: &ChangedGroup, added: &[Uuid], removed: &[Uuid]) -> Result<(), StoreError> {
    if added.is_empty() && removed.is_empty() {
        return Ok(());
    }
    let Some(set) = governing(state, caller).await? else { return Ok(()) };
    let roles = state.store.list_roles(caller.org).await?;
    // A group no rule gives a role for changes nothing, whoever joins or
    // leaves it: no per-person work (a large group's PATCH stays cheap).
    let this_group = KnownGroup { display_name: group.display_name.clone(), ids: std::iter::once(group.id.to_string()).chain(group.external_id.clone()).collect(), member: true };
    if role_from_groups(&set, std::slice::from_ref(&this_group), &roles).is_none() {
        return Ok(());
    }
    let now = state.clock.now();
    // The groups those removed are still in, for all of them in one query.
    let still_in = state.store.list_scim_member_groups(caller.org, removed).await?;
    for scim_id in removed {
        let known = still_in.get(scim_id).map(Vec::as_slice).unwrap_or_default();
        if role_from_groups(&set, known, &roles).is_some() {
            continue; // another group still gives a role
        }
        match state.store.end_scim_membership(caller.org, *scim_id, now).await {
            Ok(Some(user)) => {
                broadcast(state, Invalidation::UserSessions(user));
                broadcast(state, Invalidation::UserTokens(user));
                broadcast(state, Invalidation::AllAutomations);
                caller.audit(state, "scim.group.access_ended", Some(format!("user:{user}")), true, json!({ "group": group.display_name, "why": "removed from the last group a rule gives a role for" })).await;
            }
            Ok(None) => {}
            Err(StoreError::LastOwner) => {
                tracing::warn!(scim_user = %scim_id, group = %group.display_name, "removal from the group would leave the organization without an owner; membership kept");
                caller.audit(state, "scim.group.access_ended", Some(format!("scim-user:{scim_id}")), false, json!({ "group": group.display_name, "why": "the last owner" })).await;
            }
            Err(e) => return Err(e),
        }
    }
    // Those added who hold no membership here yet (usually none: provisioning made them members), in one query.
    for (_, user_id) in state.store.list_scim_users_without_membership(caller.org, added).await? {
        let known = state.store.known_groups(caller.org, user_id).await?;
        let Some(role) = role_from_groups(&set, &known, &roles) else { continue };
        match state.store.create_member(caller.org, user_id, role.id, now).await {
            Ok(()) => {
                broadcast(state, Invalidation::AllAutomations);
                caller.audit(state, "scim.group.access_given", Some(format!("user:{user_id}")), true, json!({ "group": group.display_name, "role": role.name })).await;
            }
            Err(StoreError::Conflict { .. }) => {} // a sign-in gave one meanwhile
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
