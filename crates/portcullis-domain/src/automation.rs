//! Entity permissions on individual automations: visibility and per-user or
//! per-role grants.

use crate::ids::{OrgId, RoleId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// Who may see an automation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Every member of the organization with `crews_dashboards: read`.
    Organization,
    /// Only whitelisted users and roles (those holding a grant), and owners.
    Private,
}

impl Visibility {
    /// The stored and wire name (`organization`, `private`).
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Organization => "organization",
            Visibility::Private => "private",
        }
    }
    /// The visibility named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "organization" => Some(Visibility::Organization),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }
}

/// A grantable permission on one automation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityPermission {
    /// Execute it and use its API (inputs, kickoff).
    Run,
    /// View execution traces and logs.
    Traces,
    /// Edit, redeploy, roll back, delete.
    ManageSettings,
    /// Answer human-in-the-loop requests.
    HumanInTheLoop,
    /// All of the above.
    FullAccess,
}

impl EntityPermission {
    /// Every entity permission, in the order the platform lists them.
    pub const ALL: [EntityPermission; 5] = [
        EntityPermission::Run,
        EntityPermission::Traces,
        EntityPermission::ManageSettings,
        EntityPermission::HumanInTheLoop,
        EntityPermission::FullAccess,
    ];
    /// The wire name (`run`, `traces`, `manage_settings`, `human_in_the_loop`, `full_access`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityPermission::Run => "run",
            EntityPermission::Traces => "traces",
            EntityPermission::ManageSettings => "manage_settings",
            EntityPermission::HumanInTheLoop => "human_in_the_loop",
            EntityPermission::FullAccess => "full_access",
        }
    }
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for EntityPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityPermission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntityPermission::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            format!(
                "unknown automation permission `{s}`; valid permissions are: run, traces, manage_settings, human_in_the_loop, full_access"
            )
        })
    }
}

/// A set of entity permissions, as a bit set so that the union over a user's
/// roles costs a few instructions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermSet(u8);

impl PermSet {
    /// No permission at all.
    pub const EMPTY: PermSet = PermSet(0);

    /// The set holding exactly `perms`.
    pub fn of(perms: &[EntityPermission]) -> Self {
        perms.iter().fold(Self::EMPTY, |s, p| s.with(*p))
    }
    /// This set and `p`.
    pub fn with(self, p: EntityPermission) -> Self {
        Self(self.0 | p.bit())
    }
    /// Everything either set holds.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
    /// Whether the set holds nothing.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Whether the set allows `p` (`full_access` allows everything).
    pub fn allows(self, p: EntityPermission) -> bool {
        self.0 & (p.bit() | EntityPermission::FullAccess.bit()) != 0
    }
    /// The permissions in the set, in [`EntityPermission::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = EntityPermission> {
        EntityPermission::ALL.into_iter().filter(move |p| self.0 & p.bit() != 0)
    }
    /// The set as stored (one bit per permission).
    pub fn bits(self) -> u8 {
        self.0
    }
    /// The set stored as `bits` (unknown bits are dropped).
    pub fn from_bits(bits: u8) -> Self {
        Self(bits & 0b1_1111)
    }
}

/// Who a grant is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Subject {
    /// A grant to one user.
    User(UserId),
    /// A grant to everyone holding a role.
    Role(RoleId),
}

/// What someone wants to do with an automation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AutomationAccess {
    /// See it in listings and read its description.
    View,
    /// Start (kick off) a run.
    Run,
    /// Read its executions' traces.
    Traces,
    /// Change its settings: visibility, grants, upstream.
    ManageSettings,
    /// Answer its human-in-the-loop requests.
    HumanInTheLoop,
}

impl AutomationAccess {
    /// The grant that allows this access (`View` is allowed by any grant).
    pub fn required_grant(self) -> Option<EntityPermission> {
        match self {
            AutomationAccess::View => None,
            AutomationAccess::Run => Some(EntityPermission::Run),
            AutomationAccess::Traces => Some(EntityPermission::Traces),
            AutomationAccess::ManageSettings => Some(EntityPermission::ManageSettings),
            AutomationAccess::HumanInTheLoop => Some(EntityPermission::HumanInTheLoop),
        }
    }
}

/// The access list of one automation, indexed for the decision: a lookup
/// per subject, so its cost does not grow with the number of grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutomationAcl {
    /// The organization the automation belongs to.
    pub org_id: OrgId,
    /// Organization-wide or private.
    pub visibility: Visibility,
    /// Grants to single users.
    pub user_grants: HashMap<UserId, PermSet>,
    /// Grants to roles.
    pub role_grants: HashMap<RoleId, PermSet>,
}

impl AutomationAcl {
    /// An access list with no grants.
    pub fn new(org_id: OrgId, visibility: Visibility) -> Self {
        Self { org_id, visibility, user_grants: HashMap::new(), role_grants: HashMap::new() }
    }

    /// Adds `perms` to what `subject` holds (grants accumulate).
    pub fn grant(&mut self, subject: Subject, perms: PermSet) {
        match subject {
            Subject::User(u) => {
                let e = self.user_grants.entry(u).or_default();
                *e = e.union(perms);
            }
            Subject::Role(r) => {
                let e = self.role_grants.entry(r).or_default();
                *e = e.union(perms);
            }
        }
    }

    /// The union of everything granted to the user directly or to any of
    /// the given roles.
    pub fn granted_to<'a>(&self, user: UserId, roles: impl Iterator<Item = &'a RoleId>) -> PermSet {
        let mut set = self.user_grants.get(&user).copied().unwrap_or_default();
        for r in roles {
            if let Some(p) = self.role_grants.get(r) {
                set = set.union(*p);
            }
        }
        set
    }
}
