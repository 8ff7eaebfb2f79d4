//! SCIM provisioning storage, on SQLite and PostgreSQL: uniqueness by
//! constraint, deactivation ending access in one transaction, members of
//! the same organization only, versions.

use crate::support::{each_backend, TestDb};
use portcullis_domain::*;
use portcullis_storage::*;
use uuid::Uuid;

fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn person(user_name: &str, external_id: Option<&str>, active: bool) -> ScimUserFields {
    ScimUserFields {
        user_name: user_name.into(),
        external_id: external_id.map(str::to_owned),
        display_name: Some(format!("{user_name} (display)")),
        active,
        email: user_name.into(),
        document: serde_json::json!({ "userName": user_name, "active": active }).to_string(),
    }
}

fn group(name: &str) -> ScimGroupFields {
    ScimGroupFields { display_name: name.into(), external_id: None, document: serde_json::json!({ "displayName": name }).to_string() }
}

each_backend!(scim_tokens_are_found_by_hash_until_revoked, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Tokens", t(1)).await.unwrap();
    let owner = s.create_user(NewUser { email: "o@t.test".into(), display_name: "o".into(), password_hash: None, factory_admin: false }, t(1)).await.unwrap();
    let new = NewScimToken { id: Uuid::new_v4(), org_id: org.id, name: "Okta".into(), token_hash: TokenHash::of("pcs_scim_a"), created_by: owner.id, created_at: t(2) };
    s.create_scim_token(&new).await.unwrap();
    let used = s.use_scim_token(&TokenHash::of("pcs_scim_a"), t(3)).await.unwrap().unwrap();
    assert_eq!((used.org_id, used.last_used_at), (org.id, Some(t(3))));
    assert!(s.use_scim_token(&TokenHash::of("pcs_scim_b"), t(3)).await.unwrap().is_none());
    assert!(s.revoke_scim_token(org.id, new.id, t(4)).await.unwrap());
    assert!(!s.revoke_scim_token(org.id, new.id, t(5)).await.unwrap(), "revoked once");
    assert!(s.use_scim_token(&TokenHash::of("pcs_scim_a"), t(6)).await.unwrap().is_none());
    assert_eq!(s.list_scim_tokens(org.id).await.unwrap()[0].revoked_at, Some(t(4)));
});

each_backend!(provisioned_users_are_members_and_unique_per_organization, |db: TestDb| async move {
    let s = &db.store;
    let a = s.create_org("A", t(1)).await.unwrap();
    let b = s.create_org("B", t(1)).await.unwrap();
    let alice = s.create_scim_user(a.id, Uuid::new_v4(), &person("Alice@Example.com", Some("00u1"), true), t(2)).await.unwrap();
    assert_eq!(s.get_member(a.id, alice.user_id).await.unwrap().unwrap().role.kind, RoleKind::Member);
    // userName is unique case-insensitively, externalId exactly, per organization.
    assert!(matches!(s.create_scim_user(a.id, Uuid::new_v4(), &person("alice@example.com", None, true), t(3)).await, Err(StoreError::Conflict { .. })));
    assert!(matches!(s.create_scim_user(a.id, Uuid::new_v4(), &person("other@example.com", Some("00u1"), true), t(3)).await, Err(StoreError::Conflict { .. })));
    s.create_scim_user(b.id, Uuid::new_v4(), &person("alice@example.com", Some("00u1"), true), t(3)).await.unwrap();
    assert_eq!(s.find_scim_users(a.id, ScimKey::Name, "ALICE@example.com").await.unwrap().len(), 1);
    assert_eq!(s.find_scim_users(a.id, ScimKey::ExternalId, "00U1").await.unwrap().len(), 0, "externalId is case-exact");
    let (page, total) = s.list_scim_users(a.id, 0, Some(10)).await.unwrap();
    assert_eq!((page.len(), total), (1, 1));
    // An inactive user is provisioned without a membership.
    let bob = s.create_scim_user(a.id, Uuid::new_v4(), &person("bob@example.com", None, false), t(4)).await.unwrap();
    assert!(s.get_member(a.id, bob.user_id).await.unwrap().is_none());
});

each_backend!(deactivation_ends_access_and_reactivation_restores_the_role, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Deact", t(1)).await.unwrap();
    let u = s.create_scim_user(org.id, Uuid::new_v4(), &person("carol@example.com", Some("c"), true), t(2)).await.unwrap();
    let analysts = s.create_role(org.id, "Analysts", FeaturePermissions::none(), t(2)).await.unwrap();
    s.update_member_role(org.id, u.user_id, analysts.id, t(2)).await.unwrap();
    s.create_session(NewSession { id: SessionId(Uuid::new_v4()), token_hash: TokenHash::of("cookie"), user_id: u.user_id, times: SessionTimes { created_at: t(3), last_seen_at: t(3), expires_at: t(10_000_000), revoked_at: None }, provider: "okta".into(), ip: None, user_agent: None, idp_sid: None, id_token_sealed: None, idp_name_id_hash: None }).await.unwrap();
    let (off, change) = s.update_scim_user(org.id, u.id, &person("carol@example.com", Some("c"), false), Some(u.version), t(4)).await.unwrap();
    assert_eq!(change, AccessChange::Ended);
    assert_eq!(off.version, u.version + 1);
    assert!(s.get_member(org.id, u.user_id).await.unwrap().is_none());
    assert!(s.list_sessions(u.user_id, t(5)).await.unwrap().is_empty(), "sessions end in the same transaction");
    assert_eq!(s.list_scim_deactivated_orgs(u.user_id).await.unwrap(), vec![org.id]);
    // A stale version is refused and changes nothing.
    assert!(matches!(s.update_scim_user(org.id, u.id, &person("carol@example.com", Some("c"), true), Some(u.version), t(5)).await, Err(StoreError::Stale)));
    let (_, change) = s.update_scim_user(org.id, u.id, &person("carol@example.com", Some("c"), true), Some(off.version), t(6)).await.unwrap();
    assert_eq!(change, AccessChange::Restored);
    assert_eq!(s.get_member(org.id, u.user_id).await.unwrap().unwrap().role.id, analysts.id, "the role held before comes back");
    assert!(s.list_sessions(u.user_id, t(7)).await.unwrap().is_empty(), "old sessions do not");
    assert!(s.list_scim_deactivated_orgs(u.user_id).await.unwrap().is_empty());
    // Deleting keeps the account, disabled (no membership is left).
    assert_eq!(s.delete_scim_user(org.id, u.id, t(8)).await.unwrap(), Some(u.user_id));
    assert!(s.get_user(u.user_id).await.unwrap().unwrap().is_disabled());
    assert_eq!(s.delete_scim_user(org.id, u.id, t(9)).await.unwrap(), None);
});

each_backend!(the_last_owner_cannot_be_deprovisioned, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Owners", t(1)).await.unwrap();
    let u = s.create_scim_user(org.id, Uuid::new_v4(), &person("dana@example.com", None, true), t(2)).await.unwrap();
    let owner = s.get_predefined_role(org.id, RoleKind::Owner).await.unwrap();
    s.update_member_role(org.id, u.user_id, owner.id, t(2)).await.unwrap();
    assert!(matches!(s.update_scim_user(org.id, u.id, &person("dana@example.com", None, false), None, t(3)).await, Err(StoreError::LastOwner)));
    assert!(s.get_member(org.id, u.user_id).await.unwrap().is_some(), "nothing changed");
    assert!(s.get_scim_user(org.id, u.id).await.unwrap().unwrap().fields.active);
});

each_backend!(groups_hold_people_of_their_own_organization, |db: TestDb| async move {
    let s = &db.store;
    let a = s.create_org("GA", t(1)).await.unwrap();
    let b = s.create_org("GB", t(1)).await.unwrap();
    let ua = s.create_scim_user(a.id, Uuid::new_v4(), &person("erin@example.com", None, true), t(2)).await.unwrap();
    let ub = s.create_scim_user(b.id, Uuid::new_v4(), &person("frank@example.com", None, true), t(2)).await.unwrap();
    let g = s.create_scim_group(a.id, Uuid::new_v4(), &group("Engineers"), &[ua.id], t(3)).await.unwrap();
    assert_eq!(g.members.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ua.id]);
    assert!(matches!(s.create_scim_group(a.id, Uuid::new_v4(), &group("engineers"), &[], t(3)).await, Err(StoreError::Conflict { .. })));
    // Someone of another organization is refused, and nothing is written.
    assert!(matches!(s.update_scim_group(a.id, g.id, &group("Engineers"), &[ub.id], &[], Some(g.version), t(4)).await, Err(StoreError::NotFound { .. })));
    let same = s.get_scim_group(a.id, g.id).await.unwrap().unwrap();
    assert_eq!((same.version, same.members.len()), (g.version, 1));
    let groups = s.list_scim_user_groups(a.id, &[ua.id]).await.unwrap();
    assert_eq!(groups[&ua.id][0].display, "Engineers");
    let emptied = s.update_scim_group(a.id, g.id, &group("Engineering"), &[], &[ua.id], Some(g.version), t(5)).await.unwrap();
    assert!(emptied.members.is_empty());
    assert_eq!(s.find_scim_groups(a.id, ScimKey::Name, "ENGINEERING").await.unwrap().len(), 1);
    assert!(s.delete_scim_group(a.id, g.id).await.unwrap());
    assert!(!s.delete_scim_group(b.id, g.id).await.unwrap());
});

each_backend!(a_first_sign_in_links_by_subject_or_verified_address_only, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Link", t(1)).await.unwrap();
    let by_sub = s.create_scim_user(org.id, Uuid::new_v4(), &person("gina@example.com", Some("sub-gina"), true), t(2)).await.unwrap();
    let by_mail = s.create_scim_user(org.id, Uuid::new_v4(), &person("hal@example.com", Some("00uHal"), true), t(2)).await.unwrap();
    assert_eq!(s.link_scim_user("https://idp", "sub-gina", None).await.unwrap(), Some(by_sub.user_id));
    assert_eq!(s.find_user_by_idp("https://idp", "sub-gina").await.unwrap().unwrap().id, by_sub.user_id);
    assert_eq!(s.link_scim_user("https://idp", "sub-gina", None).await.unwrap(), None, "linked once");
    assert_eq!(s.link_scim_user("https://idp", "sub-hal", None).await.unwrap(), None, "an unverified address links nothing");
    assert_eq!(s.link_scim_user("https://idp", "sub-hal", Some("HAL@example.com")).await.unwrap(), Some(by_mail.user_id));
});

each_backend!(memberships_that_follow_groups_end_and_are_found_in_one_query, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Follow", t(1)).await.unwrap();
    let a = s.create_scim_user(org.id, Uuid::new_v4(), &person("a@example.com", None, true), t(2)).await.unwrap();
    let b = s.create_scim_user(org.id, Uuid::new_v4(), &person("b@example.com", None, true), t(2)).await.unwrap();
    let c = s.create_scim_user(org.id, Uuid::new_v4(), &person("c@example.com", None, false), t(2)).await.unwrap();
    let f = ScimGroupFields { external_id: Some("ext-eng".into()), ..group("Engineering") };
    let g = s.create_scim_group(org.id, Uuid::new_v4(), &f, &[a.id, c.id], t(3)).await.unwrap();
    // The groups of several people at once, by every name the rules match.
    let groups = s.list_scim_member_groups(org.id, &[a.id, b.id, c.id]).await.unwrap();
    assert_eq!(groups[&a.id].iter().map(|k| (k.display_name.as_str(), k.ids.clone())).collect::<Vec<_>>(), vec![("Engineering", vec![g.id.to_string(), "ext-eng".to_string()])]);
    assert!(groups.contains_key(&c.id) && !groups.contains_key(&b.id));
    // Ending a membership: sessions and all, once; the SCIM account stays active.
    s.create_session(NewSession { id: SessionId(Uuid::new_v4()), token_hash: TokenHash::of("a-cookie"), user_id: a.user_id, times: SessionTimes { created_at: t(3), last_seen_at: t(3), expires_at: t(10_000_000), revoked_at: None }, provider: "okta".into(), ip: None, user_agent: None, idp_sid: None, id_token_sealed: None, idp_name_id_hash: None }).await.unwrap();
    assert_eq!(s.end_scim_membership(org.id, a.id, t(4)).await.unwrap(), Some(a.user_id));
    assert!(s.get_member(org.id, a.user_id).await.unwrap().is_none());
    assert!(s.list_sessions(a.user_id, t(5)).await.unwrap().is_empty());
    assert_eq!(s.end_scim_membership(org.id, a.id, t(5)).await.unwrap(), None, "nothing left to end");
    assert!(s.get_scim_user(org.id, a.id).await.unwrap().unwrap().fields.active);
    // Who is active and holds no membership: a now, not b (a member), not c (inactive).
    assert_eq!(s.list_scim_users_without_membership(org.id, &[a.id, b.id, c.id]).await.unwrap(), vec![(a.id, a.user_id)]);
});
