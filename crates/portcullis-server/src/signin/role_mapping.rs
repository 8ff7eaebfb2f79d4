//! `PORTCULLIS_ROLE_MAPPING` as the initial group-to-role rules: each
//! organization it names gets a rule set written from it once, the first
//! time it is needed; from then on the stored rules (edited in the admin
//! panel or through `/api/v1/group-rules`) are what sign-ins apply. In an
//! organization with an enabled rule set, memberships follow the IdP at
//! every sign-in, and nobody is invited by hand.

use crate::config::sso::{RoleRule, RoleTarget};
use crate::state::AppState;
use portcullis_domain::group_rules::{GroupRule, GroupSource, NoMatch, Pattern, RoleChoice, RuleSet};
use portcullis_domain::OrgId;
use portcullis_storage::{Organization, StoreError, StoredRuleSet};

/// The organizations the mapping names (the first organization for rules
/// without `@organization`).
pub fn mapped_orgs<'o>(rules: &[RoleRule], orgs: &'o [Organization]) -> Vec<&'o Organization> {
    let Some(default_org) = orgs.first() else { return vec![] };
    let mut targets: Vec<&Organization> = Vec::new();
    for rule in rules {
        let org = match &rule.org {
            None => Some(default_org),
            Some(name) => orgs.iter().find(|o| o.name.eq_ignore_ascii_case(name)),
        };
        match org {
            Some(o) if !targets.iter().any(|t| t.id == o.id) => targets.push(o),
            Some(_) => {}
            None => tracing::warn!(org = rule.org.as_deref().unwrap_or_default(), "PORTCULLIS_ROLE_MAPPING names an organization that does not exist"),
        }
    }
    targets
}

fn choice(target: &RoleTarget) -> RoleChoice {
    match target {
        RoleTarget::Predefined(kind) => RoleChoice::Kind(*kind),
        RoleTarget::Key(key) => RoleChoice::Key(key.clone()),
        RoleTarget::Id(id) => RoleChoice::Id(*id),
    }
}

/// The mapping's rules for `org`, in order, as a rule set: each
/// `<IdP role>=<role>` matches the provider's roles exactly; `*=<role>`
/// becomes the default role (rules after it could never match); without
/// one, nothing matching is refused.
pub fn rules_from_env(rules: &[RoleRule], org: &Organization, default_org: OrgId) -> RuleSet {
    let mut set = RuleSet { rules: vec![], no_match: NoMatch::Refuse };
    let for_org = rules.iter().filter(|r| match &r.org {
        None => org.id == default_org,
        Some(n) => org.name.eq_ignore_ascii_case(n),
    });
    for rule in for_org {
        if rule.idp_role == "*" {
            set.no_match = NoMatch::Default(choice(&rule.role));
            break;
        }
        match Pattern::parse(false, &rule.idp_role) {
            Ok(pattern) => set.rules.push(GroupRule { source: GroupSource::IdpRoles, pattern, role: choice(&rule.role) }),
            Err(e) => tracing::warn!(rule = %rule.idp_role, error = %e, "PORTCULLIS_ROLE_MAPPING: a rule was left out"),
        }
    }
    set
}

/// The enabled rule sets, after writing the environment's for the
/// organizations it names that have none yet.
pub async fn governed_sets(state: &AppState) -> Result<Vec<StoredRuleSet>, StoreError> {
    let env = &state.config.sso.role_mapping;
    if !env.is_empty() {
        let orgs = state.store.list_orgs().await?;
        if let Some(default_org) = orgs.first().map(|o| o.id) {
            for org in mapped_orgs(env, &orgs) {
                if state.store.get_group_rules(org.id).await?.is_none() {
                    let set = rules_from_env(env, org, default_org);
                    if state.store.seed_group_rules(org.id, &set, state.clock.now()).await? {
                        tracing::info!(org = %org.name, rules = set.rules.len(), "group-to-role rules written from PORTCULLIS_ROLE_MAPPING");
                    }
                }
            }
        }
    }
    state.store.list_enabled_group_rules().await
}

/// The organizations whose memberships follow the IdP.
pub async fn governed_orgs(state: &AppState) -> Result<Vec<OrgId>, StoreError> {
    Ok(governed_sets(state).await?.into_iter().map(|s| s.org_id).collect())
}
