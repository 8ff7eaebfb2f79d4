//! The `local` provider as an authorization server (RFC 8628 device grant,
//! refresh-token rotation with reuse detection, RFC 7009 revocation, keys
//! in the database shared by replicas), over HTTP against a real server.
//! The server's clock is a manual one, so intervals and expiry are tested
//! without sleeping.


use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use crate::support::{each_backend, Db, Options, TestServer};

const CLIENT: &str = "portcullis-cli";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn post_form(srv: &TestServer, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = reqwest::Client::new().post(srv.url(path)).form(form).send().await.unwrap();
    let status = resp.status();
    assert_eq!(resp.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn start_device(srv: &TestServer) -> Value {
    let (status, body) = post_form(srv, "/oauth2/device_authorization", &[("client_id", CLIENT), ("scope", "openid profile email")]).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn poll(srv: &TestServer, device_code: &str) -> (StatusCode, Value) {
    post_form(srv, "/oauth2/token", &[("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", CLIENT)]).await
}

async fn refresh(srv: &TestServer, token: &str) -> (StatusCode, Value) {
    post_form(srv, "/oauth2/token", &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", CLIENT)]).await
}

fn claims(jwt: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(i).unwrap()).unwrap()).unwrap()
    };
    (part(0), part(1))
}

async fn me_with(srv: &TestServer, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(srv.url("/api/v1/me")).bearer_auth(token).send().await.unwrap()
}

/// A device login approved by the bootstrap owner; returns the token answer.
async fn login(srv: &TestServer) -> Value {
    let d = start_device(srv).await;
    let owner = srv.owner().await;
    owner.decide_device(d["user_code"].as_str().unwrap(), true).await.unwrap();
    srv.clock.advance(Duration::from_secs(5));
    let (status, tokens) = poll(srv, d["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_parameters_and_keys_describe_the_workos_layout() {
    let srv = TestServer::start(Db::Sqlite).await.unwrap();
    let params: Value = reqwest::get(srv.url("/auth/parameters")).await.unwrap().json().await.unwrap();
    let domain = srv.base.strip_prefix("http://").unwrap();
    assert_eq!(params, serde_json::json!({
        "provider": "workos", "domain": domain, "device_authorization_client_id": CLIENT,
        "audience": format!("{}/api", srv.base), "extra": {},
    }));
    let meta: Value = reqwest::get(srv.url("/.well-known/openid-configuration")).await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], srv.base, "the WorkOS layout's issuer is https://{{domain}}");
    assert_eq!(meta["device_authorization_endpoint"], srv.url("/oauth2/device_authorization"));
    assert_eq!(meta["token_endpoint"], srv.url("/oauth2/token"));
    assert_eq!(meta["jwks_uri"], srv.url("/oauth2/jwks"));
    assert_eq!(meta["revocation_endpoint"], srv.url("/oauth2/revoke"));
    let rfc8414: Value = reqwest::get(srv.url("/.well-known/oauth-authorization-server")).await.unwrap().json().await.unwrap();
    assert_eq!(rfc8414, meta);
    let jwks: Value = reqwest::get(srv.url("/oauth2/jwks")).await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0]["kty"].as_str(), keys[0]["alg"].as_str(), keys[0]["use"].as_str()), (Some("RSA"), Some("RS256"), Some("sig")));
    assert!(keys[0].get("d").is_none() && keys[0].get("p").is_none(), "no private part is published");
    // The key is in the database, so a restart (or another replica) keeps it.
    let again = TestServer::on_database(portcullis_storage::testing::TestDb::handle(&srv.db), Options::default()).await;
    let jwks2: Value = reqwest::get(again.url("/oauth2/jwks")).await.unwrap().json().await.unwrap();
    assert_eq!(jwks2["keys"][0]["kid"], keys[0]["kid"]);
}

each_backend!(device_grant_follows_rfc_8628, |srv| async move {
    let d = start_device(&srv).await;
    let code = d["user_code"].as_str().unwrap();
    assert!(regex_like_user_code(code), "{code}");
    assert_eq!(d["expires_in"], 600);
    assert_eq!(d["interval"], 5);
    assert_eq!(d["verification_uri"], srv.url("/device"));
    assert_eq!(d["verification_uri_complete"], srv.url(&format!("/device?user_code={code}")));
    let dc = d["device_code"].as_str().unwrap();

    // Pending; polling again at once is told to slow down (+5 s, kept).
    let (s, b) = poll(&srv, dc).await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::BAD_REQUEST, Some("authorization_pending")));
    let (_, b) = poll(&srv, dc).await;
    assert_eq!(b["error"], "slow_down", "{b}");
    srv.clock.advance(Duration::from_secs(6));
    let (_, b) = poll(&srv, dc).await;
    assert_eq!(b["error"], "slow_down", "6 s is too soon once the interval is 10 s: {b}");
    srv.clock.advance(Duration::from_secs(15));
    let (_, b) = poll(&srv, dc).await;
    assert_eq!(b["error"], "authorization_pending", "{b}");

    // The owner approves on /device; the next poll gets the tokens, once.
    let owner = srv.owner().await;
    owner.decide_device(&code.to_lowercase().replace('-', " "), true).await.unwrap();
    srv.clock.advance(Duration::from_secs(20));
    let (s, tokens) = poll(&srv, dc).await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);
    let (h, c) = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!((h["alg"].as_str(), h["typ"].as_str()), (Some("RS256"), Some("at+jwt")));
    assert_eq!(c["iss"], srv.base);
    assert_eq!(c["aud"], srv.url("/api"));
    assert_eq!(c["client_id"], CLIENT);
    assert_eq!(c["email"], crate::support::ADMIN_EMAIL);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    let (_, idc) = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(idc["aud"], CLIENT);
    srv.clock.advance(Duration::from_secs(20));
    let (_, again) = poll(&srv, dc).await;
    assert_eq!(again["error"], "invalid_grant", "tokens are issued once: {again}");

    // The access token works on the API, as the owner.
    let resp = me_with(&srv, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["user"]["email"], crate::support::ADMIN_EMAIL);
    assert_eq!(me["session"]["provider"], "local");
    // An ID token is not an access token.
    let resp = me_with(&srv, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().contains("not an access token"));
});

fn regex_like_user_code(c: &str) -> bool {
    c.len() == 9 && c.as_bytes()[4] == b'-' && c.chars().filter(|&ch| ch != '-').all(|ch| "BCDFGHJKLMNPQRSTVWXZ".contains(ch))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_expired_and_foreign_requests_are_refused_with_their_rfc_errors() {
    let srv = TestServer::start(Db::Sqlite).await.unwrap();
    let owner = srv.owner().await;
    // Denied.
    let d = start_device(&srv).await;
    owner.decide_device(d["user_code"].as_str().unwrap(), false).await.unwrap();
    let (_, b) = poll(&srv, d["device_code"].as_str().unwrap()).await;
    assert_eq!(b["error"], "access_denied");
    // A decided code cannot be decided again.
    assert!(owner.decide_device(d["user_code"].as_str().unwrap(), true).await.is_err());
    // Expired after 10 minutes, even if approved too late.
    let d = start_device(&srv).await;
    srv.clock.advance(Duration::from_secs(601));
    assert!(owner.decide_device(d["user_code"].as_str().unwrap(), true).await.is_err());
    let (_, b) = poll(&srv, d["device_code"].as_str().unwrap()).await;
    assert_eq!(b["error"], "expired_token", "{b}");
    // Unknown codes, other clients, other grants, other audiences and scopes.
    let (_, b) = poll(&srv, "made-up").await;
    assert_eq!(b["error"], "invalid_grant");
    let (s, b) = post_form(&srv, "/oauth2/device_authorization", &[("client_id", "someone-else")]).await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert!(b["error_description"].as_str().unwrap().contains("enterprise configure"));
    let (_, b) = post_form(&srv, "/oauth2/device_authorization", &[("client_id", CLIENT), ("audience", "https://elsewhere/api")]).await;
    assert_eq!(b["error"], "invalid_target");
    let (_, b) = post_form(&srv, "/oauth2/device_authorization", &[("client_id", CLIENT), ("scope", "openid admin")]).await;
    assert_eq!(b["error"], "invalid_scope");
    let (_, b) = post_form(&srv, "/oauth2/token", &[("grant_type", "password"), ("client_id", CLIENT)]).await;
    assert_eq!(b["error"], "unsupported_grant_type");
    let (_, b) = post_form(&srv, "/oauth2/token", &[("grant_type", "refresh_token"), ("client_id", CLIENT), ("client_id", CLIENT)]).await;
    assert_eq!(b["error"], "invalid_request", "a repeated parameter is refused: {b}");
    let resp = reqwest::Client::new().post(srv.url("/oauth2/token")).json(&serde_json::json!({"grant_type": "refresh_token"})).send().await.unwrap();
    assert_eq!(resp.status(), 400, "JSON bodies are refused (RFC 6749 wants a form)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_page_needs_a_session_a_form_token_and_limits_guessing() {
    let srv = TestServer::start(Db::Sqlite).await.unwrap();
    let d = start_device(&srv).await;
    let code = d["user_code"].as_str().unwrap();
    // Not signed in: to the sign-in page, coming back to the same code.
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = anon.get(srv.url(&format!("/device?user_code={code}"))).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let to = resp.headers()["location"].to_str().unwrap();
    assert_eq!(to, format!("/auth/login?return_to=%2Fdevice%3Fuser_code%3D{}", code));
    // Signed in: the page shows the code and who would be signed in.
    let owner = srv.owner().await;
    let page = owner.http().get(srv.url(&format!("/device?user_code={code}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(code) && page.contains(crate::support::ADMIN_EMAIL) && page.contains("portcullis-cli"), "{page}");
    // Without the form token, or from another site: refused, nothing decided.
    let resp = owner.http().post(srv.url("/device")).form(&[("user_code", code), ("decision", "approve")]).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let token = owner.csrf_token().unwrap().to_owned();
    let resp = owner
        .http()
        .post(srv.url("/device"))
        .header("origin", "https://evil.example")
        .form(&[("user_code", code), ("decision", "approve"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let (_, b) = poll(&srv, d["device_code"].as_str().unwrap()).await;
    assert_eq!(b["error"], "authorization_pending");
    // A malformed code is explained; ten wrong ones lock the account out for a while.
    let page = owner.http().get(srv.url("/device?user_code=ABCD-EFGH")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("cannot be in a code"), "{page}");
    for i in 0..10 {
        let resp = owner.http().get(srv.url("/device?user_code=BBBB-BBBB")).send().await.unwrap();
        assert_eq!(resp.status(), 404, "wrong code {i}");
    }
    let resp = owner.http().get(srv.url(&format!("/device?user_code={code}"))).send().await.unwrap();
    assert_eq!(resp.status(), 429, "even the right code waits once the limit is reached");
}

each_backend!(refresh_tokens_rotate_and_a_reused_one_ends_the_login, |srv| async move {
    let first = login(&srv).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (s, second) = refresh(&srv, r1).await;
    assert_eq!(s, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2, "rotated");
    let (_, c1) = claims(first["access_token"].as_str().unwrap());
    let (_, c2) = claims(second["access_token"].as_str().unwrap());
    assert_eq!(c1["sid"], c2["sid"], "one login");
    assert_eq!(me_with(&srv, second["access_token"].as_str().unwrap()).await.status(), 200);
    // r1 again: someone has a copy. The whole login ends, r2 and its access token too.
    let (_, b) = refresh(&srv, r1).await;
    assert_eq!(b["error"], "invalid_grant");
    assert!(b["error_description"].as_str().unwrap().contains("used before"), "{b}");
    let (_, b) = refresh(&srv, r2).await;
    assert_eq!(b["error"], "invalid_grant");
    let resp = me_with(&srv, second["access_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().contains("login was ended"));
    // The reuse is in the audit log.
    let owner = srv.owner().await;
    let log: Value = owner.http().get(srv.url("/api/v1/audit?action=oauth.refresh_reuse")).send().await.unwrap().json().await.unwrap();
    assert!(log.to_string().contains("oauth.refresh_reuse"), "{log}");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revocation_disabling_and_expiry_end_access() {
    let srv = TestServer::start(Db::Sqlite).await.unwrap();
    // RFC 7009: the refresh token ends the login; its access token stops at once.
    let t = login(&srv).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(me_with(&srv, access).await.status(), 200);
    let (s, _) = post_form(&srv, "/oauth2/revoke", &[("token", t["refresh_token"].as_str().unwrap()), ("client_id", CLIENT), ("token_type_hint", "refresh_token")]).await;
    assert_eq!(s, 200);
    assert_eq!(me_with(&srv, access).await.status(), 401);
    assert_eq!(refresh(&srv, t["refresh_token"].as_str().unwrap()).await.1["error"], "invalid_grant");
    let (s, _) = post_form(&srv, "/oauth2/revoke", &[("token", "never-issued"), ("client_id", CLIENT)]).await;
    assert_eq!(s, 200, "unknown tokens are not distinguished (RFC 7009 §2.2)");

    // An access token expires (60 s of leeway), then the refresh token renews it.
    let t = login(&srv).await;
    srv.clock.advance(Duration::from_secs(600 + 61));
    let resp = me_with(&srv, t["access_token"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().contains("expired"));
    let (s, renewed) = refresh(&srv, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(me_with(&srv, renewed["access_token"].as_str().unwrap()).await.status(), 200);

    // Revoking a user's sessions ends their CLI logins too.
    let owner = srv.owner().await;
    let me = owner.clone().me().await.unwrap();
    owner.revoke_user_sessions(me.user.id).await.unwrap();
    assert_eq!(me_with(&srv, renewed["access_token"].as_str().unwrap()).await.status(), 401);
    assert_eq!(refresh(&srv, renewed["refresh_token"].as_str().unwrap()).await.1["error"], "invalid_grant");
}

each_backend!(signing_keys_rotate_and_replicas_share_them, |srv| async move {
    let t1 = login(&srv).await;
    let kid1 = claims(t1["access_token"].as_str().unwrap()).0["kid"].as_str().unwrap().to_owned();
    // Replicas behind one public URL (the issuer).
    let opts = Options { extra_env: vec![("PORTCULLIS_PUBLIC_URL", srv.base.clone())], ..Options::default() };
    let replica = TestServer::on_database(portcullis_storage::testing::TestDb::handle(&srv.db), opts).await;
    replica.clock.set(srv.now());
    assert_eq!(me_with(&replica, t1["access_token"].as_str().unwrap()).await.status(), 200, "a token from one replica works on another");

    let publish = portcullis_server::authserver::publish_retired_for(&srv.state.config.local_auth);
    let kid2 = srv.state.oauth.keys.rotate(portcullis_server::authserver::key_storage(&srv.state), publish).await.unwrap();
    assert_ne!(kid1, kid2);
    let jwks: Value = reqwest::get(srv.url("/oauth2/jwks")).await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [kid2.as_str(), kid1.as_str()], "the retired key stays published");
    // New tokens carry the new key; the other replica learns it on first sight.
    let t2 = login(&srv).await;
    assert_eq!(claims(t2["access_token"].as_str().unwrap()).0["kid"], kid2.as_str());
    assert_eq!(me_with(&replica, t2["access_token"].as_str().unwrap()).await.status(), 200);
    // Tokens of the old key keep working until they expire.
    srv.state.bearer.tokens.clear();
    assert_eq!(me_with(&srv, t1["access_token"].as_str().unwrap()).await.status(), 200);
});

// Security review item 5: `POST /device` counts wrong codes as `GET`
// does (one limit for both, RFC 8628 §5.1), per session, account and
// address, held in the database: parallel posts and a second replica
// share it.
each_backend!(wrong_codes_posted_are_limited_like_those_looked_up, |srv| async move {
    let d = start_device(&srv).await;
    let code = d["user_code"].as_str().unwrap().to_owned();
    let owner = srv.owner().await;
    let token = owner.csrf_token().unwrap().to_owned();
    let post = |c: &str| owner.http().post(srv.url("/device")).form(&[("user_code", c), ("decision", "approve"), ("csrf_token", token.as_str())]).send();
    // Ten parallel wrong posts and one more: never more than ten answered as lookups.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let f = owner.http().post(srv.url("/device")).form(&[("user_code", "BBBB-BBBB".to_owned()), ("decision", "approve".into()), ("csrf_token", token.clone())]).send();
        tasks.push(tokio::spawn(f));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().unwrap().status().as_u16());
    }
    let mut wrong = statuses.iter().filter(|s| **s == 404).count();
    assert!(wrong <= 10 && statuses.iter().all(|s| *s == 404 || *s == 429), "{statuses:?}");
    // Under contention a few more may be refused (each counts on three
    // keys); one by one, exactly ten wrong codes are looked up in all.
    loop {
        match post("BBBB-BBBB").await.unwrap().status().as_u16() {
            404 => wrong += 1,
            429 => break,
            other => panic!("{other}"),
        }
    }
    assert_eq!(wrong, 10, "{statuses:?}");
    // The right code waits too now, posted or looked up.
    let resp = post(&code).await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(owner.http().get(srv.url(&format!("/device?user_code={code}"))).send().await.unwrap().status(), 429);
    let (_, b) = poll(&srv, d["device_code"].as_str().unwrap()).await;
    assert_eq!(b["error"], "authorization_pending", "nothing was approved");

    // Another session of another account from the same address, on a second replica of
    // the same database: the address is over its limit there too.
    let replica = TestServer::on_database(portcullis_storage::testing::TestDb::handle(&srv.db), Options { bootstrap_admin: false, ..Options::default() }).await;
    let mut other = replica.client();
    let member = owner
        .create_user(&portcullis_api::CreateUser { email: "second@example.com".into(), display_name: None, password: Some("another long password".into()), role_id: None })
        .await;
    assert!(member.is_ok(), "{member:?}");
    other.login_local("second@example.com", "another long password").await.unwrap();
    let resp = other.http().get(replica.url(&format!("/device?user_code={code}"))).send().await.unwrap();
    assert_eq!(resp.status(), 429, "the address's limit holds on every replica");

    // Once the window has passed, a right code is accepted again.
    srv.clock.advance(std::time::Duration::from_secs(601));
    let fresh = start_device(&srv).await;
    let resp = post(fresh["user_code"].as_str().unwrap()).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
});

each_backend!(my_cli_logins_are_listed_and_ended_through_the_api, |srv| async move {
    let first = login(&srv).await;
    let second = login(&srv).await;
    let owner = srv.owner().await;
    let logins = owner.cli_logins().await.unwrap();
    assert_eq!(logins.len(), 2, "{logins:?}");
    assert!(logins.iter().all(|l| l.client_id == CLIENT));
    // The access token names its login (`sid`): that is the one to end.
    let (_, first_claims) = claims(first["access_token"].as_str().unwrap());
    let target = first_claims["sid"].as_str().unwrap().to_owned();
    assert!(logins.iter().any(|l| l.id == target), "{logins:?}");
    // Another account sees none of them and cannot end them.
    owner
        .create_user(&portcullis_api::CreateUser { email: "other@example.com".into(), display_name: None, password: Some("other passphrase 1".into()), role_id: None })
        .await
        .unwrap();
    let mut other = srv.client();
    other.login_local("other@example.com", "other passphrase 1").await.unwrap();
    assert!(other.cli_logins().await.unwrap().is_empty());
    assert_eq!(other.end_cli_login(&target).await.unwrap_err().status().map(|s| s.as_u16()), Some(404));
    // Ending one stops its access and refresh tokens at once; the other works on.
    owner.end_cli_login(&target).await.unwrap();
    assert_eq!(owner.cli_logins().await.unwrap().len(), 1);
    assert_eq!(me_with(&srv, first["access_token"].as_str().unwrap()).await.status(), 401);
    assert_eq!(me_with(&srv, second["access_token"].as_str().unwrap()).await.status(), 200);
    assert_eq!(refresh(&srv, first["refresh_token"].as_str().unwrap()).await.0, 400);
    assert_eq!(refresh(&srv, second["refresh_token"].as_str().unwrap()).await.0, 200);
    // Ended once.
    assert_eq!(owner.end_cli_login(&target).await.unwrap_err().status().map(|s| s.as_u16()), Some(404));
});
