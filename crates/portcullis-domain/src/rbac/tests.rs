use super::*;
use crate::automation::{PermSet, Subject, Visibility};
use proptest::prelude::*;

fn role(kind: RoleKind, permissions: FeaturePermissions) -> RoleRef {
    RoleRef { id: RoleId::new(), name: kind.as_str().into(), kind, permissions }
}

fn principal(org: OrgId, roles: Vec<RoleRef>) -> Principal {
    Principal { user_id: UserId::new(), factory_admin: false, org: Some(OrgContext { org_id: org, roles }) }
}

const ACCESSES: [AutomationAccess; 5] = [
    AutomationAccess::View,
    AutomationAccess::Run,
    AutomationAccess::Traces,
    AutomationAccess::ManageSettings,
    AutomationAccess::HumanInTheLoop,
];

#[test]
fn owner_may_do_everything_in_their_org_but_not_installation_admin() {
    let org = OrgId::new();
    let p = principal(org, vec![role(RoleKind::Owner, FeaturePermissions::none())]);
    for f in Feature::ALL {
        assert_eq!(decide(&p, Action::Feature(f, Level::Manage)), Decision::Allow);
    }
    let acl = AutomationAcl::new(org, Visibility::Private);
    for a in ACCESSES {
        assert_eq!(decide(&p, Action::Automation(&acl, a)), Decision::Allow);
    }
    assert_eq!(
        decide(&p, Action::InstallationAdmin),
        Decision::Deny(Denial { required: Requirement::FactoryAdmin })
    );
}

#[test]
fn factory_admin_opens_every_organization() {
    let p = Principal { user_id: UserId::new(), factory_admin: true, org: None };
    assert_eq!(decide(&p, Action::InstallationAdmin), Decision::Allow);
    assert_eq!(decide(&p, Action::Feature(Feature::OrganizationSettings, Level::Manage)), Decision::Allow);
    let acl = AutomationAcl::new(OrgId::new(), Visibility::Private);
    assert_eq!(decide(&p, Action::Automation(&acl, AutomationAccess::ManageSettings)), Decision::Allow);
}

#[test]
fn member_matrix_decisions() {
    let org = OrgId::new();
    let p = principal(org, vec![role(RoleKind::Member, FeaturePermissions::member())]);
    for f in Feature::ALL {
        for l in Level::ALL {
            let expected = if FeaturePermissions::member().get(f) >= l {
                Decision::Allow
            } else {
                Decision::Deny(Denial { required: Requirement::Feature(f, l) })
            };
            assert_eq!(decide(&p, Action::Feature(f, l)), expected, "{f} {l}");
        }
    }
}

#[test]
fn non_member_is_refused_features_and_cannot_see_automations() {
    let p = Principal { user_id: UserId::new(), factory_admin: false, org: None };
    assert_eq!(
        decide(&p, Action::Feature(Feature::UsageDashboards, Level::Read)),
        Decision::Deny(Denial { required: Requirement::Membership })
    );
    let acl = AutomationAcl::new(OrgId::new(), Visibility::Organization);
    assert_eq!(decide(&p, Action::Automation(&acl, AutomationAccess::View)), Decision::NotFound);
}

#[test]
fn owner_of_another_org_cannot_see_automation() {
    let p = principal(OrgId::new(), vec![role(RoleKind::Owner, FeaturePermissions::owner())]);
    let acl = AutomationAcl::new(OrgId::new(), Visibility::Organization);
    assert_eq!(decide(&p, Action::Automation(&acl, AutomationAccess::View)), Decision::NotFound);
}

#[test]
fn private_automation_is_invisible_without_a_grant_and_exact_with_one() {
    let org = OrgId::new();
    let member = role(RoleKind::Member, FeaturePermissions::owner()); // even manage everywhere
    let p = principal(org, vec![member.clone()]);
    let mut acl = AutomationAcl::new(org, Visibility::Private);
    for a in ACCESSES {
        assert_eq!(decide(&p, Action::Automation(&acl, a)), Decision::NotFound);
    }
    acl.grant(Subject::User(p.user_id), PermSet::of(&[EntityPermission::Run]));
    assert_eq!(decide(&p, Action::Automation(&acl, AutomationAccess::View)), Decision::Allow);
    assert_eq!(decide(&p, Action::Automation(&acl, AutomationAccess::Run)), Decision::Allow);
    assert_eq!(
        decide(&p, Action::Automation(&acl, AutomationAccess::Traces)),
        Decision::Deny(Denial {
            required: Requirement::Entity { permission: EntityPermission::Traces, or_feature: None }
        })
    );
    // A grant through a role counts too.
    acl.grant(Subject::Role(member.id), PermSet::of(&[EntityPermission::FullAccess]));
    for a in ACCESSES {
        assert_eq!(decide(&p, Action::Automation(&acl, a)), Decision::Allow);
    }
}

#[test]
fn organization_automation_follows_the_dashboard_level() {
    let org = OrgId::new();
    let mut none = FeaturePermissions::none();
    let p_none = principal(org, vec![role(RoleKind::Custom, none)]);
    none.set(Feature::CrewsDashboards, Level::Read).unwrap();
    let p_read = principal(org, vec![role(RoleKind::Custom, none)]);
    none.set(Feature::CrewsDashboards, Level::Manage).unwrap();
    let p_manage = principal(org, vec![role(RoleKind::Custom, none)]);
    let acl = AutomationAcl::new(org, Visibility::Organization);

    assert!(matches!(decide(&p_none, Action::Automation(&acl, AutomationAccess::View)), Decision::Deny(_)));
    assert_eq!(decide(&p_read, Action::Automation(&acl, AutomationAccess::Run)), Decision::Allow);
    assert_eq!(
        decide(&p_read, Action::Automation(&acl, AutomationAccess::ManageSettings)),
        Decision::Deny(Denial {
            required: Requirement::Entity {
                permission: EntityPermission::ManageSettings,
                or_feature: Some((Feature::CrewsDashboards, Level::Manage))
            }
        })
    );
    assert_eq!(decide(&p_manage, Action::Automation(&acl, AutomationAccess::ManageSettings)), Decision::Allow);

    let mut acl2 = acl.clone();
    acl2.grant(Subject::User(p_none.user_id), PermSet::of(&[EntityPermission::Traces]));
    assert_eq!(decide(&p_none, Action::Automation(&acl2, AutomationAccess::View)), Decision::Allow);
    assert_eq!(decide(&p_none, Action::Automation(&acl2, AutomationAccess::Traces)), Decision::Allow);
    assert!(matches!(decide(&p_none, Action::Automation(&acl2, AutomationAccess::Run)), Decision::Deny(_)));
}

#[test]
fn denial_messages_name_what_was_missing() {
    let d = Denial { required: Requirement::Feature(Feature::UsageDashboards, Level::Read) };
    assert!(d.to_string().contains("`usage_dashboards: read`"));
    let d = Denial { required: Requirement::Entity { permission: EntityPermission::Run, or_feature: None } };
    assert!(d.to_string().contains("`run`"));
}

fn arb_level() -> impl Strategy<Value = Level> {
    prop::sample::select(Level::ALL.to_vec())
}
fn arb_perms() -> impl Strategy<Value = FeaturePermissions> {
    prop::collection::vec(arb_level(), Feature::COUNT).prop_map(|levels| {
        let mut p = FeaturePermissions::none();
        for (f, l) in Feature::ALL.into_iter().zip(levels) {
            // Clamp to what the feature allows.
            let l = if f.allowed_levels().contains(&l) { l } else { Level::Manage };
            p.set(f, l).unwrap();
        }
        p
    })
}
fn arb_permset() -> impl Strategy<Value = PermSet> {
    (0u8..32).prop_map(PermSet::from_bits)
}
fn arb_access() -> impl Strategy<Value = AutomationAccess> {
    prop::sample::select(ACCESSES.to_vec())
}

proptest! {
    /// Adding a grant never takes an access away.
    #[test]
    fn grants_are_monotonic(perms in arb_perms(), vis in prop::bool::ANY, g1 in arb_permset(), g2 in arb_permset(), access in arb_access(), via_role in prop::bool::ANY) {
        let org = OrgId::new();
        let r = role(RoleKind::Custom, perms);
        let p = principal(org, vec![r.clone()]);
        let mut acl = AutomationAcl::new(org, if vis { Visibility::Private } else { Visibility::Organization });
        acl.grant(Subject::User(p.user_id), g1);
        let before = decide(&p, Action::Automation(&acl, access));
        acl.grant(if via_role { Subject::Role(r.id) } else { Subject::User(p.user_id) }, g2);
        let after = decide(&p, Action::Automation(&acl, access));
        prop_assert!(!before.is_allowed() || after.is_allowed());
    }

    /// Holding one more role never takes a feature level away.
    #[test]
    fn roles_are_monotonic(a in arb_perms(), b in arb_perms(), f in prop::sample::select(Feature::ALL.to_vec()), l in arb_level()) {
        let org = OrgId::new();
        let one = principal(org, vec![role(RoleKind::Custom, a)]);
        let mut two = one.clone();
        two.org.as_mut().unwrap().roles.push(role(RoleKind::Custom, b));
        let d1 = decide(&one, Action::Feature(f, l));
        let d2 = decide(&two, Action::Feature(f, l));
        prop_assert!(!d1.is_allowed() || d2.is_allowed());
        prop_assert_eq!(d2.is_allowed(), a.union(&b).get(f) >= l);
    }

    /// A private automation's existence never leaks to someone without a grant.
    #[test]
    fn private_without_grant_is_always_not_found(perms in arb_perms(), access in arb_access(), others in prop::collection::vec(arb_permset(), 0..20)) {
        let org = OrgId::new();
        let p = principal(org, vec![role(RoleKind::Custom, perms)]);
        let mut acl = AutomationAcl::new(org, Visibility::Private);
        for g in others { acl.grant(Subject::User(UserId::new()), g); acl.grant(Subject::Role(RoleId::new()), g); }
        prop_assert_eq!(decide(&p, Action::Automation(&acl, access)), Decision::NotFound);
    }

    /// `full_access` allows every access; owner is never refused in their org.
    #[test]
    fn full_access_and_owner_allow_everything(access in arb_access(), vis in prop::bool::ANY) {
        let org = OrgId::new();
        let p = principal(org, vec![role(RoleKind::Custom, FeaturePermissions::none())]);
        let mut acl = AutomationAcl::new(org, if vis { Visibility::Private } else { Visibility::Organization });
        acl.grant(Subject::User(p.user_id), PermSet::of(&[EntityPermission::FullAccess]));
        prop_assert_eq!(decide(&p, Action::Automation(&acl, access)), Decision::Allow);
        let owner = principal(org, vec![role(RoleKind::Owner, FeaturePermissions::none())]);
        let empty = AutomationAcl::new(org, Visibility::Private);
        prop_assert_eq!(decide(&owner, Action::Automation(&empty, access)), Decision::Allow);
    }
}

#[test]
fn inviting_needs_invitations_manage_settings_for_other_roles_and_ownership_for_owners() {
    use crate::permission::FeaturePermissions;
    let org = OrgId::new();
    let with = |kind: RoleKind, pairs: &[(&str, &str)]| Principal {
        user_id: UserId::new(),
        factory_admin: false,
        org: Some(OrgContext { org_id: org, roles: vec![role(kind, FeaturePermissions::from_pairs(pairs.iter().copied()).unwrap())] }),
    };
    let inviter = with(RoleKind::Custom, &[("invitations", "manage")]);
    assert!(decide(&inviter, Action::Invite(RoleKind::Member)).is_allowed());
    assert_eq!(decide(&inviter, Action::Invite(RoleKind::Custom)), Decision::Deny(Denial { required: Requirement::Feature(Feature::OrganizationSettings, Level::Manage) }));
    let admin = with(RoleKind::Custom, &[("invitations", "manage"), ("organization_settings", "manage")]);
    assert!(decide(&admin, Action::Invite(RoleKind::Custom)).is_allowed());
    assert_eq!(decide(&admin, Action::Invite(RoleKind::Owner)), Decision::Deny(Denial { required: Requirement::Owner }));
    assert!(decide(&with(RoleKind::Owner, &[]), Action::Invite(RoleKind::Owner)).is_allowed());
    let reader = with(RoleKind::Custom, &[("invitations", "read")]);
    assert_eq!(decide(&reader, Action::Invite(RoleKind::Member)), Decision::Deny(Denial { required: Requirement::Feature(Feature::Invitations, Level::Manage) }));
    let outsider = Principal { user_id: UserId::new(), factory_admin: false, org: None };
    assert_eq!(decide(&outsider, Action::Invite(RoleKind::Member)), Decision::Deny(Denial { required: Requirement::Membership }));
}

#[test]
fn managing_members_needs_organization_settings_and_ownership_for_owners() {
    use crate::permission::FeaturePermissions;
    let org = OrgId::new();
    let with = |kind: RoleKind, pairs: &[(&str, &str)]| Principal {
        user_id: UserId::new(),
        factory_admin: false,
        org: Some(OrgContext { org_id: org, roles: vec![role(kind, FeaturePermissions::from_pairs(pairs.iter().copied()).unwrap())] }),
    };
    let manager = with(RoleKind::Custom, &[("organization_settings", "manage")]);
    assert!(decide(&manager, Action::ManageMember(RoleKind::Member)).is_allowed());
    assert!(decide(&manager, Action::ManageMember(RoleKind::Custom)).is_allowed());
    assert_eq!(decide(&manager, Action::ManageMember(RoleKind::Owner)), Decision::Deny(Denial { required: Requirement::Owner }));
    assert!(decide(&with(RoleKind::Owner, &[]), Action::ManageMember(RoleKind::Owner)).is_allowed());
    let member = with(RoleKind::Member, &[("invitations", "manage")]);
    assert_eq!(decide(&member, Action::ManageMember(RoleKind::Member)), Decision::Deny(Denial { required: Requirement::Feature(Feature::OrganizationSettings, Level::Manage) }));
    let admin = Principal { user_id: UserId::new(), factory_admin: true, org: None };
    assert!(decide(&admin, Action::ManageMember(RoleKind::Owner)).is_allowed());
}
