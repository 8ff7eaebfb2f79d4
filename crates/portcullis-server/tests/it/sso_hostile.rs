//! The browser sign-in against a provider that misbehaves on purpose: every
//! forged, mis-addressed or replayed answer is refused with no session, and
//! the legitimate surprises (a signing-key rotation, a key without `kid`)
//! are accepted.


use crate::support::browser::{location, Browser};
use crate::support::hostile_idp::{HostileIdp, Mode};
use crate::support::{Db, Options, TestServer};

async fn setup(mode: Mode) -> (HostileIdp, TestServer) {
    let idp = HostileIdp::start(mode).await;
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: idp.env(), listener: None }).await.unwrap();
    (idp, srv)
}

/// Starts a sign-in; returns the callback URL the IdP sent the browser to.
async fn to_callback(b: &mut Browser, srv: &TestServer, return_to: &str) -> String {
    let resp = b.get(&srv.url(&format!("/auth/okta/login?return_to={}", urlencode(return_to)))).await;
    assert_eq!(resp.status(), 303, "login redirects to the IdP");
    let authorize = location(&resp);
    assert!(authorize.contains("code_challenge_method=S256") && authorize.contains("nonce=") && authorize.contains("state="), "{authorize}");
    b.follow_until(authorize, &srv.url("/auth/okta/callback")).await.unwrap_or_else(|_| panic!("the IdP did not redirect back"))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Signs in; returns the callback response.
async fn sign_in(b: &mut Browser, srv: &TestServer) -> reqwest::Response {
    let cb = to_callback(b, srv, "/").await;
    b.get(&cb).await
}

async fn refused(mode: Mode, expect_status: u16, expect_text: &str) {
    let (_idp, srv) = setup(mode).await;
    let mut b = Browser::new();
    let resp = sign_in(&mut b, &srv).await;
    let status = resp.status().as_u16();
    let rid = resp.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    let body = resp.text().await.unwrap();
    assert_eq!(status, expect_status, "{mode:?}: {body}");
    assert!(body.contains(expect_text), "{mode:?}: page should say `{expect_text}`: {body}");
    assert!(body.contains(&rid), "the page carries the request id");
    assert!(!body.contains("code-"), "no code in the page");
    assert!(!b.has_session(), "{mode:?}: no session");
    assert_eq!(b.me(&srv.base).await.0, 401);
    assert_eq!(srv.state.store.count_users().await.unwrap(), 0, "{mode:?}: no account either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_provider_signs_in_and_keeps_return_to() {
    let (idp, srv) = setup(Mode::Good).await;
    let mut b = Browser::new();
    let cb = to_callback(&mut b, &srv, "/api/v1/me?x=1").await;
    let resp = b.get(&cb).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/api/v1/me?x=1");
    assert!(b.has_session());
    let (status, me) = b.me(&srv.base).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], "mallory@example.test");
    assert_eq!(me["session"]["provider"], "okta");
    // The default mapping made the IdP member a Member of the default organization.
    assert_eq!(me["organizations"][0]["role"]["name"], "Member", "{me}");
    assert_eq!(idp.with(|s| s.jwks_fetches), 1, "keys fetched once, at discovery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused() {
    refused(Mode::BadSignature, 401, "Signature verification failed").await;
    refused(Mode::AlgNone, 401, "Signature verification failed").await;
    refused(Mode::Hs256WithPublicKey, 401, "Signature verification failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misaddressed_tokens_are_refused() {
    refused(Mode::WrongIss, 401, "wrong issuer").await;
    refused(Mode::WrongAud, 401, "audience mismatch").await;
    refused(Mode::NoAud, 401, "audience mismatch").await;
    refused(Mode::NoSub, 502, "not a valid OpenID Connect response").await;
    refused(Mode::NoIat, 502, "not a valid OpenID Connect response").await;
    refused(Mode::Expired, 401, "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_for_another_sign_in_are_refused() {
    refused(Mode::NoNonce, 401, "nonce").await;
    refused(Mode::WrongNonce, 401, "nonce").await;
    refused(Mode::UserinfoOtherSubject, 401, "different user").await;
    refused(Mode::IssParamOfOther, 400, "RFC 9207").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_must_be_present_right_and_fresh() {
    let (_idp, srv) = setup(Mode::Good).await;
    // Missing.
    let mut b = Browser::new();
    let cb = to_callback(&mut b, &srv, "/").await;
    let no_state = url_without(&cb, "state");
    let resp = b.get(&no_state).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("has no state"));
    // Wrong.
    let mut b = Browser::new();
    let cb = to_callback(&mut b, &srv, "/").await;
    let resp = b.get(&url_with(&cb, "state", "forged-state")).await;
    assert_eq!(resp.status(), 400);
    assert!(!b.has_session());
    // Replayed: the same response, with the same cookie, a second time.
    let mut b = Browser::new();
    let cb = to_callback(&mut b, &srv, "/").await;
    let saved = b.jar.clone();
    assert_eq!(b.get(&cb).await.status(), 303);
    let mut replayer = Browser::new();
    replayer.jar = saved;
    let resp = replayer.get(&cb).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("already used"));
    assert!(!replayer.has_session());
    // A response that belongs to another browser's sign-in.
    let mut victim = Browser::new();
    let cb = to_callback(&mut victim, &srv, "/").await;
    let mut attacker = Browser::new();
    let resp = attacker.get(&cb).await;
    assert_eq!(resp.status(), 400);
    assert!(!attacker.has_session());
}

/// Signs one browser in, then presents its (spent) code in another
/// browser's sign-in; returns that callback's status and page.
async fn replay_code(mode: Mode) -> (u16, String) {
    let (_idp, srv) = setup(mode).await;
    let mut first = Browser::new();
    let cb1 = to_callback(&mut first, &srv, "/").await;
    let code = url::Url::parse(&cb1).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    assert_eq!(first.get(&cb1).await.status(), 303);
    let mut attacker = Browser::new();
    let cb2 = to_callback(&mut attacker, &srv, "/").await;
    let resp = attacker.get(&url_with(&cb2, "code", &code)).await;
    let status = resp.status().as_u16();
    let page = resp.text().await.unwrap();
    assert!(!attacker.has_session());
    (status, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_is_refused_even_by_a_sloppy_provider() {
    // This provider redeems codes twice and skips PKCE: the nonce still
    // ties the ID token to the sign-in that asked for it.
    let (status, page) = replay_code(Mode::Sloppy).await;
    assert_eq!(status, 401);
    assert!(page.contains("nonce"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_behaved_provider_refuses_a_replayed_code() {
    let (status, page) = replay_code(Mode::Good).await;
    assert_eq!(status, 400);
    assert!(page.contains("refused to redeem"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_to_never_leaves_the_site() {
    let (_idp, srv) = setup(Mode::Good).await;
    for evil in ["//evil.example", "https://evil.example", "/\\evil.example", "/\\/evil.example", " //evil.example", "javascript:alert(1)"] {
        let mut b = Browser::new();
        let cb = to_callback(&mut b, &srv, evil).await;
        let resp = b.get(&cb).await;
        assert_eq!(resp.status(), 303);
        assert_eq!(location(&resp), "/", "return_to {evil:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_signing_key_is_fetched_once_then_accepted() {
    let (idp, srv) = setup(Mode::Good).await;
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv).await.status(), 303);
    assert_eq!(idp.with(|s| s.jwks_fetches), 1);
    // The IdP publishes a new key and signs with it.
    idp.with(|s| {
        s.behaviour.published = vec!["k1", "k2"];
        s.behaviour.signing = "k2";
    });
    // Many sign-ins at once meet the unknown kid together: one fetch.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let base = srv.base.clone();
        let cb_prefix = srv.url("/auth/okta/callback");
        tasks.push(tokio::spawn(async move {
            let mut b = Browser::new();
            let resp = b.get(&format!("{base}/auth/okta/login")).await;
            let cb = b.follow_until(location(&resp), &cb_prefix).await.unwrap_or_else(|_| panic!("no callback"));
            b.get(&cb).await.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 303);
    }
    assert_eq!(idp.with(|s| s.jwks_fetches), 2, "one refetch for the rotation");
    // A token naming a key that does not exist is refused without another
    // fetch inside the rate limit.
    idp.with(|s| s.behaviour.mode = Mode::BadSignature);
    idp.with(|s| {
        s.behaviour.published = vec!["k2"];
    });
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv).await.status(), 401);
    assert_eq!(idp.with(|s| s.jwks_fetches), 2, "rate-limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_key_without_kid_is_accepted() {
    let (idp, srv) = setup(Mode::Good).await;
    idp.with(|s| s.behaviour.omit_kid = true);
    // Discovery may have fetched the keys with kids; force a fresh view.
    let p = srv.state.sso.get("okta").unwrap().clone();
    p.ready(&srv.state.sso.http).await.unwrap().jwks.fetch(&srv.state.sso.http).await.unwrap();
    let mut b = Browser::new();
    let resp = sign_in(&mut b, &srv).await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert!(b.has_session());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unassigned_user_is_refused_when_a_role_is_required() {
    let idp = HostileIdp::start(Mode::Good).await;
    let mut env = idp.env();
    env.push(("PORTCULLIS_REQUIRE_ROLE", "true".into()));
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: env, listener: None }).await.unwrap();
    idp.with(|s| s.behaviour.roles = vec!["engineering".into()]);
    let mut b = Browser::new();
    let resp = sign_in(&mut b, &srv).await;
    assert_eq!(resp.status(), 403);
    let body = resp.text().await.unwrap();
    assert!(body.contains("not assigned to this application") && body.contains("Member or Factory Admin"), "{body}");
    assert!(!b.has_session());
    // Given the role in the IdP, the same person gets in; as factory-admin,
    // an owner and installation admin; with it removed, that is gone at the
    // next sign-in.
    idp.with(|s| s.behaviour.roles = vec!["factory-admin".into()]);
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv).await.status(), 303);
    let (_, me) = b.me(&srv.base).await;
    assert_eq!(me["user"]["factory_admin"], true, "{me}");
    assert_eq!(me["organizations"][0]["role"]["name"], "Owner", "{me}");
    idp.with(|s| s.behaviour.roles = vec!["member".into()]);
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv).await.status(), 303);
    let (_, me) = b.me(&srv.base).await;
    assert_eq!(me["user"]["factory_admin"], false, "{me}");
    assert_eq!(srv.state.store.count_users().await.unwrap(), 1, "the same account each time (issuer + subject)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_is_named_in_readyz_and_the_page() {
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let site = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let env = vec![
        ("AUTH_PROVIDER", "okta".to_owned()),
        ("OKTA_SITE", site),
        ("OKTA_AUTHORIZATION_SERVER", "default".into()),
        ("OKTA_AUDIENCE", "api://default".into()),
        ("OKTA_CLIENT_ID", "x".into()),
        ("OKTA_CLIENT_SECRET", "y".into()),
    ];
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: env, listener: None }).await.unwrap();
    let mut b = Browser::new();
    let resp = b.get(&srv.url("/auth/okta/login")).await;
    assert_eq!(resp.status(), 424, "the troubleshooting page, not a 5xx: Portcullis is fine");
    assert!(resp.text().await.unwrap().contains("cannot be reached"));
    let ready = reqwest::get(srv.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert!(body["providers"]["okta"].as_str().unwrap().starts_with("unreachable"), "{body}");
    // Local sign-in is off with an external provider only.
    assert_eq!(b.get(&srv.url("/auth/local/login")).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_error_is_explained() {
    let (_idp, srv) = setup(Mode::Good).await;
    let mut b = Browser::new();
    let cb = to_callback(&mut b, &srv, "/").await;
    let mut u = url::Url::parse(&url_without(&url_without(&cb, "code"), "iss")).unwrap();
    u.query_pairs_mut()
        .append_pair("iss", &format!("{}/oauth2/default", _idp.site))
        .append_pair("error", "invalid_request")
        .append_pair("error_description", "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings");
    let resp = b.get(u.as_str()).await;
    assert_eq!(resp.status(), 400);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Invalid redirect URI") && body.contains(&srv.url("/auth/okta/callback")), "{body}");
}

fn url_without(u: &str, key: &str) -> String {
    let mut url = url::Url::parse(u).unwrap();
    let kept: Vec<(String, String)> = url.query_pairs().filter(|(k, _)| k != key).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    url.to_string()
}

fn url_with(u: &str, key: &str, value: &str) -> String {
    let mut url = url::Url::parse(&url_without(u, key)).unwrap();
    url.query_pairs_mut().append_pair(key, value);
    url.to_string()
}

/// Posts a logout token to the back-channel endpoint.
async fn backchannel(srv: &TestServer, token: &str) -> (u16, String) {
    let resp = reqwest::Client::new().post(srv.url("/auth/okta/backchannel-logout")).form(&[("logout_token", token)]).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_channel_logout_accepts_only_a_valid_logout_token() {
    use base64::Engine;
    let (idp, srv) = setup(Mode::Good).await;
    let mut b = Browser::new();
    assert_eq!(sign_in(&mut b, &srv).await.status(), 303);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let good = serde_json::json!({
        "iss": idp.issuer, "aud": crate::support::hostile_idp::CLIENT_ID, "iat": now, "exp": now + 120, "jti": "jti-1",
        "sid": "idp-session-1", "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let with = |f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut c = good.clone();
        f(c.as_object_mut().unwrap());
        c
    };
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let hostile = [
        ("nonce", idp.sign("k1", false, &with(&|c| { c.insert("nonce".into(), "n".into()); }))),
        ("no events", idp.sign("k1", false, &with(&|c| { c.remove("events"); }))),
        ("no sid or sub", idp.sign("k1", false, &with(&|c| { c.remove("sid"); }))),
        ("wrong aud", idp.sign("k1", false, &with(&|c| { c.insert("aud".into(), "other".into()); }))),
        ("wrong iss", idp.sign("k1", false, &with(&|c| { c.insert("iss".into(), "https://evil.example".into()); }))),
        ("no iat", idp.sign("k1", false, &with(&|c| { c.remove("iat"); }))),
        ("expired", idp.sign("k1", false, &with(&|c| { c.insert("exp".into(), (now - 3600).into()); }))),
        ("unpublished key", idp.sign("k2", false, &good)),
        ("alg none", format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(good.to_string().as_bytes()))),
        ("garbage", "not-a-jwt".to_owned()),
    ];
    for (what, token) in hostile {
        let (status, body) = backchannel(&srv, &token).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(b.me(&srv.base).await.0, 200, "{what}: the session survives");
    }
    // The real thing ends the session at once; the same token again is a replay.
    let token = idp.sign("k1", false, &good);
    assert_eq!(backchannel(&srv, &token).await.0, 200);
    assert_eq!(b.me(&srv.base).await.0, 401);
    let (status, body) = backchannel(&srv, &token).await;
    assert_eq!(status, 400);
    assert!(body.contains("already used"), "{body}");
}

/// What `/readyz` says of `provider` once it mentions `needle` (or after 10 s).
async fn readiness_mentioning(srv: &TestServer, provider: &str, needle: &str) -> (String, std::time::Duration) {
    let started = std::time::Instant::now();
    let mut why = String::new();
    while started.elapsed() < std::time::Duration::from_secs(10) {
        let ready: serde_json::Value = reqwest::get(srv.url("/readyz")).await.unwrap().json().await.unwrap();
        why = ready["providers"][provider].as_str().unwrap_or_default().to_owned();
        if why.contains(needle) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (why, started.elapsed())
}

/// Security review item 12: documents that never end are refused at their
/// cap as they stream in (before, they were read in full first: until the
/// 15 s timeout, holding all of it in memory). SAML metadata likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_discovery_keys_and_metadata_stop_at_their_caps() {
    for (mode, what) in [(Mode::EndlessDiscovery, "openid-configuration"), (Mode::EndlessJwks, "signing keys")] {
        let (_idp, srv) = setup(mode).await;
        let (why, took) = readiness_mentioning(&srv, "okta", "larger than").await;
        assert!(why.contains("larger than") && why.contains(what), "{mode:?}: {why}");
        assert!(took < std::time::Duration::from_secs(10), "{mode:?}: refused within the cap, not at the timeout");
    }
    // SAML metadata from a server whose answer never ends.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/metadata", axum::routing::get(|| async { crate::support::hostile_idp::endless() }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let env = vec![("AUTH_PROVIDER", "saml".to_owned()), ("SAML_IDP_METADATA_URL", url)];
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: env, listener: None }).await.unwrap();
    let (why, _) = readiness_mentioning(&srv, "saml", "larger than").await;
    assert!(why.contains("metadata: the answer is larger than"), "{why}");
}

/// Portcullis's own storage failing during a sign-in is its fault, not the
/// identity provider's: a 500 that says so, with the request id (it was a
/// 502 "identity provider cannot be reached").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_during_sign_in_is_ours_not_the_idps() {
    let (_idp, srv) = setup(Mode::Good).await;
    let mut b = Browser::new();
    let cb = to_callback(&mut b, &srv, "/").await;
    srv.db.raw_execute("ALTER TABLE users RENAME TO users_gone").await.unwrap();
    let resp = b.get(&cb).await;
    let status = resp.status().as_u16();
    let rid = resp.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("Something went wrong on Portcullis") && body.contains(&rid), "{body}");
    assert!(!body.contains("identity provider cannot be reached") && !body.contains("users_gone"), "{body}");
    assert!(!b.has_session());
}
