//! The RBAC decision: one pure function, [`decide`], that every handler calls
//! before it touches anything.

use crate::automation::{AutomationAccess, AutomationAcl, EntityPermission};
use crate::ids::{OrgId, RoleId, UserId};
use crate::permission::{Feature, FeaturePermissions, Level};
use crate::role::RoleKind;
use std::fmt;

/// One role held by the caller in the current organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRef {
    /// The role.
    pub id: RoleId,
    /// Its display name (for messages).
    pub name: String,
    /// Owner, member or custom.
    pub kind: RoleKind,
    /// What it grants per feature.
    pub permissions: FeaturePermissions,
}

/// The caller's standing in the organization the request is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgContext {
    /// The organization.
    pub org_id: OrgId,
    /// The caller's roles there (one today; several are allowed).
    pub roles: Vec<RoleRef>,
}

impl OrgContext {
    /// Whether any of the roles is the owner role.
    pub fn is_owner(&self) -> bool {
        self.roles.iter().any(|r| r.kind == RoleKind::Owner)
    }

    /// The highest level any of the caller's roles grants for `feature`.
    pub fn level(&self, feature: Feature) -> Level {
        if self.is_owner() {
            return Level::Manage;
        }
        self.roles.iter().map(|r| r.permissions.get(feature)).max().unwrap_or(Level::None)
    }
}

/// Who is asking, as far as RBAC is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The signed-in user.
    pub user_id: UserId,
    /// The installation-wide `factory-admin` flag: opens every organization.
    pub factory_admin: bool,
    /// Membership in the organization the request is about, if any.
    pub org: Option<OrgContext>,
}

/// What the caller wants to do.
#[derive(Clone, Copy, Debug)]
pub enum Action<'a> {
    /// Use a feature of the current organization at least at `level`.
    Feature(Feature, Level),
    /// Do something with one automation.
    Automation(&'a AutomationAcl, AutomationAccess),
    /// Administer the installation as a whole (every organization).
    InstallationAdmin,
    /// Bring someone into the organization with a role of this kind (an
    /// invitation, or a new account): `invitations: manage`, and
    /// `organization_settings: manage` for any role but Member, and being
    /// an owner to make an owner. Checked when the invitation is made and
    /// again, for the person who made it, when it is accepted.
    Invite(RoleKind),
    /// Change a member who holds a role of this kind (their role, their
    /// account, their sessions), or give someone a role of this kind:
    /// `organization_settings: manage`, and being an owner when the role is
    /// Owner (only owners change owners or make them).
    ManageMember(RoleKind),
}

/// What the caller lacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Membership of the organization.
    Membership,
    /// A feature level.
    Feature(Feature, Level),
    /// A grant on the automation, or alternatively a feature level.
    Entity {
        /// The grant on the automation.
        permission: EntityPermission,
        /// A feature level that allows it too.
        or_feature: Option<(Feature, Level)>,
    },
    /// The installation-wide `factory-admin` role.
    FactoryAdmin,
    /// Being an owner of the organization.
    Owner,
}

/// Why a decision refused: what the caller lacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denial {
    /// What was required.
    pub required: Requirement,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.required {
            Requirement::Membership => {
                write!(f, "you are not a member of this organization; ask one of its owners to add you")
            }
            Requirement::Feature(feat, level) => write!(
                f,
                "this needs the `{feat}: {level}` permission, which none of your roles grants; ask an organization owner to grant it"
            ),
            Requirement::Entity { permission, or_feature: Some((feat, level)) } => write!(
                f,
                "this needs the `{permission}` permission on this automation (or `{feat}: {level}`); ask an organization owner to grant it"
            ),
            Requirement::Entity { permission, or_feature: None } => write!(
                f,
                "this needs the `{permission}` permission on this automation; ask an organization owner to grant it"
            ),
            Requirement::FactoryAdmin => write!(
                f,
                "this needs the installation-wide `factory-admin` role; ask your identity-provider administrator to assign it"
            ),
            Requirement::Owner => write!(f, "only an owner of the organization can make someone an owner"),
        }
    }
}

/// The RBAC decision about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused: answer 403 and say what was lacking.
    Deny(Denial),
    /// The caller may not even know the resource exists: answer 404.
    NotFound,
}

impl Decision {
    /// Whether the decision is [`Decision::Allow`].
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::Allow)
    }
}

fn deny(required: Requirement) -> Decision {
    Decision::Deny(Denial { required })
}

/// Decides whether `principal` may perform `action`.
///
/// Rules (see `docs/rbac.md`):
/// - `factory-admin` may do anything; an organization Owner may do anything
///   inside that organization, including on private automations.
/// - Feature actions need the level from at least one of the caller's roles.
/// - A private automation exists only for holders of a grant on it (users
///   directly or through a role): others get [`Decision::NotFound`]. Holders
///   get exactly what they were granted (`full_access` is everything).
/// - An organization-wide automation may be viewed, run, traced and answered
///   with `crews_dashboards: read`, and its settings managed with
///   `crews_dashboards: manage`; grants add to that.
///
/// Cost: one hash lookup for the user and one per role held; it does not
/// depend on the number of grants or automations.
pub fn decide(principal: &Principal, action: Action<'_>) -> Decision {
    if principal.factory_admin {
        return Decision::Allow;
    }
    match action {
        Action::InstallationAdmin => deny(Requirement::FactoryAdmin),
        Action::Invite(kind) => {
            let Some(org) = &principal.org else { return deny(Requirement::Membership) };
            if org.level(Feature::Invitations) < Level::Manage {
                return deny(Requirement::Feature(Feature::Invitations, Level::Manage));
            }
            if kind != RoleKind::Member && org.level(Feature::OrganizationSettings) < Level::Manage {
                return deny(Requirement::Feature(Feature::OrganizationSettings, Level::Manage));
            }
            if kind == RoleKind::Owner && !org.is_owner() {
                return deny(Requirement::Owner);
            }
            Decision::Allow
        }
        Action::ManageMember(kind) => {
            let Some(org) = &principal.org else { return deny(Requirement::Membership) };
            if org.level(Feature::OrganizationSettings) < Level::Manage {
                return deny(Requirement::Feature(Feature::OrganizationSettings, Level::Manage));
            }
            if kind == RoleKind::Owner && !org.is_owner() {
                return deny(Requirement::Owner);
            }
            Decision::Allow
        }
        Action::Feature(feature, level) => match &principal.org {
            None => deny(Requirement::Membership),
            Some(org) if org.level(feature) >= level => Decision::Allow,
            Some(_) => deny(Requirement::Feature(feature, level)),
        },
        Action::Automation(acl, access) => {
            let org = match &principal.org {
                Some(org) if org.org_id == acl.org_id => org,
                _ => return Decision::NotFound,
            };
            if org.is_owner() {
                return Decision::Allow;
            }
            let granted = acl.granted_to(principal.user_id, org.roles.iter().map(|r| &r.id));
            let crews = org.level(Feature::CrewsDashboards);
            match acl.visibility {
                crate::automation::Visibility::Private => {
                    if granted.is_empty() {
                        return Decision::NotFound;
                    }
                    match access.required_grant() {
                        None => Decision::Allow,
                        Some(p) if granted.allows(p) => Decision::Allow,
                        Some(p) => deny(Requirement::Entity { permission: p, or_feature: None }),
                    }
                }
                crate::automation::Visibility::Organization => {
                    let needed = match access {
                        AutomationAccess::ManageSettings => Level::Manage,
                        _ => Level::Read,
                    };
                    let by_grant = match access.required_grant() {
                        None => !granted.is_empty(),
                        Some(p) => granted.allows(p),
                    };
                    if by_grant || crews >= needed {
                        Decision::Allow
                    } else {
                        match access.required_grant() {
                            None => deny(Requirement::Feature(Feature::CrewsDashboards, Level::Read)),
                            Some(p) => deny(Requirement::Entity {
                                permission: p,
                                or_feature: Some((Feature::CrewsDashboards, needed)),
                            }),
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
