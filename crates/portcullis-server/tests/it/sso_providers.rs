//! Browser sign-in through a real OpenID provider (`oidc-provider`, npm)
//! serving each vendor's URL layout: one full sign-in per adapter, roles
//! mapped from each vendor's own claim, sign-out at the IdP ending the
//! Portcullis session over the back channel, and RP-initiated logout.


use crate::support::browser::{location, Browser};
use crate::support::oidc_peer::{hidden, sign_in, OidcPeer};
use crate::support::{Db, Options, TestServer};

const ALL: [&str; 5] = ["okta", "keycloak", "entra_id", "auth0", "workos"];

/// Portcullis with every provider (and local sign-in) on, and the peer.
async fn setup(db: Db) -> Option<(OidcPeer, TestServer)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let rp = format!("http://{}", listener.local_addr().unwrap());
    let peer = OidcPeer::start(&rp).await;
    let mut env = vec![("PORTCULLIS_AUTH_PROVIDERS", "okta,keycloak,entra_id,auth0,workos,local".to_owned())];
    for p in ALL {
        env.extend(peer.env(p));
    }
    let srv = TestServer::start_with(db, Options { bootstrap_admin: true, extra_env: env, listener: Some(listener) }).await?;
    Some((peer, srv))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vendor_layout_signs_in_with_its_roles() {
    let (_peer, srv) = setup(Db::Sqlite).await.unwrap();
    // The chooser offers every way in.
    let mut b = Browser::new();
    let page = b.get(&srv.url("/auth/login")).await.text().await.unwrap();
    for label in ["Okta", "Keycloak", "Microsoft Entra ID", "Auth0", "WorkOS", "Portcullis password"] {
        assert!(page.contains(label), "chooser lacks {label}");
    }
    // Discovery runs in the background at start; ready once every provider is read.
    let ready = srv.wait_ready().await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["providers"]["okta"], "ok", "{ready}");

    for provider in ALL {
        // alice has member + factory-admin in every IdP, in each vendor's own claim.
        let mut b = Browser::new();
        let resp = sign_in(&mut b, &srv.base, provider, "alice").await;
        let status = resp.status();
        assert_eq!(status, 303, "{provider}: {}", resp.text().await.unwrap());
        assert_eq!(location(&resp), "/welcome");
        let (status, me) = b.me(&srv.base).await;
        assert_eq!(status, 200, "{provider}: {me}");
        assert_eq!(me["user"]["email"], "alice@example.test", "{provider}: {me}");
        assert_eq!(me["user"]["display_name"], "Alice Admin", "{provider}");
        assert_eq!(me["user"]["factory_admin"], true, "{provider}: factory-admin from the IdP");
        assert_eq!(me["session"]["provider"], provider);
        let default_org = me["organizations"].as_array().unwrap().iter().find(|o| o["name"] == "Default").unwrap();
        assert_eq!(default_org["role"]["name"], "Owner", "{provider}: factory-admin maps to Owner");

        // bob is a member only.
        let mut b = Browser::new();
        assert_eq!(sign_in(&mut b, &srv.base, provider, "bob").await.status(), 303, "{provider}");
        let (_, me) = b.me(&srv.base).await;
        assert_eq!(me["user"]["factory_admin"], false, "{provider}");
        assert_eq!(me["organizations"][0]["role"]["name"], "Member", "{provider}: {me}");
    }
    // One account per issuer + subject: alice and bob at five providers.
    assert_eq!(srv.state.store.count_users().await.unwrap(), 1 + 10);

    // carol has no role: Entra ID requires one by default ("Assignment
    // required"), the others let her in as a plain member.
    let mut b = Browser::new();
    let resp = sign_in(&mut b, &srv.base, "entra_id", "carol").await;
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("not assigned to this application"));
    assert!(!b.has_session());
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv.base, "okta", "carol").await.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_at_the_idp_ends_the_session_over_the_back_channel() {
    let Some((peer, srv)) = setup(Db::Postgres).await else { return };
    let keep = portcullis_storage::testing::TestDb::handle(&srv.db);
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv.base, "okta", "alice").await.status(), 303);
    assert_eq!(b.me(&srv.base).await.0, 200);
    // The user signs out at Okta directly (another application's sign-out).
    let end_session = format!("http://127.0.0.1:{}/oauth2/default/v1/logout", peer.port("okta"));
    let page = b.get(&end_session).await.text().await.unwrap();
    let xsrf = hidden(&page, "xsrf");
    let resp = b.post_form(&format!("{end_session}/confirm"), &[("xsrf", &xsrf), ("logout", "yes")], None).await;
    assert!(resp.status().is_redirection(), "{}", resp.status());
    // The IdP has delivered the logout token before answering.
    let mut ended = false;
    for _ in 0..50 {
        if b.me(&srv.base).await.0 == 401 {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "the back-channel logout ended the Portcullis session");
    keep.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_of_portcullis_continues_to_the_idp() {
    let (peer, srv) = setup(Db::Sqlite).await.unwrap();
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv.base, "keycloak", "bob").await.status(), 303);
    let (_, me) = b.me(&srv.base).await;
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let resp = b.post_form(&srv.url("/auth/logout"), &[("csrf_token", &csrf)], Some(&srv.base)).await;
    assert_eq!(resp.status(), 200);
    let refresh = resp.headers().get("refresh").unwrap().to_str().unwrap().to_owned();
    let url = refresh.trim_start_matches("0;url=").to_owned();
    let end_session = format!("http://127.0.0.1:{}/realms/factory/protocol/openid-connect/logout", peer.port("keycloak"));
    assert!(url.starts_with(&end_session), "{url}");
    assert!(url.contains("id_token_hint=") && url.contains("post_logout_redirect_uri="), "{url}");
    assert_eq!(b.me(&srv.base).await.0, 401, "the Portcullis session ended first");
    // At the IdP: confirm, and come back to the signed-out page.
    let page = b.get(&url).await.text().await.unwrap();
    let xsrf = hidden(&page, "xsrf");
    let resp = b.post_form(&format!("{end_session}/confirm"), &[("xsrf", &xsrf), ("logout", "yes")], None).await;
    let back = location(&resp);
    assert!(back.starts_with(&srv.url("/auth/logged-out")), "{back}");
    assert!(b.get(&back).await.text().await.unwrap().contains("You are signed out"));
}

/// The identity provider goes down: whoever is signed in keeps working (the
/// browser session, and the CLI's token verified before), and a sign-in in
/// flight ends on the troubleshooting page, not a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_idp_down_sessions_keep_working_and_sign_ins_get_the_troubleshooting_page() {
    let (peer, srv) = setup(Db::Sqlite).await.unwrap();
    let mut signed_in = Browser::new();
    assert_eq!(sign_in(&mut signed_in, &srv.base, "okta", "alice").await.status(), 303);
    let token = peer.device_login("okta", "okta-cli", "alice", "").await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    let bearer = |access: String| {
        let url = srv.url("/api/v1/me");
        async move { reqwest::Client::new().get(url).bearer_auth(access).send().await.unwrap().status() }
    };
    assert_eq!(bearer(access.clone()).await, 200);

    // Someone else is half-way: the IdP sent them back with a code.
    let mut arriving = Browser::new();
    let resp = arriving.get(&srv.url("/auth/okta/login?return_to=/welcome")).await;
    let interaction = arriving.follow_until(location(&resp), "never").await.err().unwrap();
    let form_url = interaction.url().to_string();
    let resp = arriving.post_form(&format!("{form_url}/login"), &[("login", "bob"), ("password", "any")], None).await;
    let next = url::Url::parse(&form_url).unwrap().join(&location(&resp)).unwrap().to_string();
    let callback = arriving.follow_until(next, &srv.url("/auth/okta/callback")).await.unwrap_or_else(|_| panic!("no callback"));

    drop(peer);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let (status, me) = signed_in.me(&srv.base).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], "alice@example.test");
    assert_eq!(bearer(access).await, 200, "the CLI's token, verified before, still works");
    let resp = arriving.get(&callback).await;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 424, "the troubleshooting page, not a 5xx: {body}");
    assert!(body.contains("The identity provider cannot be reached") && body.contains("/readyz"), "{body}");
    assert!(!arriving.has_session());
    // A new sign-in still goes to the IdP (known since discovery); the
    // browser, not Portcullis, finds it down.
    assert_eq!(arriving.get(&srv.url("/auth/okta/login")).await.status(), 303);
}
