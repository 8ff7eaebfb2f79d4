//! Security review item 4: on a server without password sign-in, an
//! invitation never creates a password or a `local` session. It waits until
//! the person first signs in through the identity provider with that
//! address, and it ends when the person who sent it may no longer invite.
//! Against the real OpenID provider peer, on SQLite and PostgreSQL.


use portcullis_api::{Client, CreateInvitation, CreateRole, UpdateMember};
use std::collections::BTreeMap;
use crate::support::browser::Browser;
use crate::support::oidc_peer::{sign_in, OidcPeer};
use crate::support::{on_both_backends, Db, Options, TestServer};

/// An API client carrying a bearer token from a device login at the peer.
async fn as_user(peer: &OidcPeer, srv: &TestServer, login: &str) -> Client {
    let token = peer.device_login("keycloak", "keycloak-cli", login, "").await;
    Client::new(&srv.base).unwrap().with_bearer(token["access_token"].as_str().unwrap())
}

async fn invitations_wait_for_the_first_idp_sign_in(db: Db) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = OidcPeer::start(&format!("http://{}", listener.local_addr().unwrap())).await;
    let mut env = vec![("AUTH_PROVIDER", "keycloak".to_owned())];
    env.extend(peer.env("keycloak"));
    let Some(srv) = TestServer::start_with(db, Options { bootstrap_admin: false, extra_env: env, listener: Some(listener) }).await else { return };

    // alice (factory-admin) makes Acme, which the role mapping does not govern.
    let mut alice = as_user(&peer, &srv, "alice").await;
    // (The first organization is the mapping's default: Acme comes later.)
    srv.clock.advance(std::time::Duration::from_secs(1));
    let acme = alice.create_organization("Acme").await.unwrap();
    alice.set_org(Some(acme.id));
    let inv = alice.invite(&CreateInvitation { email: "bob@example.test".into(), role_id: None }).await.unwrap();
    assert_eq!(inv.accepted_by, "first_sign_in");
    assert!(inv.invite_url.is_none(), "no link, no password, where passwords are off");
    // The old way is closed: no account with a password, no invitation page.
    let e = alice
        .create_user(&portcullis_api::CreateUser { email: "mallory@example.test".into(), display_name: None, password: Some("a long password here".into()), role_id: None })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("local_sign_in_disabled"), "{e}");
    assert_eq!(reqwest::get(srv.url("/invite?token=anything")).await.unwrap().status(), 404);
    // Memberships in Default follow the IdP: inviting there is refused with the reason.
    let mut in_default = alice.clone();
    in_default.set_org(Some(alice.organizations().await.unwrap().iter().find(|o| o.name == "Default").unwrap().id));
    let e = in_default.invite(&CreateInvitation { email: "carol@example.test".into(), role_id: None }).await.unwrap_err();
    assert_eq!(e.code(), Some("governed_by_role_mapping"), "{e}");

    // bob signs in through the IdP for the first time: he is in Acme.
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv.base, "keycloak", "bob").await.status(), 303);
    let (_, me) = b.me(&srv.base).await;
    let orgs: Vec<&str> = me["organizations"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert!(orgs.contains(&"Acme"), "{me}");
    assert_eq!(me["session"]["provider"], "keycloak");
    assert!(alice.invitations().await.unwrap().is_empty(), "accepted");

    // bob, made a recruiter, invites carol; then loses the right: his invitation ends.
    let recruiters = alice
        .create_role(&CreateRole { name: "Recruiters".into(), permissions: BTreeMap::from([("invitations".into(), "manage".into())]) })
        .await
        .unwrap();
    let bob_id: uuid::Uuid = me["user"]["id"].as_str().unwrap().parse().unwrap();
    alice.update_member(bob_id, &UpdateMember { role_id: Some(recruiters.id), disabled: None }).await.unwrap();
    let mut bob = as_user(&peer, &srv, "bob").await;
    bob.set_org(Some(acme.id));
    bob.invite(&CreateInvitation { email: "carol@example.test".into(), role_id: None }).await.unwrap();
    let member = alice.roles().await.unwrap().into_iter().find(|r| r.kind == "member").unwrap();
    alice.update_member(bob_id, &UpdateMember { role_id: Some(member.id), disabled: None }).await.unwrap();
    let pending = alice.invitations().await.unwrap();
    assert_eq!(pending.len(), 1);
    let ended = pending[0].ended.clone().expect("ended with its sender's right");
    assert!(ended.contains("bob@example.test") && ended.contains("invitations: manage"), "{ended}");
    let mut c = Browser::new();
    assert_eq!(sign_in(&mut c, &srv.base, "keycloak", "carol").await.status(), 303);
    let (_, me) = c.me(&srv.base).await;
    assert!(me["organizations"].as_array().unwrap().iter().all(|o| o["name"] != "Acme"), "an ended invitation was applied: {me}");
    srv.cleanup().await;
}

on_both_backends!(first_sign_in, super::invitations_wait_for_the_first_idp_sign_in);
