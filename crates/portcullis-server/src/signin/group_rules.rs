//! Applying the group-to-role rules at sign-in: in every organization with
//! an enabled rule set, the membership becomes what the rules say (a role,
//! or none), from the groups of this sign-in. The same evaluation answers
//! the Check access page's dry run (`api::group_rules`).

use crate::idp::identity::Identity;
use crate::state::AppState;
use portcullis_domain::group_rules::{ClaimPath, Evaluation, Groups, KnownGroup, Outcome};
use portcullis_domain::{OrgId, Role};
use portcullis_storage::{StoreError, StoredRuleSet, User};

/// The strings at `path` of `claims`: the top-level claim of that whole name
/// first (Auth0's `https://example.com/roles`), else the dotted path. A
/// string is one value, a list gives its strings (and numbers as written).
pub fn claim_strings(claims: &serde_json::Value, path: &ClaimPath) -> Vec<String> {
    let found = claims.get(path.as_str()).or_else(|| path.as_str().split('.').try_fold(claims, |v, seg| v.get(seg)));
    let one = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match found {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
        None => vec![],
    }
}

/// Evaluates one rule set for a person's roles and claims.
pub fn evaluate(set: &StoredRuleSet, idp_roles: &[String], claims: &serde_json::Value, known: &[KnownGroup], roles: &[Role]) -> Evaluation {
    let claim = |p: &ClaimPath| claim_strings(claims, p);
    set.set.evaluate(&Groups { idp_roles, claim: &claim, known }, roles)
}

/// The identity with the groups the provider left out of the token for
/// size (Entra ID's group overage) listed from Graph, when a rule or the
/// roles claim reads them; `None` when nothing needs them (no call is made:
/// an installation without such rules needs no Graph permission).
pub async fn complete_left_out(state: &AppState, sets: &[StoredRuleSet], ident: &Identity) -> Result<Option<Identity>, crate::idp::error::SignInError> {
    use crate::idp::vendors::entra_id_overage::GROUPS;
    use portcullis_domain::group_rules::GroupSource;
    let Some(overage) = &ident.group_overage else { return Ok(None) };
    let read_by_rules = sets.iter().flat_map(|s| &s.set.rules).any(|r| matches!(&r.source, GroupSource::Claim(p) if p.as_str() == GROUPS));
    let is_roles_claim = overage.roles_claim == GROUPS;
    if !read_by_rules && !is_roles_claim {
        return Ok(None);
    }
    let oid = ident.claims.get("oid").and_then(|v| v.as_str()).unwrap_or_default();
    let ids = overage.group_ids(&state.sso.http, oid).await?;
    tracing::info!(groups = ids.len(), "group overage: the groups left out of the token were listed from Microsoft Graph");
    let mut full = ident.clone();
    if let Some(claims) = full.claims.as_object_mut() {
        claims.insert(GROUPS.into(), serde_json::json!(ids));
    }
    if is_roles_claim {
        full.roles = ids;
    }
    Ok(Some(full))
}

/// An organization whose rules gave the person no role at this sign-in.
pub struct NoRole {
    pub org: String,
    /// The groups the rules saw (the provider's roles and the claims the rules read).
    pub seen: Vec<String>,
}

/// Brings the person's memberships in the governed organizations in line
/// with the rules. A change that would leave an organization without an
/// owner is skipped (and logged), never forced. Returns the organizations
/// where the rules gave no role.
pub async fn apply(state: &AppState, sets: &[StoredRuleSet], user: &User, ident: &Identity, deprovisioned: &[OrgId]) -> Result<Vec<NoRole>, StoreError> {
    let now = state.clock.now();
    if sets.is_empty() {
        return Ok(vec![]);
    }
    let memberships = state.store.list_memberships(user.id).await?;
    let mut no_role = Vec::new();
    for set in sets.iter().filter(|s| !deprovisioned.contains(&s.org_id)) {
        let Some(org) = state.store.get_org(set.org_id).await? else { continue };
        let roles = state.store.list_roles(org.id).await?;
        let known = state.store.known_groups(org.id, user.id).await?;
        let evaluation = evaluate(set, &ident.roles, &ident.claims, &known, &roles);
        let current = memberships.iter().find(|m| m.org.id == org.id);
        let result = match (evaluation.outcome.role(), current) {
            (Some(role), Some(m)) if m.role.id == role.id => Ok(()),
            (Some(role), None) => state.store.create_member(org.id, user.id, role.id, now).await,
            (Some(role), Some(_)) => state.store.update_member_role(org.id, user.id, role.id, now).await,
            (None, Some(_)) => state.store.delete_member(org.id, user.id, now).await,
            (None, None) => Ok(()),
        };
        if evaluation.outcome == Outcome::DefaultMissing {
            tracing::warn!(org = %org.name, "the group rules' default role no longer exists: nobody gets it until the rules name another");
        }
        if evaluation.outcome.role().is_none() {
            let mut seen: Vec<String> = ident.roles.clone();
            for rule in &set.set.rules {
                if let portcullis_domain::group_rules::GroupSource::Claim(p) = &rule.source {
                    seen.extend(claim_strings(&ident.claims, p));
                }
            }
            seen.extend(known.iter().filter(|g| g.member).map(|g| g.display_name.clone()));
            seen.sort();
            seen.dedup();
            no_role.push(NoRole { org: org.name.clone(), seen });
        }
        match result {
            Ok(()) => {}
            Err(StoreError::LastOwner) => {
                tracing::warn!(org = %org.name, user = %user.id, "the group rules would leave the organization without an owner; membership kept")
            }
            Err(StoreError::Conflict { .. }) => {} // a concurrent sign-in added it
            Err(e) => return Err(e),
        }
    }
    Ok(no_role)
}
