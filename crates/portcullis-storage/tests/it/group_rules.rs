//! Group-to-role rule sets on SQLite and PostgreSQL: stored in order,
//! replaced whole over the version they were read at, seeded from the
//! environment once, gone with their organization.

use crate::support::{each_backend, TestDb};
use portcullis_domain::group_rules::*;
use portcullis_domain::*;
use portcullis_storage::*;

fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn sample(developer: RoleId) -> RuleSet {
    RuleSet {
        rules: vec![
            GroupRule { source: GroupSource::Claim(ClaimPath::parse("groups").unwrap()), pattern: Pattern::parse(false, "admins").unwrap(), role: RoleChoice::Kind(RoleKind::Owner) },
            GroupRule { source: GroupSource::ScimGroup, pattern: Pattern::parse(true, "eng-*").unwrap(), role: RoleChoice::Id(developer) },
            GroupRule { source: GroupSource::Claim(ClaimPath::parse("realm_access.roles").unwrap()), pattern: Pattern::parse(true, "*").unwrap(), role: RoleChoice::Kind(RoleKind::Member) },
            GroupRule { source: GroupSource::IdpRoles, pattern: Pattern::parse(false, "member").unwrap(), role: RoleChoice::Key("data-science".into()) },
        ],
        no_match: NoMatch::Default(RoleChoice::Id(developer)),
    }
}

each_backend!(a_rule_set_is_stored_in_order_and_replaced_over_its_version, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Ruled", t(1)).await.unwrap();
    assert_eq!(s.get_group_rules(org.id).await.unwrap(), None);
    let developer = RoleId::new();
    let first = s.put_group_rules(org.id, &sample(developer), true, None, t(2)).await.unwrap();
    assert_eq!((first.version, first.enabled, first.seeded_from_env), (1, true, false));
    let read = s.get_group_rules(org.id).await.unwrap().unwrap();
    assert_eq!(read, first);
    assert_eq!(read.set, sample(developer), "every field and the order survive");
    // A writer that read no set, or an older version, is refused.
    assert!(matches!(s.put_group_rules(org.id, &sample(developer), true, None, t(3)).await, Err(StoreError::Stale)));
    let shorter = RuleSet { rules: sample(developer).rules[1..].to_vec(), no_match: NoMatch::Refuse };
    let second = s.put_group_rules(org.id, &shorter, false, Some(1), t(4)).await.unwrap();
    assert_eq!(second.version, 2);
    assert!(matches!(s.put_group_rules(org.id, &shorter, true, Some(1), t(5)).await, Err(StoreError::Stale)));
    let read = s.get_group_rules(org.id).await.unwrap().unwrap();
    assert_eq!((read.set.rules.len(), read.set.no_match, read.enabled), (3, NoMatch::Refuse, false));
    // Turned off: not among the sets a sign-in applies.
    assert!(s.list_enabled_group_rules().await.unwrap().iter().all(|r| r.org_id != org.id));
    // An organization that is gone has no rule set to write.
    assert!(matches!(s.put_group_rules(OrgId::new(), &shorter, true, None, t(6)).await, Err(StoreError::NotFound { .. })));
});

each_backend!(seeding_writes_only_where_no_set_was_ever_stored, |db: TestDb| async move {
    let s = &db.store;
    let a = s.create_org("Seeded", t(1)).await.unwrap();
    let b = s.create_org("Edited", t(1)).await.unwrap();
    let developer = RoleId::new();
    assert!(s.seed_group_rules(a.id, &sample(developer), t(2)).await.unwrap());
    assert!(!s.seed_group_rules(a.id, &RuleSet { rules: vec![], no_match: NoMatch::Refuse }, t(3)).await.unwrap(), "seeded once");
    let seeded = s.get_group_rules(a.id).await.unwrap().unwrap();
    assert!(seeded.seeded_from_env && seeded.enabled);
    assert_eq!(seeded.set, sample(developer));
    // A set an administrator turned off is not seeded again at the next start.
    s.put_group_rules(b.id, &sample(developer), false, None, t(2)).await.unwrap();
    assert!(!s.seed_group_rules(b.id, &sample(developer), t(3)).await.unwrap());
    assert!(!s.get_group_rules(b.id).await.unwrap().unwrap().enabled);
    let enabled = s.list_enabled_group_rules().await.unwrap();
    assert_eq!(enabled.iter().map(|r| r.org_id).collect::<Vec<_>>(), vec![a.id]);
    assert_eq!(enabled[0].set.rules.len(), 4, "with its rules");
    // Edited after seeding: no longer marked as from the environment.
    let edited = s.put_group_rules(a.id, &sample(developer), true, Some(1), t(4)).await.unwrap();
    assert!(!edited.seeded_from_env);
});

each_backend!(concurrent_writers_over_one_version_land_once, |db: TestDb| async move {
    let s = std::sync::Arc::new(db.store);
    let org = s.create_org("Raced", t(1)).await.unwrap();
    let developer = RoleId::new();
    s.put_group_rules(org.id, &sample(developer), true, None, t(2)).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.put_group_rules(org.id, &sample(developer), i % 2 == 0, Some(1), t(3 + i)).await })
        })
        .collect();
    let mut landed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => {
                landed += 1;
                assert_eq!(r.version, 2);
            }
            Err(StoreError::Stale) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(landed, 1, "one writer over version 1 wins, the others are told to re-read");
    assert_eq!(s.get_group_rules(org.id).await.unwrap().unwrap().version, 2);
});

each_backend!(known_groups_name_every_group_and_whether_the_person_is_in_it, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Directory", t(1)).await.unwrap();
    let fields = |name: &str| ScimUserFields {
        user_name: name.into(),
        external_id: None,
        display_name: None,
        active: true,
        email: name.into(),
        document: serde_json::json!({ "userName": name }).to_string(),
    };
    let ada = s.create_scim_user(org.id, uuid::Uuid::new_v4(), &fields("ada@d.test"), t(2)).await.unwrap();
    let bob = s.create_scim_user(org.id, uuid::Uuid::new_v4(), &fields("bob@d.test"), t(2)).await.unwrap();
    let eng = ScimGroupFields { display_name: "Engineering".into(), external_id: Some("6f1d4c1e-entra-object-id".into()), document: "{}".into() };
    let sales = ScimGroupFields { display_name: "Sales".into(), external_id: None, document: "{}".into() };
    let g1 = s.create_scim_group(org.id, uuid::Uuid::new_v4(), &eng, &[ada.id], t(3)).await.unwrap();
    s.create_scim_group(org.id, uuid::Uuid::new_v4(), &sales, &[bob.id], t(3)).await.unwrap();
    let known = s.known_groups(org.id, ada.user_id).await.unwrap();
    assert_eq!(known.len(), 2);
    assert_eq!(known[0].display_name, "Engineering");
    assert_eq!(known[0].ids, vec![g1.id.to_string(), "6f1d4c1e-entra-object-id".to_string()]);
    assert_eq!(known.iter().map(|g| g.member).collect::<Vec<_>>(), vec![true, false]);
    // Deactivated: in no group as far as the rules go.
    let mut off = fields("ada@d.test");
    off.active = false;
    s.update_scim_user(org.id, ada.id, &off, None, t(4)).await.unwrap();
    assert!(s.known_groups(org.id, ada.user_id).await.unwrap().iter().all(|g| !g.member));
});
