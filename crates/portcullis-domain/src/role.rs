//! Roles inside an organization: the predefined Owner and Member, and custom
//! roles with any allowed level per feature.

use crate::ids::{OrgId, RoleId};
use crate::permission::FeaturePermissions;
use serde::{Deserialize, Serialize};

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
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Owner => "owner",
            RoleKind::Member => "member",
            RoleKind::Custom => "custom",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(RoleKind::Owner),
            "member" => Some(RoleKind::Member),
            "custom" => Some(RoleKind::Custom),
            _ => None,
        }
    }
    pub fn is_predefined(self) -> bool {
        !matches!(self, RoleKind::Custom)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: RoleKind,
    pub permissions: FeaturePermissions,
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
