use super::*;
use crate::ids::OrgId;
use crate::permission::FeaturePermissions;

fn role(org: OrgId, name: &str, kind: RoleKind) -> Role {
    Role {
        id: RoleId::new(),
        org_id: org,
        name: name.into(),
        key: name.to_lowercase(),
        kind,
        permissions: FeaturePermissions::member(),
    }
}

struct Fixture {
    owner: Role,
    member: Role,
    developer: Role,
    roles: Vec<Role>,
}

fn fixture() -> Fixture {
    let org = OrgId::new();
    let owner = role(org, "Owner", RoleKind::Owner);
    let member = role(org, "Member", RoleKind::Member);
    let developer = role(org, "Developer", RoleKind::Custom);
    let roles = vec![owner.clone(), member.clone(), developer.clone()];
    Fixture { owner, member, developer, roles }
}

fn claim(path: &str) -> GroupSource {
    GroupSource::Claim(ClaimPath::parse(path).unwrap())
}

fn exact(p: &str) -> Pattern {
    Pattern::parse(false, p).unwrap()
}

fn glob(p: &str) -> Pattern {
    Pattern::parse(true, p).unwrap()
}

fn evaluate(set: &RuleSet, groups: &[&str], known: &[KnownGroup], roles: &[Role]) -> Evaluation {
    let values: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let lookup = move |p: &ClaimPath| if p.as_str() == "groups" { values.clone() } else { vec![] };
    set.evaluate(&Groups { idp_roles: &[], claim: &lookup, known }, roles)
}

#[test]
fn the_first_matching_rule_decides_and_later_matches_are_reported() {
    let f = fixture();
    let set = RuleSet {
        rules: vec![
            GroupRule { source: claim("groups"), pattern: exact("admins"), role: RoleChoice::Kind(RoleKind::Owner) },
            GroupRule { source: claim("groups"), pattern: glob("eng-*"), role: RoleChoice::Id(f.developer.id) },
            GroupRule { source: claim("groups"), pattern: glob("*"), role: RoleChoice::Kind(RoleKind::Member) },
        ],
        no_match: NoMatch::Refuse,
    };
    let e = evaluate(&set, &["eng-platform", "everyone"], &[], &f.roles);
    assert_eq!(e.outcome, Outcome::Rule { index: 1, role: f.developer.clone() });
    assert_eq!(e.matches.len(), 2);
    assert_eq!(e.matches[0].values, vec!["eng-platform".to_string()]);
    assert_eq!(e.matches[1].skipped, Some(Skipped::Later));
    assert_eq!(e.matches[1].values.len(), 2, "the catch-all matched both groups");
    // Order is what decides: admins first.
    let e = evaluate(&set, &["eng-platform", "admins"], &[], &f.roles);
    assert_eq!(e.outcome, Outcome::Rule { index: 0, role: f.owner.clone() });
}

#[test]
fn no_match_refuses_or_gives_the_named_default_never_anything_else() {
    let f = fixture();
    let rules = vec![GroupRule { source: claim("groups"), pattern: exact("admins"), role: RoleChoice::Kind(RoleKind::Owner) }];
    let refuse = RuleSet { rules: rules.clone(), no_match: NoMatch::Refuse };
    assert_eq!(evaluate(&refuse, &["sales"], &[], &f.roles).outcome, Outcome::Refused);
    assert_eq!(evaluate(&refuse, &[], &[], &f.roles).outcome, Outcome::Refused);
    let default = RuleSet { rules, no_match: NoMatch::Default(RoleChoice::Kind(RoleKind::Member)) };
    assert_eq!(evaluate(&default, &["sales"], &[], &f.roles).outcome, Outcome::Default { role: f.member.clone() });
    // A default role that was deleted refuses (fails closed).
    let gone = RuleSet { rules: vec![], no_match: NoMatch::Default(RoleChoice::Id(RoleId::new())) };
    assert_eq!(evaluate(&gone, &["sales"], &[], &f.roles).outcome, Outcome::DefaultMissing);
    assert_eq!(Outcome::DefaultMissing.role(), None);
}

#[test]
fn a_renamed_role_is_still_the_one_a_rule_names_and_a_new_owner_named_role_is_not() {
    let mut f = fixture();
    let set = RuleSet {
        rules: vec![GroupRule { source: claim("groups"), pattern: exact("eng"), role: RoleChoice::Id(f.developer.id) }],
        no_match: NoMatch::Refuse,
    };
    // Renamed to "Owner": the rule still gives this custom role, nothing more.
    f.roles[2].name = "Owner".into();
    let e = evaluate(&set, &["eng"], &[], &f.roles);
    assert_eq!(e.outcome.role().map(|r| (r.id, r.kind)), Some((f.developer.id, RoleKind::Custom)));
    // Kind(Owner) means the predefined role whatever the names say.
    assert_eq!(RoleChoice::Kind(RoleKind::Owner).resolve(&f.roles).map(|r| r.id), Some(f.owner.id));
    assert_eq!(RoleChoice::Kind(RoleKind::Custom).resolve(&f.roles), None, "no role is chosen by the kind custom");
}

#[test]
fn a_rule_whose_role_was_deleted_is_skipped_for_the_next() {
    let f = fixture();
    let set = RuleSet {
        rules: vec![
            GroupRule { source: claim("groups"), pattern: exact("eng"), role: RoleChoice::Id(RoleId::new()) },
            GroupRule { source: claim("groups"), pattern: exact("eng"), role: RoleChoice::Kind(RoleKind::Member) },
        ],
        no_match: NoMatch::Refuse,
    };
    let e = evaluate(&set, &["eng"], &[], &f.roles);
    assert_eq!(e.matches[0].skipped, Some(Skipped::RoleMissing));
    assert_eq!(e.outcome, Outcome::Rule { index: 1, role: f.member.clone() });
}

#[test]
fn groups_match_by_name_or_by_id_through_the_known_scim_groups() {
    let f = fixture();
    let known = vec![
        KnownGroup { display_name: "Engineering".into(), ids: vec!["scim-1".into(), "6f1d4c1e-0000-4000-8000-00000000e001".into()], member: true },
        KnownGroup { display_name: "Sales".into(), ids: vec!["scim-2".into()], member: false },
    ];
    // Entra ID sends the object id in `groups`; a rule by name matches it.
    let by_name = RuleSet {
        rules: vec![GroupRule { source: claim("groups"), pattern: exact("Engineering"), role: RoleChoice::Id(f.developer.id) }],
        no_match: NoMatch::Refuse,
    };
    let e = evaluate(&by_name, &["6f1d4c1e-0000-4000-8000-00000000e001"], &known, &f.roles);
    assert_eq!(e.outcome.role().map(|r| r.id), Some(f.developer.id));
    assert_eq!(e.matches[0].values, vec!["Engineering".to_string()]);
    // SCIM-group rules see only the groups the person is a member of, by name or id.
    let scim = RuleSet {
        rules: vec![
            GroupRule { source: GroupSource::ScimGroup, pattern: exact("Sales"), role: RoleChoice::Kind(RoleKind::Owner) },
            GroupRule { source: GroupSource::ScimGroup, pattern: exact("scim-1"), role: RoleChoice::Kind(RoleKind::Member) },
        ],
        no_match: NoMatch::Refuse,
    };
    let e = evaluate(&scim, &[], &known, &f.roles);
    assert_eq!(e.outcome, Outcome::Rule { index: 1, role: f.member.clone() });
}

#[test]
fn globs_match_whole_values_with_star_and_question_mark() {
    for (p, v, yes) in [
        ("eng-*", "eng-platform", true),
        ("eng-*", "eng-", true),
        ("eng-*", "xeng-platform", false),
        ("*-admins", "platform-admins", true),
        ("*-admins", "platform-admins-old", false),
        ("team-?", "team-a", true),
        ("team-?", "team-ab", false),
        ("a*b*c", "a-xx-b-yy-c", true),
        ("a*b*c", "a-xx-c-yy-b", false),
        ("*", "", true),
        ("ü?", "üß", true),
        ("Eng*", "eng-platform", false),
    ] {
        assert_eq!(glob(p).matches(v), yes, "{p} vs {v}");
    }
    // Exact patterns treat * literally.
    assert!(exact("eng-*").matches("eng-*"));
    assert!(!exact("eng-*").matches("eng-platform"));
    // A hostile pattern stays linear.
    let long = "a".repeat(5_000);
    assert!(!glob(&"*a".repeat(100)).matches(&(long + "b")));
}

#[test]
fn bad_patterns_and_paths_say_what_a_good_one_looks_like() {
    assert!(Pattern::parse(false, "  ").unwrap_err().problem.contains("eng-*"));
    assert!(ClaimPath::parse("").unwrap_err().problem.contains("realm_access.roles"));
    assert!(ClaimPath::parse("my groups").is_err());
    assert!(Pattern::parse(true, &"x".repeat(MAX_PATTERN_CHARS + 1)).is_err());
    let too_many = RuleSet {
        rules: vec![GroupRule { source: GroupSource::ScimGroup, pattern: exact("x"), role: RoleChoice::Kind(RoleKind::Member) }; MAX_RULES + 1],
        no_match: NoMatch::Refuse,
    };
    assert!(too_many.validate().is_err());
}

#[test]
fn the_providers_roles_and_custom_role_keys_keep_the_environment_mappings_meaning() {
    let f = fixture();
    let set = RuleSet {
        rules: vec![GroupRule { source: GroupSource::IdpRoles, pattern: exact("member"), role: RoleChoice::Key("Developer".into()) }],
        no_match: NoMatch::Default(RoleChoice::Kind(RoleKind::Member)),
    };
    let roles = vec!["member".to_string()];
    let none = |_: &ClaimPath| Vec::new();
    let e = set.evaluate(&Groups { idp_roles: &roles, claim: &none, known: &[] }, &f.roles);
    assert_eq!(e.outcome.role().map(|r| r.id), Some(f.developer.id), "the key `developer`, written as the name");
    // A predefined role is never found by key.
    assert_eq!(RoleChoice::Key("owner".into()).resolve(&f.roles), None);
}
