//! Security review item 1: `PORTCULLIS_ROLE_MAPPING` resolves roles by what
//! no rename changes (the predefined role's kind, a custom role's key or
//! id), so an administrator who renames roles cannot make mapped users
//! owners or demote the real ones: through browser sign-in at a real OpenID
//! provider and through bearer tokens from its device login, on SQLite and
//! PostgreSQL.


use portcullis_api::{CreateRole, UpdateRole};
use crate::support::browser::Browser;
use crate::support::oidc_peer::{sign_in, OidcPeer};
use crate::support::{on_both_backends, Db, Options, TestServer};

/// The role (`name`, `kind`) `b` holds in the default organization.
async fn role_in_default(b: &mut Browser, srv: &TestServer) -> (String, String) {
    let (status, me) = b.me(&srv.base).await;
    assert_eq!(status, 200, "{me}");
    let org = me["organizations"].as_array().unwrap().iter().find(|o| o["name"] == "Default").unwrap_or_else(|| panic!("{me}"));
    (org["role"]["name"].as_str().unwrap().to_owned(), org["role"]["kind"].as_str().unwrap().to_owned())
}

async fn bearer_role(srv: &TestServer, token: &str) -> (String, String) {
    let me: serde_json::Value = reqwest::Client::new().get(srv.url("/api/v1/me")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let org = me["organizations"].as_array().unwrap_or_else(|| panic!("{me}")).iter().find(|o| o["name"] == "Default").unwrap().clone();
    (org["role"]["name"].as_str().unwrap().to_owned(), org["role"]["kind"].as_str().unwrap().to_owned())
}

async fn start(db: Db, mapping: &str) -> Option<(OidcPeer, TestServer)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = OidcPeer::start(&format!("http://{}", listener.local_addr().unwrap())).await;
    let mut env = vec![("PORTCULLIS_AUTH_PROVIDERS", "keycloak,local".to_owned()), ("PORTCULLIS_ROLE_MAPPING", mapping.to_owned())];
    env.extend(peer.env("keycloak"));
    let srv = TestServer::start_with(db, Options { bootstrap_admin: true, extra_env: env, listener: Some(listener) }).await?;
    Some((peer, srv))
}

async fn renames_of_predefined_roles_change_no_one(db: Db) {
    let Some((peer, srv)) = start(db, "factory-admin=Owner,member=Member,*=Member").await else { return };
    let owner = srv.owner().await;
    let roles = owner.roles().await.unwrap();
    let id_of = |kind: &str| roles.iter().find(|r| r.kind == kind).unwrap().id;
    assert_eq!(roles.iter().find(|r| r.kind == "owner").unwrap().key, "owner");

    let (mut alice, mut bob) = (Browser::new(), Browser::new());
    assert_eq!(sign_in(&mut alice, &srv.base, "keycloak", "alice").await.status(), 303);
    assert_eq!(sign_in(&mut bob, &srv.base, "keycloak", "bob").await.status(), 303);
    assert_eq!(role_in_default(&mut alice, &srv).await.1, "owner");
    assert_eq!(role_in_default(&mut bob, &srv).await.1, "member");

    // The mapping's words are now the names of the other role.
    for (kind, name) in [("member", "Staff"), ("owner", "Member"), ("member", "Owner")] {
        owner.update_role(id_of(kind), &UpdateRole { name: Some(name.into()), permissions: None }).await.unwrap();
    }

    // Signed in again (and through a bearer token): nobody changed hands.
    let (mut alice, mut bob) = (Browser::new(), Browser::new());
    assert_eq!(sign_in(&mut bob, &srv.base, "keycloak", "bob").await.status(), 303);
    assert_eq!(sign_in(&mut alice, &srv.base, "keycloak", "alice").await.status(), 303);
    assert_eq!(role_in_default(&mut bob, &srv).await, ("Owner".to_owned(), "member".to_owned()), "bob keeps the Member role, whatever it is called");
    assert_eq!(role_in_default(&mut alice, &srv).await, ("Member".to_owned(), "owner".to_owned()), "alice keeps the Owner role");
    let token = peer.device_login("keycloak", "keycloak-cli", "bob", "").await;
    assert_eq!(bearer_role(&srv, token["access_token"].as_str().unwrap()).await.1, "member");
    let token = peer.device_login("keycloak", "keycloak-cli", "alice", "").await;
    assert_eq!(bearer_role(&srv, token["access_token"].as_str().unwrap()).await.1, "owner");
    srv.cleanup().await;
}

async fn custom_roles_are_mapped_by_their_key(db: Db) {
    let Some((peer, srv)) = start(db, "factory-admin=Owner,member=Developer,*=Member").await else { return };
    let owner = srv.owner().await;
    let dev = owner.create_role(&CreateRole { name: "Developer".into(), permissions: Default::default() }).await.unwrap();
    assert_eq!(dev.key, "developer");
    let mut bob = Browser::new();
    assert_eq!(sign_in(&mut bob, &srv.base, "keycloak", "bob").await.status(), 303);
    assert_eq!(role_in_default(&mut bob, &srv).await, ("Developer".to_owned(), "custom".to_owned()));

    // Renamed, and a new role takes the old name: the mapping still means the first.
    owner.update_role(dev.id, &UpdateRole { name: Some("Contractors".into()), permissions: None }).await.unwrap();
    let impostor = owner.create_role(&CreateRole { name: "Developer".into(), permissions: Default::default() }).await.unwrap();
    assert_eq!(impostor.key, "developer-2");
    // A custom role named like a predefined one never takes its key.
    let owner_role = owner.roles().await.unwrap().into_iter().find(|r| r.kind == "owner").unwrap();
    owner.update_role(owner_role.id, &UpdateRole { name: Some("Boss".into()), permissions: None }).await.unwrap();
    let fake_owner = owner.create_role(&CreateRole { name: "Owner".into(), permissions: Default::default() }).await.unwrap();
    assert_eq!(fake_owner.key, "owner-2");

    let mut bob = Browser::new();
    assert_eq!(sign_in(&mut bob, &srv.base, "keycloak", "bob").await.status(), 303);
    assert_eq!(role_in_default(&mut bob, &srv).await, ("Contractors".to_owned(), "custom".to_owned()));
    let token = peer.device_login("keycloak", "keycloak-cli", "bob", "").await;
    assert_eq!(bearer_role(&srv, token["access_token"].as_str().unwrap()).await.0, "Contractors");
    let mut alice = Browser::new();
    assert_eq!(sign_in(&mut alice, &srv.base, "keycloak", "alice").await.status(), 303);
    assert_eq!(role_in_default(&mut alice, &srv).await, ("Boss".to_owned(), "owner".to_owned()), "the custom role called Owner is not the Owner role");
    srv.cleanup().await;
}

on_both_backends!(predefined, super::renames_of_predefined_roles_change_no_one);
on_both_backends!(custom, super::custom_roles_are_mapped_by_their_key);
