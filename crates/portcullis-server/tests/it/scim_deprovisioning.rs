//! Deprovisioning end to end: a person provisioned over SCIM signs in
//! through the OpenID provider peer (linked to the provisioned account),
//! holds a browser session, an IdP bearer token and a CLI login at the
//! local authorization server, and is deactivated over SCIM. All three are
//! refused within one second on the replica that took the PATCH and on a
//! second replica on the same PostgreSQL; signing in again is refused with
//! the troubleshooting page, and reactivation restores the membership only.
//! Where memberships follow SCIM groups (group rules on `scim_group`),
//! removal from the last group that gives a role does the same.

use crate::replicas::{free_port, start_with, until, OWNER, OWNER_PASSWORD};
use crate::scim::Scim;
use crate::support::browser::Browser;
use crate::support::oidc_peer::{sign_in, OidcPeer};
use portcullis_api::{GroupRuleInfo, NoMatchInfo, PutGroupRules, RoleRef};
use portcullis_storage::testing::TestDb;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

async fn status(url: String, bearer: Option<&str>, cookie: Option<&str>) -> StatusCode {
    let mut rb = reqwest::Client::new().get(url);
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    if let Some(c) = cookie {
        rb = rb.header("cookie", c);
    }
    rb.send().await.unwrap().status()
}

/// Two replicas on one PostgreSQL, and bob (provisioned over SCIM, then
/// signed in) holding a browser session, an IdP bearer token and a CLI login.
struct Signed {
    a: crate::replicas::Replica,
    b: crate::replicas::Replica,
    _peer: OidcPeer,
    db: TestDb,
    owner: portcullis_api::Client,
    scim: Scim,
    scim_id: String,
    bob: uuid::Uuid,
    cookie: String,
    idp_token: String,
    cli_token: String,
}

/// With `granting_group`, memberships follow SCIM groups: the group rules
/// give Member for the group "Factory Users" (bob is in it) and refuse otherwise.
async fn signed_in(granting_group: bool) -> Option<(Signed, Option<String>)> {
    let db = TestDb::postgres().await?;
    let ports = [free_port(), free_port()];
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let peer = OidcPeer::start(&public).await;
    let env: Vec<(&str, String)> = [("PORTCULLIS_AUTH_PROVIDERS", "okta,local".to_owned()), ("PORTCULLIS_SESSION_CACHE_TTL", "60s".to_owned())].into_iter().chain(peer.env("okta")).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = start_with(&db.url, &public, ports[0], &env).await;
    let b = start_with(&db.url, &public, ports[1], &env).await;

    let mut owner = portcullis_api::Client::new(&a.base).unwrap();
    owner.login_local(OWNER, OWNER_PASSWORD).await.unwrap();
    let scim = Scim::new(&owner, "Okta").await;
    // The peer's `bob` (subject "bob"), provisioned before he ever signed in.
    let (s, bob) = scim.post("/Users", json!({ "userName": "bob@example.test", "externalId": "bob", "displayName": "Bob Member" })).await;
    assert_eq!(s, 201, "{bob}");
    let scim_id = bob["id"].as_str().unwrap().to_owned();
    let provisioned = owner.members().await.unwrap().into_iter().find(|m| m.user.email == "bob@example.test").unwrap();
    let group = if granting_group {
        let (s, g) = scim.post("/Groups", json!({ "displayName": "Factory Users", "members": [{ "value": scim_id }] })).await;
        assert_eq!(s, 201, "{g}");
        let version = owner.group_rules().await.unwrap().version;
        let rule = GroupRuleInfo { source: "scim_group".into(), claim: None, match_: "exact".into(), pattern: "Factory Users".into(), role: RoleRef { kind: Some("member".into()), ..Default::default() } };
        owner.put_group_rules(&PutGroupRules { enabled: true, rules: vec![rule], no_match: NoMatchInfo { action: "refuse".into(), role: None }, version }).await.unwrap();
        Some(g["id"].as_str().unwrap().to_owned())
    } else {
        None
    };

    // His first sign-in links to the provisioned account.
    let mut browser = Browser::new();
    assert_eq!(sign_in(&mut browser, &a.base, "okta", "bob").await.status(), 303);
    let (s, me) = browser.me(&a.base).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["user"]["id"], provisioned.user.id.to_string(), "linked by subject = externalId, no second account");
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let cookie = format!("portcullis_session={}", browser_cookie(&browser));

    // A bearer token from the IdP (the platform CLI's device login at Okta).
    let idp_token = peer.device_login("okta", "okta-cli", "bob", "").await["access_token"].as_str().unwrap().to_owned();
    // A CLI login at Portcullis's own authorization server, approved in his session.
    let http = reqwest::Client::new();
    let auth: serde_json::Value = http.post(format!("{}/oauth2/device_authorization", a.base)).form(&[("client_id", "portcullis-cli"), ("scope", "openid profile email")]).send().await.unwrap().json().await.unwrap();
    let approve = browser.post_form(&format!("{}/device", a.base), &[("csrf_token", csrf.as_str()), ("user_code", auth["user_code"].as_str().unwrap()), ("decision", "approve")], Some(&public)).await;
    assert!(approve.status().is_success() || approve.status().is_redirection(), "device approval: {}", approve.status());
    let cli: serde_json::Value = http
        .post(format!("{}/oauth2/token", a.base))
        .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", auth["device_code"].as_str().unwrap()), ("client_id", "portcullis-cli")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cli_token = cli["access_token"].as_str().unwrap_or_else(|| panic!("{cli}")).to_owned();
    let s = Signed { a, b, _peer: peer, db, owner, scim, scim_id, bob: provisioned.user.id, cookie, idp_token, cli_token };
    s.all_accepted().await;
    Some((s, group))
}

impl Signed {
    async fn all_accepted(&self) {
        for r in [&self.a, &self.b] {
            let me = format!("{}/api/v1/me", r.base);
            assert_eq!(status(me.clone(), None, Some(&self.cookie)).await, 200, "session on {}", r.base);
            assert_eq!(status(me.clone(), Some(&self.idp_token), None).await, 200, "IdP token on {}", r.base);
            assert_eq!(status(me, Some(&self.cli_token), None).await, 200, "CLI login on {}", r.base);
        }
    }

    /// The session, the CLI login and the IdP token are refused on both
    /// replicas within a second of `since`.
    async fn all_refused_within_a_second(&self, since: Instant) {
        for r in [&self.a, &self.b] {
            let me = format!("{}/api/v1/me", r.base);
            let took = until(since, "session refused", async || status(me.clone(), None, Some(&self.cookie)).await == 401).await;
            assert!(took < Duration::from_secs(1), "session on {}: {took:?}", r.base);
            let took = until(since, "CLI login refused", async || status(me.clone(), Some(&self.cli_token), None).await == 401).await;
            assert!(took < Duration::from_secs(1), "CLI login on {}: {took:?}", r.base);
            // The IdP token is still valid at the IdP; Portcullis no longer
            // lets it into the organization.
            let orgs = format!("{}/crewai_plus/api/v1/me/organizations", r.base);
            let took = until(since, "IdP token refused", async || {
                let resp = reqwest::Client::new().get(orgs.clone()).bearer_auth(&self.idp_token).send().await.unwrap();
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                body.as_array().is_some_and(|a| a.is_empty()) || body.get("error").is_some()
            })
            .await;
            assert!(took < Duration::from_secs(1), "IdP token on {}: {took:?}", r.base);
        }
    }

    async fn is_member(&self) -> bool {
        self.owner.members().await.unwrap().iter().any(|m| m.user.id == self.bob)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_over_scim_ends_session_bearer_token_and_cli_login_on_every_replica() {
    let Some((s, _)) = signed_in(false).await else { return };
    // Okta unassigns him.
    let since = Instant::now();
    let (st, off) = s.scim.patch(&format!("/Users/{}", s.scim_id), json!([{ "op": "replace", "value": { "active": false } }])).await;
    assert_eq!(st, 200, "{off}");
    s.all_refused_within_a_second(since).await;
    // Signing in again is refused with the troubleshooting page (the IdP
    // sends him back to the public URL, replica A's).
    let mut again = Browser::new();
    let resp = sign_in(&mut again, &s.a.base, "okta", "bob").await;
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("deactivated"));
    // His audit history stays; reactivation restores the membership, not the sessions.
    let (st, _) = s.scim.patch(&format!("/Users/{}", s.scim_id), json!([{ "op": "replace", "path": "active", "value": true }])).await;
    assert_eq!(st, 200);
    assert!(s.is_member().await);
    assert_eq!(status(format!("{}/api/v1/me", s.b.base), None, Some(&s.cookie)).await, 401);
    let Signed { a, b, db, .. } = s;
    drop((a, b));
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_from_the_last_granting_group_ends_access_on_every_replica() {
    let Some((s, Some(group))) = signed_in(true).await else { return };
    // Leaving a group no rule names changes nothing.
    let (st, other) = s.scim.post("/Groups", json!({ "displayName": "Book Club", "members": [{ "value": s.scim_id }] })).await;
    assert_eq!(st, 201, "{other}");
    let (st, _) = s.scim.delete(&format!("/Groups/{}", other["id"].as_str().unwrap())).await;
    assert_eq!(st, 204);
    s.all_accepted().await;

    // Okta removes him from Factory Users (its PATCH with a filtered path).
    let since = Instant::now();
    let (st, g) = s.scim.patch(&format!("/Groups/{group}"), json!([{ "op": "remove", "path": format!("members[value eq \"{}\"]", s.scim_id) }])).await;
    assert_eq!(st, 200, "{g}");
    s.all_refused_within_a_second(since).await;
    assert!(!s.is_member().await);
    // His SCIM account stays active; signing in again is refused by the rules.
    let (_, user) = s.scim.get(&format!("/Users/{}", s.scim_id)).await;
    assert_eq!(user["active"], true, "{user}");
    let mut again = Browser::new();
    let resp = sign_in(&mut again, &s.a.base, "okta", "bob").await;
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("no group rule gives you a role"));

    // Added back: the membership returns at once, the ended sessions do not.
    let (st, g) = s.scim.patch(&format!("/Groups/{group}"), json!([{ "op": "add", "path": "members", "value": [{ "value": s.scim_id }] }])).await;
    assert_eq!(st, 200, "{g}");
    assert!(s.is_member().await);
    assert_eq!(status(format!("{}/api/v1/me", s.b.base), None, Some(&s.cookie)).await, 401);
    let Signed { a, b, db, .. } = s;
    drop((a, b));
    db.cleanup().await;
}

fn browser_cookie(b: &Browser) -> String {
    b.cookie("portcullis_session").expect("a session cookie")
}
