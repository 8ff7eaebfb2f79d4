//! Entra ID's group overage end to end: dave is in 250 groups, so the
//! OpenID provider peer's Entra ID layout leaves `groups` out of his ID and
//! access tokens and names it as a distributed claim (`_claim_names`,
//! `_claim_sources`). Portcullis lists his groups from the Microsoft Graph
//! stand-in (`tests/idp/graph.mjs`, three pages of 100) with an app token
//! from the peer's client credentials grant, and a rule on a group past
//! the 200th gives him his role, at browser sign-in and with a CLI token.
//! Without the Graph permission the sign-in fails with what to grant.

use crate::support::browser::Browser;
use crate::support::oidc_peer::{sign_in, OidcPeer};
use crate::support::{Db, Options, TestServer};
use portcullis_api::{CreateRole, GroupRuleInfo, NoMatchInfo, PutGroupRules, RoleRef};
use reqwest::StatusCode;
use sha2::Digest;

/// The peer's object id for a group (`graph.mjs`: `groupId(n)`).
fn group_id(n: u32) -> String {
    let h = hex::encode(sha2::Sha256::digest(format!("group:{n}")));
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

async fn start(peer_env: &[(&str, &str)]) -> Option<(OidcPeer, TestServer)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = OidcPeer::start_with(&format!("http://{}", listener.local_addr().unwrap()), peer_env).await;
    let mut env = vec![("PORTCULLIS_AUTH_PROVIDERS", "entra_id,local".to_owned())];
    env.extend(peer.env("entra_id"));
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: true, extra_env: env, listener: Some(listener) }).await?;
    // A group past the 200 a token carries gives the custom role; nothing else does.
    let owner = srv.owner().await;
    let dev = owner.create_role(&CreateRole { name: "Developer".into(), permissions: Default::default() }).await.unwrap();
    let version = owner.group_rules().await.unwrap().version;
    let rule = GroupRuleInfo { source: "claim".into(), claim: Some("groups".into()), match_: "exact".into(), pattern: group_id(217), role: RoleRef { id: Some(dev.id), ..Default::default() } };
    owner.put_group_rules(&PutGroupRules { enabled: true, rules: vec![rule], no_match: NoMatchInfo { action: "refuse".into(), role: None }, version }).await.unwrap();
    Some((peer, srv))
}

fn role_in_default(me: &serde_json::Value) -> Option<String> {
    let org = me["organizations"].as_array()?.iter().find(|o| o["name"] == "Default")?;
    org["role"]["name"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overage_groups_come_from_graph_at_sign_in_and_for_cli_tokens() {
    let Some((peer, srv)) = start(&[]).await else { return };
    let mut dave = Browser::new();
    let r = sign_in(&mut dave, &srv.base, "entra_id", "dave").await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let (status, me) = dave.me(&srv.base).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(role_in_default(&me).as_deref(), Some("Developer"), "group 217 came from Graph: {me}");

    // bob's token carries no groups and no overage: the rules refuse him.
    let mut bob = Browser::new();
    let r = sign_in(&mut bob, &srv.base, "entra_id", "bob").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("no group rule gives you a role"));

    // A CLI access token with the same overage, on a fresh server's caches.
    let token = peer.device_login("entra_id", "entra-cli", "dave", "api://portcullis-cli/read").await["access_token"].as_str().unwrap().to_owned();
    let claims: serde_json::Value = {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    assert!(claims.get("groups").is_none() && claims["_claim_names"]["groups"].is_string(), "the peer's token is an overage: {claims}");
    let me: serde_json::Value = reqwest::Client::new().get(format!("{}/api/v1/me", srv.base)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(role_in_default(&me).as_deref(), Some("Developer"), "{me}");
    srv.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_graph_permission_the_page_says_what_to_grant() {
    // The admin never consented to GroupMember.Read.All: the app token has no roles, Graph says 403.
    let Some((_peer, srv)) = start(&[("IDP_GRAPH_PERMISSION", "0")]).await else { return };
    let mut dave = Browser::new();
    let r = sign_in(&mut dave, &srv.base, "entra_id", "dave").await;
    assert_eq!(r.status(), StatusCode::FAILED_DEPENDENCY);
    let page = r.text().await.unwrap();
    assert!(page.contains("Your groups could not be read"), "{page}");
    assert!(page.contains("Authorization_RequestDenied") && page.contains("GroupMember.Read.All") && page.contains("grant admin consent"), "{page}");
    assert!(!dave.has_session());
    srv.cleanup().await;
}
