//! The signed-in header's areas. Each area names the same RBAC action its
//! page decides on, and the header offers an area only when the domain's
//! decision allows it in at least one of the person's organizations: no
//! second copy of the rules.

use super::{Nav, NavItem};
use crate::session::{principal_in, Caller};
use crate::state::AppState;
use portcullis_domain::{decide, Action, Decision, Feature, Level, Principal};

/// An area of the admin panel.
struct Area {
    href: &'static str,
    label: &'static str,
    /// What opening it takes; `None`: every signed-in person.
    action: Option<Action<'static>>,
}

/// The areas, in the header's order. Areas are added here as their pages
/// are built.
const AREAS: &[Area] = &[
    Area { href: "/", label: "Home", action: None },
    Area { href: "/automations", label: "Automations", action: Some(Action::Feature(Feature::CrewsDashboards, Level::Read)) },
    Area { href: "/usage", label: "Usage", action: Some(Action::Feature(Feature::UsageDashboards, Level::Read)) },
    Area { href: "/env", label: "Variables", action: Some(Action::Feature(Feature::EnvironmentVariables, Level::Manage)) },
    Area { href: "/members", label: "Members", action: Some(Action::Feature(Feature::Invitations, Level::Read)) },
    Area { href: "/settings/roles", label: "Roles", action: Some(Action::Feature(Feature::Invitations, Level::Read)) },
    Area { href: "/settings/group-rules", label: "Group rules", action: Some(Action::Feature(Feature::Invitations, Level::Read)) },
    Area { href: "/settings/check-access", label: "Check access", action: Some(Action::Feature(Feature::OrganizationSettings, Level::Manage)) },
    Area { href: "/settings/provisioning", label: "Provisioning", action: Some(Action::Feature(Feature::OrganizationSettings, Level::Manage)) },
    Area { href: "/audit", label: "Audit log", action: Some(Action::Feature(Feature::OrganizationSettings, Level::Manage)) },
    Area { href: "/organizations", label: "Organizations", action: Some(Action::InstallationAdmin) },
    Area { href: "/settings/sign-in", label: "Sign-in settings", action: Some(Action::InstallationAdmin) },
    Area { href: "/account", label: "My account", action: None },
];

/// The header for `caller`, with `current` (an area's `href`) marked.
pub fn for_caller(state: &AppState, caller: &Caller, current: &str) -> Nav {
    let ctx = &caller.ctx;
    // Who the person is in each of their organizations, and outside any
    // (for installation-wide areas).
    let mut principals: Vec<Principal> = ctx.memberships.iter().map(|m| principal_in(&ctx.user, &ctx.memberships, m.org.id)).collect();
    principals.push(Principal { user_id: ctx.user.id, factory_admin: ctx.user.factory_admin, org: None });
    let allowed = |action: &Action<'_>| principals.iter().any(|p| decide(p, *action) == Decision::Allow);
    let items = AREAS
        .iter()
        .filter(|a| a.action.as_ref().is_none_or(&allowed))
        .map(|a| NavItem { href: a.href, label: a.label, current: a.href == current })
        .collect();
    Nav { items, display_name: ctx.user.display_name.clone(), csrf_token: caller.csrf_token(state) }
}
