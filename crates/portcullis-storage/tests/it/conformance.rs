//! The storage conformance suite: every test runs on SQLite and on
//! PostgreSQL (each in a schema of its own, so runs never collide).
//!
//! PostgreSQL is taken from `PORTCULLIS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Where it cannot be reached the
//! PostgreSQL half is skipped with a notice, unless
//! `PORTCULLIS_REQUIRE_POSTGRES=1` (as in CI), which makes that a failure.


use portcullis_domain::*;
use portcullis_storage::*;
use crate::support::h;
use crate::support::{each_backend, TestDb};

fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn new_user(email: &str) -> NewUser {
    NewUser { email: email.into(), display_name: email.into(), password_hash: Some("$argon2id$x".into()), factory_admin: false }
}

async fn org_with_owner(s: &SqlStore, name: &str) -> (Organization, User) {
    let org = s.create_org(name, t(1)).await.unwrap();
    let owner = s.create_user(new_user(&format!("owner@{}.test", name.to_lowercase().replace(' ', ""))), t(1)).await.unwrap();
    let role = s.get_predefined_role(org.id, RoleKind::Owner).await.unwrap();
    s.create_member(org.id, owner.id, role.id, t(1)).await.unwrap();
    (org, owner)
}

each_backend!(organizations_have_unique_case_insensitive_names, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Acme", t(1)).await.unwrap();
    assert!(matches!(s.create_org("acme", t(2)).await, Err(StoreError::Conflict { .. })));
    assert_eq!(s.count_orgs().await.unwrap(), 1);
    let roles = s.list_roles(org.id).await.unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(s.get_predefined_role(org.id, RoleKind::Member).await.unwrap().permissions, FeaturePermissions::member());
    assert_eq!(s.get_org(org.id).await.unwrap().unwrap(), org);
});

each_backend!(role_keys_are_fixed_at_creation_and_unique, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Keys", t(1)).await.unwrap();
    assert_eq!(s.get_predefined_role(org.id, RoleKind::Owner).await.unwrap().key, "owner");
    assert_eq!(s.get_predefined_role(org.id, RoleKind::Member).await.unwrap().key, "member");
    let dev = s.create_role(org.id, "Data Science", FeaturePermissions::none(), t(2)).await.unwrap();
    assert_eq!(dev.key, "data-science");
    let renamed = s.update_role(org.id, dev.id, Some("Analysts"), None, t(3)).await.unwrap();
    assert_eq!(renamed.key, "data-science", "a rename keeps the key");
    assert_eq!(s.get_role(org.id, dev.id).await.unwrap().unwrap().key, "data-science");
    let again = s.create_role(org.id, "data science", FeaturePermissions::none(), t(4)).await.unwrap();
    assert_eq!(again.key, "data-science-2", "the old name again takes a new key");
    let owner = s.get_predefined_role(org.id, RoleKind::Owner).await.unwrap();
    s.update_role(org.id, owner.id, Some("Boss"), None, t(5)).await.unwrap();
    assert_eq!(s.create_role(org.id, "Owner", FeaturePermissions::none(), t(6)).await.unwrap().key, "owner-2");
    // Concurrent creations whose names make one key: distinct keys, no failure.
    let mut tasks = Vec::new();
    for name in ["On Call", "on-call", "On/Call", "on call!"] {
        let s = db.store.clone();
        tasks.push(tokio::spawn(async move { s.create_role(org.id, name, FeaturePermissions::none(), t(7)).await }));
    }
    let mut keys = Vec::new();
    for task in tasks {
        keys.push(task.await.unwrap().unwrap().key);
    }
    keys.sort();
    assert_eq!(keys, ["on-call", "on-call-2", "on-call-3", "on-call-4"]);
});

each_backend!(concurrent_creates_with_one_name_yield_exactly_one, |db: TestDb| async move {
    let s = db.store.clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.create_org(if i % 2 == 0 { "Race" } else { "RACE" }, t(i)).await }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(s.count_orgs().await.unwrap(), 1);
    // The same for roles inside one organization.
    let org = s.list_orgs().await.unwrap()[0].clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.create_role(org.id, "Developer", FeaturePermissions::none(), t(i)).await }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(s.list_roles(org.id).await.unwrap().len(), 3);
});

each_backend!(roles_custom_lifecycle_and_predefined_protection, |db: TestDb| async move {
    let s = &db.store;
    let (org, owner) = org_with_owner(s, "Roles").await;
    let mut perms = FeaturePermissions::none();
    perms.set(Feature::CrewsDashboards, Level::Write).unwrap();
    let dev = s.create_role(org.id, "Developer", perms, t(2)).await.unwrap();
    assert_eq!(s.get_role(org.id, dev.id).await.unwrap().unwrap().permissions, perms);
    assert!(matches!(s.create_role(org.id, "developer", perms, t(2)).await, Err(StoreError::Conflict { .. })));
    assert!(matches!(s.create_role(org.id, "Owner", perms, t(2)).await, Err(StoreError::Conflict { .. })));
    let renamed = s.update_role(org.id, dev.id, Some("Dev"), None, t(3)).await.unwrap();
    assert_eq!(renamed.name, "Dev");
    assert_eq!(renamed.permissions, perms);

    let owner_role = s.get_predefined_role(org.id, RoleKind::Owner).await.unwrap();
    assert!(matches!(s.update_role(org.id, owner_role.id, None, Some(perms), t(3)).await, Err(StoreError::Predefined)));
    assert!(matches!(s.delete_role(org.id, owner_role.id).await, Err(StoreError::Predefined)));
    let member_role = s.get_predefined_role(org.id, RoleKind::Member).await.unwrap();
    assert!(matches!(s.delete_role(org.id, member_role.id).await, Err(StoreError::Predefined)));

    // A role in use cannot be deleted.
    let u = s.create_user(new_user("dev@roles.test"), t(4)).await.unwrap();
    s.create_member(org.id, u.id, dev.id, t(4)).await.unwrap();
    let r = s.delete_role(org.id, dev.id).await;
    assert!(matches!(r, Err(StoreError::InUse { .. })), "{r:?}");
    s.update_member_role(org.id, u.id, member_role.id, t(5)).await.unwrap();
    s.delete_role(org.id, dev.id).await.unwrap();
    assert!(s.get_role(org.id, dev.id).await.unwrap().is_none());
    assert!(matches!(s.delete_role(org.id, dev.id).await, Err(StoreError::NotFound { .. })));
    let _ = owner;
});

each_backend!(a_role_of_another_org_cannot_be_assigned, |db: TestDb| async move {
    let s = &db.store;
    let (a, _) = org_with_owner(s, "A").await;
    let (b, _) = org_with_owner(s, "B").await;
    let u = s.create_user(new_user("x@a.test"), t(1)).await.unwrap();
    let b_member = s.get_predefined_role(b.id, RoleKind::Member).await.unwrap();
    assert!(s.create_member(a.id, u.id, b_member.id, t(2)).await.is_err());
    assert!(s.list_memberships(u.id).await.unwrap().is_empty());
});

each_backend!(last_owner_is_kept, |db: TestDb| async move {
    let s = &db.store;
    let (org, owner) = org_with_owner(s, "Keep").await;
    let member = s.get_predefined_role(org.id, RoleKind::Member).await.unwrap();
    let owner_role = s.get_predefined_role(org.id, RoleKind::Owner).await.unwrap();
    assert!(matches!(s.update_member_role(org.id, owner.id, member.id, t(2)).await, Err(StoreError::LastOwner)));
    assert!(matches!(s.delete_member(org.id, owner.id, t(2)).await, Err(StoreError::LastOwner)));
    assert!(matches!(s.delete_user(owner.id).await, Err(StoreError::LastOwner)));
    assert_eq!(s.get_member(org.id, owner.id).await.unwrap().unwrap().role.kind, RoleKind::Owner);

    // With a second owner, one may step down; then the other is the last.
    let second = s.create_user(new_user("second@keep.test"), t(3)).await.unwrap();
    s.create_member(org.id, second.id, owner_role.id, t(3)).await.unwrap();
    s.update_member_role(org.id, owner.id, member.id, t(4)).await.unwrap();
    assert!(matches!(s.update_member_role(org.id, second.id, member.id, t(5)).await, Err(StoreError::LastOwner)));
});

each_backend!(concurrent_demotions_keep_one_owner, |db: TestDb| async move {
    let s = db.store.clone();
    let (org, first) = org_with_owner(&s, "Concurrent").await;
    let owner_role = s.get_predefined_role(org.id, RoleKind::Owner).await.unwrap();
    let member = s.get_predefined_role(org.id, RoleKind::Member).await.unwrap();
    let second = s.create_user(new_user("second@c.test"), t(2)).await.unwrap();
    s.create_member(org.id, second.id, owner_role.id, t(2)).await.unwrap();
    let (a, b) = tokio::join!(
        s.update_member_role(org.id, first.id, member.id, t(3)),
        s.update_member_role(org.id, second.id, member.id, t(3))
    );
    assert!(a.is_ok() ^ b.is_ok(), "exactly one demotion may succeed: {a:?} {b:?}");
    let owners = s.list_members(org.id).await.unwrap().into_iter().filter(|m| m.role.kind == RoleKind::Owner).count();
    assert_eq!(owners, 1);
});

each_backend!(users_and_memberships, |db: TestDb| async move {
    let s = &db.store;
    let (org, owner) = org_with_owner(s, "Users").await;
    assert!(matches!(s.create_user(new_user("owner@users.test"), t(2)).await, Err(StoreError::Conflict { .. })));
    let found = s.find_local_user_by_email("owner@users.test").await.unwrap().unwrap();
    assert_eq!(found.id, owner.id);
    assert!(!format!("{found:?}").contains("argon2"), "hash must not appear in Debug");
    let ms = s.list_memberships(owner.id).await.unwrap();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].org.id, org.id);
    assert_eq!(ms[0].role.kind, RoleKind::Owner);
    s.update_user_disabled(owner.id, true, t(5)).await.unwrap();
    assert_eq!(s.get_user(owner.id).await.unwrap().unwrap().disabled_at, Some(t(5)));
    s.update_user_disabled(owner.id, false, t(6)).await.unwrap();
    s.update_password_hash(owner.id, "$argon2id$new").await.unwrap();
    assert_eq!(s.get_user(owner.id).await.unwrap().unwrap().password_hash.as_deref(), Some("$argon2id$new"));
    let member_role = s.get_predefined_role(org.id, RoleKind::Member).await.unwrap();
    let m = s.create_user(new_user("m@users.test"), t(7)).await.unwrap();
    s.create_member(org.id, m.id, member_role.id, t(7)).await.unwrap();
    assert!(matches!(s.create_member(org.id, m.id, member_role.id, t(7)).await, Err(StoreError::Conflict { .. })));
    assert_eq!(s.list_members(org.id).await.unwrap().len(), 2);
    // Leaving an organization takes the member's grants on its automations along.
    let a = s
        .create_automation(
            NewAutomation { id: AutomationId::new(), org_id: org.id, name: "A".into(), description: String::new(), visibility: Visibility::Private, created_by: None, upstream_url: "http://127.0.0.1:9".into(), upstream_token_sealed: None },
            t(7),
        )
        .await
        .unwrap();
    s.upsert_grant(org.id, a.id, Subject::User(m.id), PermSet::of(&[EntityPermission::FullAccess])).await.unwrap();
    s.delete_member(org.id, m.id, t(8)).await.unwrap();
    assert!(s.list_grants(a.id).await.unwrap().is_empty());
    s.create_member(org.id, m.id, member_role.id, t(9)).await.unwrap();
    assert_eq!(s.list_members(org.id).await.unwrap().len(), 2);
    s.delete_user(m.id).await.unwrap();
    assert_eq!(s.list_members(org.id).await.unwrap().len(), 1);
    assert_eq!(s.count_users().await.unwrap(), 1);
});

each_backend!(sessions_lifecycle, |db: TestDb| async move {
    let s = &db.store;
    let (_, u) = org_with_owner(s, "Sess").await;
    let policy = SessionPolicy::default();
    let id = SessionId::new();
    s.create_session(NewSession {
        id,
        token_hash: h("h1"),
        user_id: u.id,
        times: SessionTimes::start(t(1000), &policy),
        provider: "local".into(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        idp_sid: None,
        id_token_sealed: None,
        idp_name_id_hash: None,
    })
    .await
    .unwrap();
    // A second session with the same token hash is refused by the constraint.
    let dup = NewSession {
        id: SessionId::new(),
        token_hash: h("h1"),
        user_id: u.id,
        times: SessionTimes::start(t(1000), &policy),
        provider: "local".into(),
        ip: None,
        user_agent: None,
        idp_sid: None,
        id_token_sealed: None,
        idp_name_id_hash: None,
    };
    assert!(matches!(s.create_session(dup).await, Err(StoreError::Conflict { .. })));
    let rec = s.find_session_by_token_hash(&h("h1")).await.unwrap().unwrap();
    assert_eq!(rec.id, id);
    s.update_session_last_seen(id, t(5000)).await.unwrap();
    assert_eq!(s.find_session_by_token_hash(&h("h1")).await.unwrap().unwrap().times.last_seen_at, t(5000));
    assert_eq!(s.list_sessions(u.id, t(6000)).await.unwrap().len(), 1);
    let other = UserId::new();
    assert!(!s.revoke_session(other, id, t(7000)).await.unwrap(), "only the owner's sessions");
    assert!(s.revoke_session(u.id, id, t(7000)).await.unwrap());
    assert!(!s.revoke_session(u.id, id, t(7000)).await.unwrap());
    assert_eq!(s.find_session_by_token_hash(&h("h1")).await.unwrap().unwrap().times.revoked_at, Some(t(7000)));
    assert!(s.list_sessions(u.id, t(8000)).await.unwrap().is_empty());
    assert_eq!(s.purge_sessions(t(8000)).await.unwrap(), 1);
    assert!(s.find_session_by_token_hash(&h("h1")).await.unwrap().is_none());
});

each_backend!(member_activity_outlives_the_sessions_it_counts, |db: TestDb| async move {
    let s = &db.store;
    let (org, owner) = org_with_owner(s, "Busy").await;
    let member = s.create_user(new_user("quiet@busy.test"), t(1)).await.unwrap();
    let role = s.get_predefined_role(org.id, RoleKind::Member).await.unwrap();
    s.create_member(org.id, member.id, role.id, t(1)).await.unwrap();
    let (elsewhere, stranger) = org_with_owner(s, "Elsewhere").await;
    let policy = SessionPolicy::default();
    let session = |hash: &str, user: UserId, at: i64, provider: &str| NewSession {
        id: SessionId::new(),
        token_hash: h(hash),
        user_id: user,
        times: SessionTimes::start(t(at), &policy),
        provider: provider.into(),
        ip: None,
        user_agent: None,
        idp_sid: None,
        id_token_sealed: None,
        idp_name_id_hash: None,
    };
    s.create_session(session("a1", owner.id, 1000, "local")).await.unwrap();
    s.create_session(session("a2", owner.id, 2000, "okta")).await.unwrap();
    s.create_session(session("z1", stranger.id, 3000, "local")).await.unwrap();
    s.create_refresh_token(&NewRefreshToken {
        token_hash: h("r1"),
        user_id: owner.id,
        client_id: "portcullis-cli".into(),
        scope: "openid".into(),
        created_at: t(1500),
        expires_at: t(100_000),
        family_expires_at: t(1_000_000),
    })
    .await
    .unwrap();
    let seen = s.list_member_activity(org.id, t(4000)).await.unwrap();
    assert_eq!(seen.len(), 2, "members of this organization only");
    let o = &seen[&owner.id];
    assert_eq!((o.last_sign_in_at, o.last_sign_in_provider.as_deref()), (Some(t(2000)), Some("okta")));
    assert_eq!((o.browser_sessions, o.cli_logins), (2, 1));
    assert_eq!(seen[&member.id], MemberActivity::default(), "never signed in");
    assert!(!s.list_member_activity(elsewhere.id, t(4000)).await.unwrap().contains_key(&owner.id));
    // Sessions end and are purged; the last sign-in stays known.
    s.revoke_user_sessions(owner.id, t(5000)).await.unwrap();
    s.purge_sessions(t(6000)).await.unwrap();
    let o = &s.list_member_activity(org.id, t(6000)).await.unwrap()[&owner.id];
    assert_eq!((o.last_sign_in_at, o.browser_sessions), (Some(t(2000)), 0));
});

each_backend!(setup_token_is_used_once, |db: TestDb| async move {
    let s = db.store.clone();
    let org = s.create_org("Setup", t(1)).await.unwrap();
    s.create_setup_token(&h("tok"), org.id, t(1), t(100)).await.unwrap();
    assert_eq!(s.find_setup_token(&h("tok"), t(2)).await.unwrap(), Some(org.id));
    assert_eq!(s.find_setup_token(&h("tok"), t(100)).await.unwrap(), None, "expired");
    let tok = h("tok");
    let (a, b) = tokio::join!(s.consume_setup_token(&tok, t(3)), s.consume_setup_token(&tok, t(3)));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|x| x.is_some()).count(), 1);
    assert_eq!(s.consume_setup_token(&h("tok"), t(4)).await.unwrap(), None);
    // A new token replaces an unused one.
    s.create_setup_token(&h("t2"), org.id, t(5), t(100)).await.unwrap();
    s.create_setup_token(&h("t3"), org.id, t(6), t(100)).await.unwrap();
    assert_eq!(s.find_setup_token(&h("t2"), t(7)).await.unwrap(), None);
    assert_eq!(s.find_setup_token(&h("t3"), t(7)).await.unwrap(), Some(org.id));
});

fn event(at: i64, action: &str, target: &str, ip: &str, outcome: &str) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::new_v4(),
        at: t(at),
        org_id: None,
        actor_id: None,
        actor: Some(target.into()),
        action: action.into(),
        target: Some(target.into()),
        outcome: outcome.into(),
        ip: Some(ip.into()),
        request_id: None,
        detail: serde_json::json!({"reason": "bad_password"}),
    }
}

each_backend!(audit_is_append_only_and_filterable, |db: TestDb| async move {
    let s = &db.store;
    let org = s.create_org("Audit", t(1)).await.unwrap();
    let actor = UserId::new();
    for i in 0..5 {
        let mut e = event(100 + i, "role.update", "role:x", "10.0.0.1", "success");
        e.org_id = Some(org.id);
        e.actor_id = Some(actor);
        s.append_audit(&e).await.unwrap();
    }
    s.append_audit(&event(200, "login.failure", "a@b.test", "10.0.0.2", "failure")).await.unwrap();
    let all = s.list_audit(&AuditFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].at, t(200), "newest first");
    assert_eq!(all[0].detail["reason"], "bad_password");
    let f = AuditFilter { org_id: Some(org.id), since: Some(t(101)), until: Some(t(104)), actor_id: Some(actor), action: Some("role.update".into()), limit: 100, ..Default::default() };
    assert_eq!(s.list_audit(&f).await.unwrap().len(), 3);
    // By what was acted on: a prefix, counted in characters, matched literally.
    s.append_audit(&event(300, "env.reveal", "env:Ünïcode_%_key", "10.0.0.3", "success")).await.unwrap();
    let by_target = |p: &str| AuditFilter { target_prefix: Some(p.into()), limit: 100, ..Default::default() };
    assert_eq!(s.list_audit(&by_target("role:")).await.unwrap().len(), 5);
    assert_eq!(s.list_audit(&by_target("a@b.test")).await.unwrap().len(), 1);
    assert_eq!(s.list_audit(&by_target("env:Ünïcode_%")).await.unwrap().len(), 1);
    assert_eq!(s.list_audit(&by_target("env:Ü_")).await.unwrap().len(), 0, "no wildcards");
    assert_eq!(s.list_audit(&by_target("role:y")).await.unwrap().len(), 0);
    assert_eq!(s.list_audit(&AuditFilter { limit: 2, ..Default::default() }).await.unwrap().len(), 2);
    // The database itself refuses to rewrite history.
    assert!(sqlx_exec(&db, "UPDATE audit_events SET action = 'x'").await.is_err());
    assert!(sqlx_exec(&db, "DELETE FROM audit_events").await.is_err());
    assert_eq!(s.list_audit(&AuditFilter { limit: 100, ..Default::default() }).await.unwrap().len(), 7);
});

async fn sqlx_exec(db: &TestDb, sql: &str) -> std::result::Result<(), String> {
    db.raw_execute(sql).await
}

fn check(account: &str, address: &str, at: i64) -> SignInCheck {
    SignInCheck { id: uuid::Uuid::new_v4(), account: account.into(), address_key: Some(address.into()), started_at: t(at) }
}

each_backend!(sign_in_checks_count_failures_and_running_checks, |db: TestDb| async move {
    let s = &db.store;
    // Three failures for a, one for b, all from one address.
    for i in 0..3 {
        let c = check("a@x.test", "10.0.0.1", 1000 + i);
        s.create_sign_in_check(&c, t(0), t(0)).await.unwrap();
        s.update_sign_in_check(c.id, &c.account, CheckOutcome::Failed, t(1000 + i)).await.unwrap();
    }
    let b = check("b@x.test", "10.0.0.1", 1010);
    s.create_sign_in_check(&b, t(0), t(0)).await.unwrap();
    s.update_sign_in_check(b.id, &b.account, CheckOutcome::Failed, t(1010)).await.unwrap();
    // A running check sees them, and itself.
    let running = check("a@x.test", "10.0.0.1", 1020);
    let p = s.create_sign_in_check(&running, t(0), t(0)).await.unwrap();
    assert_eq!(p.account, Pressure { failures: FailureStats { count: 3, last: Some(t(1002)) }, in_flight: 1 });
    assert_eq!(p.address, Pressure { failures: FailureStats { count: 4, last: Some(t(1010)) }, in_flight: 1 });
    // The window, and checks that stopped running long ago (a crash), are left out.
    let other = check("c@x.test", "10.0.0.1", 1030);
    let p = s.create_sign_in_check(&other, t(1002), t(1025)).await.unwrap();
    assert_eq!(p.address.failures.count, 2, "window");
    assert_eq!(p.address.in_flight, 1, "the check started at 1020 is not running any more by then");
    s.update_sign_in_check(other.id, &other.account, CheckOutcome::Withdrawn, t(1031)).await.unwrap();
    // A success resets the account's count, not the address's.
    s.update_sign_in_check(running.id, &running.account, CheckOutcome::Succeeded, t(1040)).await.unwrap();
    let p = s.create_sign_in_check(&check("a@x.test", "10.0.0.1", 1050), t(0), t(0)).await.unwrap();
    assert_eq!(p.account, Pressure { failures: FailureStats::default(), in_flight: 1 });
    assert_eq!(p.address.failures.count, 4);
    // Parallel registrations: the k-th to commit sees at least k running.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = db.store.clone();
        tasks.push(tokio::spawn(async move { s.create_sign_in_check(&check(&format!("p{i}@x.test"), "192.0.2.1", 2000), t(0), t(0)).await.unwrap().address.in_flight }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.sort();
    for (k, n) in seen.iter().enumerate() {
        assert!(*n as usize > k, "{seen:?}");
    }
    assert!(s.purge_limits(t(5000)).await.unwrap() >= 16);
});

each_backend!(rate_limit_counters_are_atomic_windows, |db: TestDb| async move {
    let s = &db.store;
    assert_eq!(s.upsert_limit("k", 1000, t(10_000)).await.unwrap(), (1, t(10_000)));
    assert_eq!(s.upsert_limit("k", 1000, t(10_500)).await.unwrap(), (2, t(10_000)));
    s.update_limit_refund("k", t(10_000)).await.unwrap();
    assert_eq!(s.upsert_limit("k", 1000, t(10_900)).await.unwrap(), (2, t(10_000)), "a refund takes one hit back");
    assert_eq!(s.upsert_limit("k", 1000, t(11_000)).await.unwrap(), (1, t(11_000)), "a new window");
    s.update_limit_refund("k", t(10_000)).await.unwrap();
    assert_eq!(s.upsert_limit("k", 1000, t(11_001)).await.unwrap().0, 2, "a refund for an old window changes nothing");
    assert_eq!(s.upsert_limit("other", 1000, t(11_001)).await.unwrap().0, 1, "keys are counted apart");
    // Parallel hits: every count from 1 to N exactly once.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = db.store.clone();
        tasks.push(tokio::spawn(async move { s.upsert_limit("race", 60_000, t(20_000)).await.unwrap().0 }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort();
    assert_eq!(counts, (1..=16).collect::<Vec<i64>>());
    assert_eq!(s.purge_limits(t(15_000)).await.unwrap(), 2);
});

each_backend!(automations_grants_and_acl, |db: TestDb| async move {
    let s = &db.store;
    let (org, owner) = org_with_owner(s, "Auto").await;
    let new = |name: &str| NewAutomation {
        id: AutomationId::new(),
        upstream_url: "http://127.0.0.1:9".into(),
        upstream_token_sealed: Some("v1.sealed".into()),
        org_id: org.id,
        name: name.into(),
        description: "d".into(),
        visibility: Visibility::Private,
        created_by: Some(owner.id),
    };
    let a = s.create_automation(new("Research Crew"), t(2)).await.unwrap();
    assert!(matches!(s.create_automation(new("research crew"), t(2)).await, Err(StoreError::Conflict { .. })));
    // An update keeps the token unless told to drop it, or given a new one.
    let keep = AutomationUpdate { name: None, description: None, upstream_url: Some("http://127.0.0.1:9/v2".into()), upstream_token_sealed: None, clear_upstream_token: false };
    assert_eq!(s.update_automation(org.id, a.id, keep, t(2)).await.unwrap().upstream_token_sealed.as_deref(), Some("v1.sealed"));
    let moved = AutomationUpdate { name: None, description: None, upstream_url: Some("http://127.0.0.2:9".into()), upstream_token_sealed: None, clear_upstream_token: true };
    assert_eq!(s.update_automation(org.id, a.id, moved, t(2)).await.unwrap().upstream_token_sealed, None);
    let given = AutomationUpdate { name: None, description: None, upstream_url: None, upstream_token_sealed: Some("v1.new".into()), clear_upstream_token: true };
    assert_eq!(s.update_automation(org.id, a.id, given, t(2)).await.unwrap().upstream_token_sealed.as_deref(), Some("v1.new"));
    let role = s.get_predefined_role(org.id, RoleKind::Member).await.unwrap();
    let u = UserId::new();
    s.upsert_grant(org.id, a.id, Subject::User(u), PermSet::of(&[EntityPermission::Run])).await.unwrap();
    s.upsert_grant(org.id, a.id, Subject::Role(role.id), PermSet::of(&[EntityPermission::Traces])).await.unwrap();
    s.upsert_grant(org.id, a.id, Subject::User(u), PermSet::of(&[EntityPermission::Run, EntityPermission::Traces])).await.unwrap();
    let acl = s.get_acl(&a).await.unwrap();
    assert_eq!(acl.visibility, Visibility::Private);
    assert_eq!(acl.user_grants[&u], PermSet::of(&[EntityPermission::Run, EntityPermission::Traces]));
    assert_eq!(acl.role_grants[&role.id], PermSet::of(&[EntityPermission::Traces]));
    s.upsert_grant(org.id, a.id, Subject::User(u), PermSet::EMPTY).await.unwrap();
    assert_eq!(s.list_grants(a.id).await.unwrap().len(), 1);
    // Another organization's id does not reach this automation.
    let other = s.create_org("Other", t(3)).await.unwrap();
    assert!(matches!(s.upsert_grant(other.id, a.id, Subject::User(u), PermSet::of(&[EntityPermission::Run])).await, Err(StoreError::NotFound { .. })));
    assert!(s.get_automation(other.id, a.id).await.unwrap().is_none());
    let with_acls = s.list_automations_with_acls(org.id).await.unwrap();
    assert_eq!(with_acls.len(), 1);
    assert_eq!(with_acls[0].1, s.get_acl(&a).await.unwrap(), "one query per organization gives the same lists");
    let kept = s.list_grants(a.id).await.unwrap();
    s.update_access(org.id, a.id, Visibility::Organization, &kept, t(4)).await.unwrap();
    assert_eq!(s.get_automation(org.id, a.id).await.unwrap().unwrap().visibility, Visibility::Organization);
    assert_eq!(s.list_automations(org.id).await.unwrap().len(), 1);
    assert!(s.delete_automation(org.id, a.id).await.unwrap());
    assert!(s.list_grants(a.id).await.unwrap().is_empty(), "grants go with the automation");
});

each_backend!(invitations_wait_for_acceptance_and_are_accepted_once, |db: TestDb| async move {
    let s = db.store.clone();
    let (org, owner) = org_with_owner(&s, "Inv").await;
    let member = s.get_predefined_role(org.id, RoleKind::Member).await.unwrap();
    let new = |email: &str, token: Option<&str>, expires: i64| NewInvitation {
        id: uuid::Uuid::new_v4(),
        org_id: org.id,
        email: email.into(),
        role_id: member.id,
        invited_by: owner.id,
        token_hash: token.map(h),
        created_at: t(1),
        expires_at: t(expires),
    };
    let inv = s.create_invitation(&new("Ivy@X.test", Some("tok"), 100)).await.unwrap();
    assert_eq!(inv.email, "ivy@x.test");
    assert_eq!(inv.role.kind, RoleKind::Member);
    assert!(inv.has_link);
    assert!(matches!(s.create_invitation(&new("ivy@x.test", None, 100)).await, Err(StoreError::Conflict { .. })), "one pending per address");
    assert_eq!(s.find_invitation_by_token(&h("tok"), t(2)).await.unwrap().unwrap().id, inv.id);
    assert!(s.find_invitation_by_token(&h("tok"), t(100)).await.unwrap().is_none(), "expired");
    assert_eq!(s.list_invitations_for_email("IVY@x.test", t(2)).await.unwrap().len(), 1);
    assert_eq!(s.list_invitations(org.id, t(2)).await.unwrap().len(), 1);
    assert!(s.find_local_user_by_email("ivy@x.test").await.unwrap().is_none(), "nobody joined yet");
    // Two concurrent acceptances: one account, one membership.
    let who = Invitee::NewLocal { display_name: "Ivy".into(), password_hash: "$argon2id$a".into() };
    let (a, b) = tokio::join!(s.consume_invitation(inv.id, &who, t(3)), s.consume_invitation(inv.id, &who, t(3)));
    let winners: Vec<UserId> = [a, b].into_iter().filter_map(|r| r.ok().flatten()).collect();
    assert_eq!(winners.len(), 1);
    let ivy = s.find_local_user_by_email("ivy@x.test").await.unwrap().unwrap();
    assert_eq!(s.get_member(org.id, ivy.id).await.unwrap().unwrap().role.kind, RoleKind::Member);
    assert!(s.consume_invitation(inv.id, &Invitee::Account(ivy.id), t(4)).await.unwrap().is_none(), "used once");
    assert!(s.list_invitations(org.id, t(4)).await.unwrap().is_empty());
    // An existing account joins another organization; an expired invitation gives way to a new one.
    let other = s.create_org("Inv 2", t(5)).await.unwrap();
    let other_member = s.get_predefined_role(other.id, RoleKind::Member).await.unwrap();
    let first = NewInvitation { org_id: other.id, role_id: other_member.id, expires_at: t(10), ..new("ivy@x.test", None, 10) };
    s.create_invitation(&first).await.unwrap();
    let again = NewInvitation { id: uuid::Uuid::new_v4(), created_at: t(20), expires_at: t(200), ..first.clone() };
    let again = s.create_invitation(&again).await.unwrap();
    assert_eq!(s.consume_invitation(again.id, &Invitee::Account(ivy.id), t(21)).await.unwrap(), Some(ivy.id));
    assert_eq!(s.list_memberships(ivy.id).await.unwrap().len(), 2);
    // Withdrawn: nothing to accept.
    let w = s.create_invitation(&new("wes@x.test", Some("w"), 100)).await.unwrap();
    assert!(s.delete_invitation(org.id, w.id).await.unwrap());
    assert!(s.consume_invitation(w.id, &Invitee::Account(ivy.id), t(3)).await.unwrap().is_none());
    // A password is set only on a local account that has none.
    let p = s.create_invitation(&new("ivy@x.test", Some("p"), 100)).await.unwrap();
    assert!(s.consume_invitation(p.id, &Invitee::SetPassword { user: ivy.id, password_hash: "$argon2id$z".into() }, t(3)).await.unwrap().is_none());
    assert_eq!(s.get_user(ivy.id).await.unwrap().unwrap().password_hash.as_deref(), Some("$argon2id$a"));
});

each_backend!(kickoffs_per_subject_sum_exactly_over_any_range, |db: TestDb| async move {
    let s = &db.store;
    let (org, _) = org_with_owner(s, "Counted").await;
    let hour = 3_600_000;
    let automations = [AutomationId::new(), AutomationId::new()];
    let users = [UserId::new(), UserId::new(), UserId::new()];
    // A kickoff every 7 hours for 100 days, in two batches (the roll-ups add up).
    let events: Vec<UsageEvent> = (0..(100 * 24 / 7))
        .map(|i: i64| UsageEvent {
            at: t(i * 7 * hour + 1234),
            org_id: Some(org.id),
            kind: "kickoff".into(),
            provider: None,
            success: Some(true),
            automation_id: Some(automations[i as usize % 2]),
            user_id: Some(users[i as usize % 3]),
            latency_ms: Some(10),
            latency_bucket: Some(3),
            count: 1,
        })
        .collect();
    let (a, b) = events.split_at(events.len() / 2);
    s.append_usage(a).await.unwrap();
    s.append_usage(b).await.unwrap();
    let day = 24 * hour;
    for (from, to, daily) in [(0, 100 * day, true), (3 * day + 5 * hour, 95 * day + 2 * hour, false), (31 * day, 33 * day, true), (7 * hour, 9 * hour, false)] {
        let rows = s.list_usage_rows(&UsageQuery { org_id: Some(org.id), from: t(from), to: t(to), daily, bucket_ms: day }).await.unwrap();
        for (kind, id, n) in [("automation", automations[0].to_string(), 0usize), ("user", users[2].to_string(), 2)] {
            let expected = events.iter().enumerate().filter(|(i, e)| e.at.0 >= from && e.at.0 < to && if kind == "user" { i % 3 == n } else { i % 2 == n }).count() as i64;
            let got = rows.subjects.iter().find(|r| r.subject_type == kind && r.subject_id == id).map(|r| r.count).unwrap_or(0);
            assert_eq!(got, expected, "{kind} kickoffs in [{from}, {to})");
        }
    }
});

// The server merges identical events into one record with a count (its usage
// recorder); the roll-ups add the count, and a kind kept as rows gets one row.
each_backend!(a_merged_event_adds_its_count_to_every_roll_up, |db: TestDb| async move {
    let s = &db.store;
    let (org, _) = org_with_owner(s, "Merged").await;
    let hour = 3_600_000;
    let automation = AutomationId::new();
    let merged = UsageEvent {
        at: t(2 * hour),
        org_id: Some(org.id),
        kind: "kickoff".into(),
        provider: None,
        success: Some(true),
        automation_id: Some(automation),
        user_id: None,
        latency_ms: None,
        latency_bucket: Some(4),
        count: 1_000,
    };
    let single = UsageEvent { at: t(2 * hour + 5), count: 1, ..merged.clone() };
    s.append_usage(&[merged, single]).await.unwrap();
    let rows = s.list_usage_rows(&UsageQuery { org_id: Some(org.id), from: t(0), to: t(24 * hour), daily: false, bucket_ms: 24 * hour }).await.unwrap();
    let kickoffs: i64 = rows.kinds.iter().filter(|r| r.kind == "kickoff").map(|r| r.count).sum();
    assert_eq!(kickoffs, 1_001);
    let per_automation: i64 = rows.subjects.iter().filter(|r| r.subject_id == automation.to_string()).map(|r| r.count).sum();
    assert_eq!(per_automation, 1_001);
    let latency: i64 = rows.latency.iter().map(|r| r.count).sum();
    assert_eq!(latency, 1_001);
});
