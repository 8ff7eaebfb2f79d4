//! Conformance of the `local` authorization server's storage: one active
//! signing key, device codes approved and redeemed once, refresh tokens
//! rotated with reuse detection. Every test runs on both backends.


use portcullis_domain::*;
use portcullis_storage::*;
use crate::support::h;
use crate::support::{each_backend, TestDb};

fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn key(kid: &str, at: i64) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg: "RS256".into(),
        private_sealed: format!("sealed-{kid}"),
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        created_at: t(at),
        retired_at: None,
        publish_until: None,
    }
}

async fn user(s: &SqlStore, email: &str) -> UserId {
    s.create_user(NewUser { email: email.into(), display_name: email.into(), password_hash: None, factory_admin: false }, t(1))
        .await
        .unwrap()
        .id
}

fn device(hash: &str, code: &str) -> NewDeviceAuthorization {
    NewDeviceAuthorization {
        device_code_hash: h(hash),
        user_code: code.into(),
        client_id: "portcullis-cli".into(),
        scope: "openid".into(),
        interval_secs: 5,
        client_ip: Some("127.0.0.1".into()),
        created_at: t(1000),
        expires_at: t(601_000),
    }
}

fn refresh(hash: &str, user: UserId, expires: i64, family_expires: i64) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: h(hash),
        user_id: user,
        client_id: "portcullis-cli".into(),
        scope: "openid".into(),
        created_at: t(1000),
        expires_at: t(expires),
        family_expires_at: t(family_expires),
    }
}

each_backend!(one_signing_key_is_active_and_retired_ones_stay_published, |db: TestDb| async move {
    let s = &db.store;
    assert!(s.list_signing_keys(t(0)).await.unwrap().is_empty());
    // Two replicas race to create the first key: one wins, by constraint.
    assert!(s.create_first_signing_key(&key("k1", 10)).await.unwrap());
    assert!(!s.create_first_signing_key(&key("k1b", 11)).await.unwrap());
    let keys = s.list_signing_keys(t(20)).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, "k1");
    assert!(keys[0].retired_at.is_none());
    // Rotation: k2 signs from now on, k1 stays published until 5000.
    s.rotate_signing_key(&key("k2", 100), t(5000), t(100)).await.unwrap();
    let keys = s.list_signing_keys(t(200)).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["k2", "k1"]);
    assert!(keys[0].retired_at.is_none());
    assert_eq!(keys[1].retired_at, Some(t(100)));
    assert_eq!(s.list_signing_keys(t(5000)).await.unwrap().len(), 1, "k1 is no longer published after its tokens expired");
    // Reseal is a compare-and-swap.
    assert!(s.reseal_signing_key("k2", "sealed-k2", "resealed").await.unwrap());
    assert!(!s.reseal_signing_key("k2", "sealed-k2", "again").await.unwrap());
    assert_eq!(s.list_all_signing_keys().await.unwrap().len(), 2);
    assert_eq!(s.purge_oauth(t(6000)).await.unwrap(), 1);
    assert_eq!(s.list_all_signing_keys().await.unwrap().len(), 1);
});

each_backend!(device_codes_are_decided_once_and_redeemed_once, |db: TestDb| async move {
    let s = &db.store;
    let alice = user(s, "alice@x.test").await;
    let bob = user(s, "bob@x.test").await;
    s.create_device_authorization(&device("h1", "BCDFGHJK")).await.unwrap();
    // A user code is unique while its row exists.
    assert!(matches!(s.create_device_authorization(&device("h2", "BCDFGHJK")).await, Err(StoreError::Conflict { .. })));
    let d = s.find_device_by_code(&h("h1")).await.unwrap().unwrap();
    assert_eq!(d.status, DeviceStatus::Pending);
    assert_eq!(d.user_code, "BCDFGHJK");
    assert_eq!(d.client_ip.as_deref(), Some("127.0.0.1"));
    s.update_device_poll(&h("h1"), t(2000), None).await.unwrap();
    s.update_device_poll(&h("h1"), t(3000), Some(10)).await.unwrap();
    let d = s.find_device_by_user_code("BCDFGHJK").await.unwrap().unwrap();
    assert_eq!((d.last_polled_at, d.interval_secs), (Some(t(3000)), 10));
    // Not after expiry; then approved by alice, and bob cannot change it.
    assert!(s.update_device_decision("BCDFGHJK", alice, true, t(601_000)).await.unwrap().is_none());
    let d = s.update_device_decision("BCDFGHJK", alice, true, t(4000)).await.unwrap().unwrap();
    assert_eq!(d.status, DeviceStatus::Approved(alice));
    assert!(s.update_device_decision("BCDFGHJK", bob, false, t(4000)).await.unwrap().is_none());
    // Redeemed once only.
    assert!(s.consume_device(&h("h1")).await.unwrap());
    assert!(!s.consume_device(&h("h1")).await.unwrap());
    assert_eq!(s.find_device_by_code(&h("h1")).await.unwrap().unwrap().status, DeviceStatus::Redeemed);
    // A denied code cannot be redeemed.
    s.create_device_authorization(&device("h3", "CDFGHJKL")).await.unwrap();
    assert_eq!(s.update_device_decision("CDFGHJKL", bob, false, t(4000)).await.unwrap().unwrap().status, DeviceStatus::Denied);
    assert!(!s.consume_device(&h("h3")).await.unwrap());
    // Expired rows go after a day.
    assert_eq!(s.purge_oauth(t(601_000 + 86_400_001)).await.unwrap(), 2);
    assert!(s.find_device_by_code(&h("h1")).await.unwrap().is_none());
});

each_backend!(refresh_tokens_rotate_and_reuse_revokes_the_family, |db: TestDb| async move {
    let s = &db.store;
    let alice = user(s, "alice@x.test").await;
    let first = s.create_refresh_token(&refresh("r1", alice, 100_000, 1_000_000)).await.unwrap();
    assert_eq!(first.user_id, alice);
    let RefreshOutcome::Rotated(second) = s.rotate_refresh_token(&h("r1"), &refresh("r2", alice, 200_000, 0), t(2000)).await.unwrap() else {
        panic!("first use rotates")
    };
    assert_eq!(second.family_id, first.family_id);
    assert_eq!(second.family_expires_at, t(1_000_000), "the family's end is inherited, not taken from the successor");
    assert_eq!(second.expires_at, t(200_000));
    // The successor never outlives the family.
    let RefreshOutcome::Rotated(third) = s.rotate_refresh_token(&h("r2"), &refresh("r3", alice, 5_000_000, 0), t(3000)).await.unwrap() else {
        panic!("second use rotates")
    };
    assert_eq!(third.expires_at, t(1_000_000));
    // Presenting r1 again: reuse, and the whole family (r3 too) is revoked.
    assert_eq!(s.rotate_refresh_token(&h("r1"), &refresh("r4", alice, 200_000, 0), t(4000)).await.unwrap(), RefreshOutcome::Reused);
    assert_eq!(s.rotate_refresh_token(&h("r3"), &refresh("r5", alice, 200_000, 0), t(5000)).await.unwrap(), RefreshOutcome::Revoked);
    assert_eq!(s.rotate_refresh_token(&h("nope"), &refresh("r6", alice, 200_000, 0), t(5000)).await.unwrap(), RefreshOutcome::Unknown);
    // Expiry.
    s.create_refresh_token(&refresh("e1", alice, 10_000, 1_000_000)).await.unwrap();
    assert_eq!(s.rotate_refresh_token(&h("e1"), &refresh("e2", alice, 200_000, 0), t(10_000)).await.unwrap(), RefreshOutcome::Expired);
});

each_backend!(refresh_families_are_revoked_by_logout_and_by_user, |db: TestDb| async move {
    let s = &db.store;
    let alice = user(s, "alice@x.test").await;
    let first_a = s.create_refresh_token(&refresh("a1", alice, 100_000, 1_000_000)).await.unwrap();
    s.create_refresh_token(&refresh("b1", alice, 100_000, 1_000_000)).await.unwrap();
    let RefreshOutcome::Rotated(_) = s.rotate_refresh_token(&h("a1"), &refresh("a2", alice, 100_000, 0), t(2000)).await.unwrap() else { panic!() };
    // RFC 7009 with the old token of a family revokes the current one too.
    assert!(s.get_refresh_family_active(&first_a.family_id, t(3000)).await.unwrap());
    assert_eq!(s.revoke_refresh_family(&h("a1"), t(3000)).await.unwrap(), Some(first_a.family_id.clone()));
    assert!(!s.get_refresh_family_active(&first_a.family_id, t(3000)).await.unwrap());
    assert!(!s.get_refresh_family_active("no-such-family", t(3000)).await.unwrap());
    assert_eq!(s.rotate_refresh_token(&h("a2"), &refresh("a3", alice, 100_000, 0), t(4000)).await.unwrap(), RefreshOutcome::Revoked);
    assert_eq!(s.revoke_refresh_family(&h("unknown"), t(3000)).await.unwrap(), None);
    // The other login of the same user is untouched, until all are revoked.
    assert_eq!(s.revoke_user_refresh_tokens(alice, t(5000)).await.unwrap(), 1);
    assert_eq!(s.rotate_refresh_token(&h("b1"), &refresh("b2", alice, 100_000, 0), t(6000)).await.unwrap(), RefreshOutcome::Revoked);
    // Families are deleted once they have ended.
    assert_eq!(s.purge_oauth(t(1_000_001)).await.unwrap(), 3);
});

each_backend!(cli_logins_are_listed_per_user_and_ended_one_by_one, |db: TestDb| async move {
    let s = &db.store;
    let alice = user(s, "alice@x.test").await;
    let bob = user(s, "bob@x.test").await;
    let first = s.create_refresh_token(&refresh("f1", alice, 100_000, 1_000_000)).await.unwrap();
    let RefreshOutcome::Rotated(_) = s.rotate_refresh_token(&h("f1"), &NewRefreshToken { created_at: t(5000), ..refresh("f2", alice, 100_000, 0) }, t(5000)).await.unwrap() else { panic!() };
    let second = s.create_refresh_token(&NewRefreshToken { created_at: t(3000), ..refresh("g1", alice, 100_000, 2_000_000) }).await.unwrap();
    s.create_refresh_token(&refresh("b1", bob, 100_000, 1_000_000)).await.unwrap();
    // One line per login, renewals folded in, the most recently used first.
    let listed = s.list_refresh_families(alice, t(6000)).await.unwrap();
    assert_eq!(listed.iter().map(|f| f.family_id.as_str()).collect::<Vec<_>>(), [first.family_id.as_str(), second.family_id.as_str()]);
    assert_eq!((listed[0].started_at, listed[0].last_used_at, listed[0].expires_at), (t(1000), t(5000), t(1_000_000)));
    assert_eq!(listed[0].client_id, "portcullis-cli");
    // Only its owner ends a login; then it is gone from the list and dead.
    assert!(!s.revoke_user_refresh_family(bob, &first.family_id, t(7000)).await.unwrap());
    assert!(s.revoke_user_refresh_family(alice, &first.family_id, t(7000)).await.unwrap());
    assert!(!s.revoke_user_refresh_family(alice, &first.family_id, t(7000)).await.unwrap(), "once");
    assert!(!s.get_refresh_family_active(&first.family_id, t(7000)).await.unwrap());
    assert_eq!(s.rotate_refresh_token(&h("f2"), &refresh("f3", alice, 100_000, 0), t(8000)).await.unwrap(), RefreshOutcome::Revoked);
    assert_eq!(s.list_refresh_families(alice, t(8000)).await.unwrap().len(), 1);
    // Past its end, a family is not listed.
    assert!(s.list_refresh_families(alice, t(2_000_000)).await.unwrap().is_empty());
    assert_eq!(s.list_refresh_families(bob, t(8000)).await.unwrap().len(), 1);
});

each_backend!(a_concurrent_refresh_is_treated_as_reuse, |db: TestDb| async move {
    let s = db.store.clone();
    let alice = user(&s, "alice@x.test").await;
    s.create_refresh_token(&refresh("c1", alice, 100_000, 1_000_000)).await.unwrap();
    let a = {
        let s = s.clone();
        tokio::spawn(async move { s.rotate_refresh_token(&h("c1"), &refresh("c2", alice, 100_000, 0), t(2000)).await.unwrap() })
    };
    let b = {
        let s = s.clone();
        tokio::spawn(async move { s.rotate_refresh_token(&h("c1"), &refresh("c3", alice, 100_000, 0), t(2000)).await.unwrap() })
    };
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let rotated = [&a, &b].iter().filter(|o| matches!(o, RefreshOutcome::Rotated(_))).count();
    assert_eq!(rotated, 1, "exactly one use wins: {a:?} {b:?}");
    assert!([&a, &b].iter().any(|o| **o == RefreshOutcome::Reused));
});
