//! Conformance of the identity-provider storage (sign-in through an IdP):
//! just-in-time accounts keyed on issuer + subject, sessions ended by
//! back-channel logout, one-time values. Every test runs on both backends.


use portcullis_domain::*;
use portcullis_storage::*;
use crate::support::h;
use crate::support::{each_backend, TestDb};

fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn idp_user(issuer: &str, sub: &str, email: &str, admin: bool) -> IdpUser {
    IdpUser { issuer: issuer.into(), subject: sub.into(), email: email.into(), display_name: sub.into(), factory_admin: admin }
}

async fn session(s: &SqlStore, user: UserId, provider: &str, hash: &str, sid: Option<&str>) -> SessionId {
    saml_session(s, user, provider, hash, sid, None).await
}

async fn saml_session(s: &SqlStore, user: UserId, provider: &str, hash: &str, sid: Option<&str>, name_id_hash: Option<&str>) -> SessionId {
    let id = SessionId::new();
    s.create_session(NewSession {
        id,
        token_hash: h(hash),
        user_id: user,
        times: SessionTimes::start(t(1000), &SessionPolicy::default()),
        provider: provider.into(),
        ip: None,
        user_agent: None,
        idp_sid: sid.map(Into::into),
        id_token_sealed: Some(format!("sealed-{hash}")),
        idp_name_id_hash: name_id_hash.map(Into::into),
    })
    .await
    .unwrap();
    id
}

each_backend!(idp_users_are_keyed_on_issuer_and_subject, |db: TestDb| async move {
    let s = &db.store;
    let (alice, created) = s.upsert_idp_user(&idp_user("https://a.example", "sub-1", "alice@x.test", true), t(1)).await.unwrap();
    assert!(created);
    assert!(alice.factory_admin);
    assert!(alice.password_hash.is_none());
    // The same subject again: the same account, refreshed (a role removed in
    // the IdP is gone).
    let (again, created) = s.upsert_idp_user(&idp_user("https://a.example", "sub-1", "alice@new.test", false), t(2)).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, alice.id);
    assert_eq!(again.email, "alice@new.test");
    assert!(!again.factory_admin);
    // The same subject at another issuer, or the same e-mail address, is
    // another person: never merged on e-mail.
    let (other, created) = s.upsert_idp_user(&idp_user("https://b.example", "sub-1", "alice@new.test", false), t(3)).await.unwrap();
    assert!(created);
    assert_ne!(other.id, alice.id);
    let local = s
        .create_user(NewUser { email: "alice@new.test".into(), display_name: "Local".into(), password_hash: None, factory_admin: false }, t(4))
        .await
        .unwrap();
    assert_ne!(local.id, alice.id);
    assert_eq!(s.find_local_user_by_email("alice@new.test").await.unwrap().unwrap().id, local.id);
    assert_eq!(s.find_user_by_idp("https://a.example", "sub-1").await.unwrap().unwrap().id, alice.id);
    assert!(s.find_user_by_idp("https://a.example", "sub-2").await.unwrap().is_none());
    assert_eq!(s.count_users().await.unwrap(), 3);
});

each_backend!(concurrent_first_sign_ins_create_one_account, |db: TestDb| async move {
    let s = db.store.clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.upsert_idp_user(&idp_user("https://a.example", "racer", &format!("r{i}@x.test"), false), t(i)).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for task in tasks {
        let (u, c) = task.await.unwrap();
        ids.push(u.id);
        created += c as usize;
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one account");
    assert_eq!(created, 1, "created exactly once");
    assert_eq!(s.count_users().await.unwrap(), 1);
});

each_backend!(back_channel_logout_ends_the_named_sessions, |db: TestDb| async move {
    let s = &db.store;
    let (alice, _) = s.upsert_idp_user(&idp_user("https://a.example", "alice", "a@x.test", false), t(1)).await.unwrap();
    let (bob, _) = s.upsert_idp_user(&idp_user("https://a.example", "bob", "b@x.test", false), t(1)).await.unwrap();
    let a1 = session(s, alice.id, "okta", "a1", Some("sid-1")).await;
    let _a2 = session(s, alice.id, "okta", "a2", Some("sid-2")).await;
    let _b1 = session(s, bob.id, "okta", "b1", Some("sid-3")).await;
    assert_eq!(s.get_session_id_token(a1).await.unwrap().as_deref(), Some("sealed-a1"));

    // By sid: only that session.
    let ended = s.revoke_idp_sessions("okta", "https://a.example", Some("sid-1"), None, t(2000)).await.unwrap();
    assert_eq!(ended, vec![alice.id]);
    assert!(s.find_session_by_token_hash(&h("a1")).await.unwrap().unwrap().times.revoked_at.is_some());
    assert!(s.find_session_by_token_hash(&h("a2")).await.unwrap().unwrap().times.revoked_at.is_none());
    // Another provider's or issuer's sessions are untouched.
    assert!(s.revoke_idp_sessions("keycloak", "https://a.example", None, Some("bob"), t(2000)).await.unwrap().is_empty());
    assert!(s.revoke_idp_sessions("okta", "https://b.example", None, Some("bob"), t(2000)).await.unwrap().is_empty());
    // By subject: all of that user's sessions.
    assert_eq!(s.revoke_idp_sessions("okta", "https://a.example", None, Some("bob"), t(2000)).await.unwrap(), vec![bob.id]);
    assert!(s.find_session_by_token_hash(&h("b1")).await.unwrap().unwrap().times.revoked_at.is_some());
    assert!(s.find_session_by_token_hash(&h("a2")).await.unwrap().unwrap().times.revoked_at.is_none());
});

fn revoked(r: Option<SessionRecord>) -> bool {
    r.unwrap().times.revoked_at.is_some()
}

each_backend!(saml_logout_ends_the_sessions_of_the_name_id_and_index_once, |db: TestDb| async move {
    let s = &db.store;
    let (alice, _) = s.upsert_idp_user(&idp_user("https://idp.example", "alice-oid", "a@x.test", false), t(1)).await.unwrap();
    let (bob, _) = s.upsert_idp_user(&idp_user("https://idp.example", "bob-oid", "b@x.test", false), t(1)).await.unwrap();
    saml_session(s, alice.id, "saml", "a1", Some("si-a1"), Some("h-alice")).await;
    saml_session(s, alice.id, "saml", "a2", Some("si-a2"), Some("h-alice")).await;
    saml_session(s, alice.id, "entra_id", "a3", Some("si-a1"), Some("h-alice")).await;
    saml_session(s, bob.id, "saml", "b1", Some("si-b1"), Some("h-bob")).await;
    let end = |name: &'static str, indexes: Vec<String>, request: &'static str| async move {
        let request = SamlLogout { provider: "saml", name_id_hash: name, session_indexes: &indexes, request_key_hash: &h(request), request_expires: t(5000) };
        s.revoke_saml_sessions_once(&request, t(2000)).await.unwrap()
    };
    // Alice's NameID with Bob's SessionIndex: nobody's session ends.
    assert_eq!(end("h-alice", vec!["si-b1".into()], "r1").await, Some(vec![]));
    assert!(!revoked(s.find_session_by_token_hash(&h("b1")).await.unwrap()));
    // The same request again: a replay, refused even though it would now match.
    assert_eq!(end("h-alice", vec!["si-a1".into()], "r1").await, None);
    assert!(!revoked(s.find_session_by_token_hash(&h("a1")).await.unwrap()));
    // NameID and index: that session only (not another provider's).
    assert_eq!(end("h-alice", vec!["si-a1".into(), "si-x".into()], "r2").await, Some(vec![alice.id]));
    assert!(revoked(s.find_session_by_token_hash(&h("a1")).await.unwrap()));
    assert!(!revoked(s.find_session_by_token_hash(&h("a2")).await.unwrap()));
    assert!(!revoked(s.find_session_by_token_hash(&h("a3")).await.unwrap()));
    // NameID alone: every remaining session of it at this provider.
    assert_eq!(end("h-alice", vec![], "r3").await, Some(vec![alice.id]));
    assert!(revoked(s.find_session_by_token_hash(&h("a2")).await.unwrap()));
    assert!(!revoked(s.find_session_by_token_hash(&h("a3")).await.unwrap()));
    assert!(!revoked(s.find_session_by_token_hash(&h("b1")).await.unwrap()));
    // The request ids are spent as `used_once` values of their own kind.
    assert!(!s.consume_once(portcullis_storage::OnceKind::SamlLogoutRequest, &h("r3"), t(5000)).await.unwrap());
});

each_backend!(one_time_values_are_accepted_once, |db: TestDb| async move {
    let s = db.store.clone();
    assert!(s.consume_once(portcullis_storage::OnceKind::SsoState, &h("h1"), t(100)).await.unwrap());
    assert!(!s.consume_once(portcullis_storage::OnceKind::SsoState, &h("h1"), t(100)).await.unwrap());
    assert!(s.consume_once(portcullis_storage::OnceKind::LogoutJti, &h("h1"), t(100)).await.unwrap(), "kinds are separate");
    // Concurrent uses: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.consume_once(portcullis_storage::OnceKind::SsoState, &h("race"), t(100)).await.unwrap() }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += task.await.unwrap() as usize;
    }
    assert_eq!(wins, 1);
    assert_eq!(s.purge_used_once(t(200)).await.unwrap(), 3);
    assert!(s.consume_once(portcullis_storage::OnceKind::SsoState, &h("h1"), t(300)).await.unwrap());
});
