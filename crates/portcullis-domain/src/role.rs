//! Roles inside an organization: the predefined Owner and Member, and custom
//! roles with any allowed level per feature.

use crate::ids::{OrgId, RoleId};
use crate::permission::FeaturePermissions;
use serde::{Deserialize, Serialize};

/// What a role is: predefined (owner, member) or made by an administrator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleKind {
    /// Full access, cannot be restricted or deleted.
    Owner,
    /// The predefined standard role; may be adjusted, cannot be deleted.
    Member,
    /// Created by an administrator.
    Custom,
}

impl RoleKind {
    /// The stored name (`owner`, `member`, `custom`).
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Owner => "owner",
            RoleKind::Member => "member",
            RoleKind::Custom => "custom",
        }
    }
    /// The kind named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(RoleKind::Owner),
            "member" => Some(RoleKind::Member),
            "custom" => Some(RoleKind::Custom),
            _ => None,
        }
    }
    /// Whether the role is one every organization has (owner or member).
    pub fn is_predefined(self) -> bool {
        !matches!(self, RoleKind::Custom)
    }
}

/// A role of one organization and the feature permissions it grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Its id.
    pub id: RoleId,
    /// The organization it belongs to.
    pub org_id: OrgId,
    /// The display name, which administrators may change.
    pub name: String,
    /// What configuration refers to the role by (`PORTCULLIS_ROLE_MAPPING`):
    /// `owner` and `member` for the predefined roles, a slug of the first
    /// name for custom ones. Set at creation and never changed, so that
    /// renaming a role cannot redirect a mapping to it.
    pub key: String,
    /// Predefined or custom.
    pub kind: RoleKind,
    /// What it grants per feature.
    pub permissions: FeaturePermissions,
}

/// The keys a new custom role named `name` may take, best first: the name
/// lower-cased with runs of other characters as `-` (`Data Science` →
/// `data-science`), then with `-2`, `-3`... The predefined roles' keys
/// `owner` and `member` are never offered.
pub fn custom_role_keys(name: &str) -> impl Iterator<Item = String> {
    let mut slug = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug = slug.trim_end_matches('-').chars().take(60).collect::<String>();
    if slug.is_empty() {
        slug = "role".into();
    }
    let reserved = slug == RoleKind::Owner.as_str() || slug == RoleKind::Member.as_str();
    let first = if reserved { 2 } else { 1 };
    (first..).map(move |n| if n == 1 { slug.clone() } else { format!("{slug}-{n}") })
}

impl Role {
    /// The permissions that actually apply: an Owner's are always full,
    /// whatever is stored.
    pub fn effective_permissions(&self) -> FeaturePermissions {
        match self.kind {
            RoleKind::Owner => FeaturePermissions::owner(),
            _ => self.permissions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_role_keys_are_slugs_and_never_a_predefined_key() {
        let first = |n: &str| custom_role_keys(n).next().unwrap();
        assert_eq!(first("Data Science"), "data-science");
        assert_eq!(first("  Ops / On-call!! "), "ops-on-call");
        assert_eq!(first("Développeurs"), "développeurs");
        assert_eq!(first("!!!"), "role");
        assert_eq!(first("Owner"), "owner-2");
        assert_eq!(first("MEMBER"), "member-2");
        assert_eq!(custom_role_keys("Dev").take(3).collect::<Vec<_>>(), ["dev", "dev-2", "dev-3"]);
    }
}
