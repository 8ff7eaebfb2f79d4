//! Which organizations `PORTCULLIS_ROLE_MAPPING` governs: there, memberships
//! follow the IdP's roles at every sign-in, and nobody is invited by hand.

use crate::config::sso::RoleRule;
use portcullis_storage::Organization;

/// The organizations whose memberships follow the IdP: those the mapping
/// names (the first organization for rules without `@organization`).
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

