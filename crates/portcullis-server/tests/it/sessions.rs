//! Sign-in, sessions, cookies, CSRF and the setup link, end to end over HTTP
//! on SQLite and PostgreSQL.


use portcullis_api::Client;
use portcullis_server::bootstrap::Bootstrap;
use reqwest::{Method, StatusCode};
use std::time::Duration;
use crate::support::*;

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The hidden CSRF field of a served form.
fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf_token\" value=\"").expect("csrf field") + 25;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

each_backend!(owner_signs_in_and_sees_org_and_role, |srv| async move {
    let mut c = srv.client();
    let me = c.login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    assert_eq!(me.user.email, ADMIN_EMAIL);
    assert!(me.user.factory_admin);
    assert_eq!(me.organizations.len(), 1);
    assert_eq!(me.organizations[0].name, "Default");
    assert_eq!(me.organizations[0].role.kind, "owner");
    assert_eq!(me.organizations[0].role.permissions["environment_variables"], "manage");
    let sessions = c.sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].current);
    assert_eq!(sessions[0].ip.as_deref(), Some("127.0.0.1"));
    // The landing page says who and where.
    let html = c.http().get(srv.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(ADMIN_EMAIL) && html.contains("Default") && html.contains("Owner"), "{html}");
});

each_backend!(session_cookie_is_hardened_and_rotated_at_sign_in, |srv| async move {
    let http = no_redirect();
    let page = http.get(srv.url("/auth/local/login")).send().await.unwrap();
    let form_cookie = cookie_pair(page.headers()["set-cookie"].to_str().unwrap());
    let csrf = csrf_field(&page.text().await.unwrap());
    let login = |cookies: String| {
        http.post(srv.url("/auth/local/login"))
            .header("cookie", cookies)
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", csrf.as_str()), ("return_to", "/api/v1/me")])
            .send()
    };
    let r = login(form_cookie.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/api/v1/me");
    let set = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|v| v.starts_with("portcullis_session=")).unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"), "{set}");
    let first = cookie_pair(&set);
    let token = first.split_once('=').unwrap().1;
    assert!(token.len() >= 43, "256-bit token");
    // The database holds only a hash of the cookie value.
    let raw = srv.db.raw_execute(&format!("UPDATE sessions SET ip = ip WHERE token_hash = '{token}'")).await;
    assert!(raw.is_ok());
    // No row is keyed by the raw value; one is by its hash.
    let raw_as_hash = portcullis_domain::TokenHash::from_stored(token.to_owned());
    assert!(srv.state.store.find_session_by_token_hash(&raw_as_hash).await.unwrap().is_none());
    assert!(srv.state.store.find_session_by_token_hash(&portcullis_domain::TokenHash::of(token)).await.unwrap().is_some());

    // Signing in again with the old cookie yields a new id and kills the old one.
    let r = login(format!("{form_cookie}; {first}")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let second = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|v| v.starts_with("portcullis_session=")).map(|s| cookie_pair(&s)).unwrap();
    assert_ne!(first, second);
    let old = http.get(srv.url("/api/v1/me")).header("cookie", &first).send().await.unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    assert!(old.text().await.unwrap().contains("revoked"));
    let new = http.get(srv.url("/api/v1/me")).header("cookie", &second).send().await.unwrap();
    assert_eq!(new.status(), StatusCode::OK);
});

each_backend!(https_public_url_gives_host_prefixed_secure_cookie, Options { extra_env: vec![("PORTCULLIS_TRUST_X_FORWARDED_FOR", "true".into())], ..Options::default() }, |srv| async move {
    // Same server, configured as if behind TLS: rebuild the state's view.
    let mut env = srv.env.clone();
    env.insert("PORTCULLIS_PUBLIC_URL".into(), "https://auth.example.com".into());
    let config = portcullis_server::config::Config::from_env(&env).unwrap();
    let state = portcullis_server::state::AppState::try_new(config, srv.state.store.clone(), srv.clock.clone(), portcullis_server::keys::Keys::derive(&[0u8; 32]), portcullis_server::crypto::Sealer::new(&[0u8; 32], None)).unwrap();
    let set = portcullis_server::session::set_cookie(&state, portcullis_server::session::cookies::session_cookie_name(&state), "v", 60);
    assert!(set.starts_with("__Host-portcullis_session=v;"), "{set}");
    assert!(set.contains("; Secure") && set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"));
    assert!(!set.contains("Domain"));
    // Over https the browser is also told to stay on https; over http not.
    use tower::ServiceExt;
    let resp = portcullis_server::app(state).oneshot(axum::http::Request::get("/healthz").body(axum::body::Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.headers()["strict-transport-security"], "max-age=31536000");
    let plain = reqwest::get(srv.url("/healthz")).await.unwrap();
    assert!(plain.headers().get("strict-transport-security").is_none());
});

each_backend!(wrong_password_fails_is_audited_and_throttled, |srv| async move {
    let mut c = srv.client();
    for _ in 0..5 {
        let e = c.login_local(ADMIN_EMAIL, "wrong password!!").await.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(e.to_string().contains("e-mail address or the password is wrong"), "{e}");
    }
    // The sixth attempt is refused before the password is even checked,
    // saying when to retry — even with the right password.
    let e = c.login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert!(e.to_string().contains("for this account") && e.to_string().contains("in 30 seconds"), "{e}");
    // Once the delay has passed, the right password works again.
    srv.clock.advance(Duration::from_secs(31));
    c.login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let failures = c.audit("?action=login.failure").await.unwrap();
    assert_eq!(failures.len(), 5);
    assert!(failures.iter().all(|e| e.detail["reason"] == "wrong_password" && e.ip.as_deref() == Some("127.0.0.1")));
    assert_eq!(c.audit("?action=login.throttled").await.unwrap().len(), 1);
    assert_eq!(c.audit("?action=login.success").await.unwrap().len(), 1);
    // Unknown accounts fail the same way.
    let e = srv.client().login_local("nobody@example.com", "whatever password").await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(c.audit("?action=login.failure").await.unwrap()[0].detail["reason"], "unknown_account");
});

each_backend!(address_throttle_spans_accounts, |srv| async move {
    for i in 0..20 {
        let _ = srv.client().login_local(&format!("user{i}@example.com"), "wrong password!!").await;
    }
    let e = srv.client().login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert!(e.to_string().contains("from your network address"), "{e}");
});

each_backend!(logout_ends_the_session, |srv| async move {
    let mut c = srv.owner().await;
    c.logout().await.unwrap();
    let e = c.me().await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(srv.state.store.list_sessions(srv.state.store.find_local_user_by_email(ADMIN_EMAIL).await.unwrap().unwrap().id, srv.now()).await.unwrap().len(), 0);
});

each_backend!(logout_and_api_writes_need_the_csrf_token, |srv| async move {
    let c = srv.owner().await;
    // A cross-site form post to /auth/logout does nothing.
    let r = c.http().post(srv.url("/auth/logout")).form(&[("csrf_token", "forged")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(c.http().get(srv.url("/api/v1/me")).send().await.unwrap().status(), StatusCode::OK);
    // A JSON write without the header is refused and changes nothing.
    let r = c.http().post(srv.url("/api/v1/roles")).json(&serde_json::json!({"name": "Sneaky"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "csrf");
    assert!(body["message"].as_str().unwrap().contains("X-CSRF-Token"));
    // With the token but from another origin: refused too.
    let r = c.request(Method::POST, "/api/v1/roles").header("origin", "https://evil.example").json(&serde_json::json!({"name": "Sneaky"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c.request(Method::POST, "/api/v1/roles").header("sec-fetch-site", "cross-site").json(&serde_json::json!({"name": "Sneaky"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(c.roles().await.unwrap().len(), 2);
    // A sign-in form posted without its token is refused.
    let r = no_redirect().post(srv.url("/auth/local/login")).form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none_or(|v| !v.to_str().unwrap().contains("portcullis_session")));
});

each_backend!(bad_session_cookies_are_refused, |srv| async move {
    let http = no_redirect();
    for (cookie, expect) in [
        ("portcullis_session=", "not signed in"),
        ("portcullis_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "does not exist"),
        ("portcullis_session=../../etc/passwd", "does not exist"),
    ] {
        let r = http.get(srv.url("/api/v1/me")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.unwrap().contains(expect), "{cookie}");
    }
    // Tampering with one character of a valid cookie.
    let good = login_cookie(&srv).await;
    let r = http.get(srv.url("/api/v1/me")).header("cookie", &good).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut bad = good.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let r = http.get(srv.url("/api/v1/me")).header("cookie", String::from_utf8(bad).unwrap()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
});

/// Signs in as the owner through the form and returns `name=value` of the session cookie.
async fn login_cookie(srv: &TestServer) -> String {
    let http = no_redirect();
    let page = http.get(srv.url("/auth/local/login")).send().await.unwrap();
    let form_cookie = cookie_pair(page.headers()["set-cookie"].to_str().unwrap());
    let csrf = csrf_field(&page.text().await.unwrap());
    let r = http
        .post(srv.url("/auth/local/login"))
        .header("cookie", form_cookie)
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|v| v.starts_with("portcullis_session=")).map(|s| cookie_pair(&s)).unwrap()
}

each_backend!(sessions_expire_idle_and_absolute, |srv| async move {
    let mut c = srv.owner().await;
    srv.clock.advance(Duration::from_secs(7 * 3600));
    srv.state.sessions.clear();
    c.me().await.unwrap();
    // The touch is written back asynchronously.
    tokio::time::sleep(Duration::from_millis(200)).await;
    srv.clock.advance(Duration::from_secs(7 * 3600));
    srv.state.sessions.clear();
    c.me().await.expect("used within the idle timeout");
    srv.clock.advance(Duration::from_secs(8 * 3600 + 1));
    srv.state.sessions.clear();
    let e = c.me().await.unwrap_err();
    assert!(e.to_string().contains("idle"), "{e}");

    let mut c = srv.owner().await;
    for _ in 0..4 {
        srv.clock.advance(Duration::from_secs(6 * 3600));
        srv.state.sessions.clear();
        let _ = c.me().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let e = c.me().await.unwrap_err();
    assert!(e.to_string().contains("maximum lifetime"), "{e}");
});

each_backend!(a_session_can_be_revoked_from_another, |srv| async move {
    let laptop = srv.owner().await;
    let mut phone = srv.owner().await;
    let sessions = laptop.sessions().await.unwrap();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| !s.current).unwrap();
    laptop.revoke_session(other.id).await.unwrap();
    let e = phone.me().await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(e.to_string().contains("revoked"));
    let e = laptop.revoke_session(other.id).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(laptop.audit("?action=session.revoke").await.unwrap().len(), 1);
});

each_backend!(revocation_reaches_another_replica_within_a_second, |srv| async move {
    let replica = TestServer::on_database(portcullis_storage::testing::TestDb::handle(&srv.db), Options { bootstrap_admin: false, ..Options::default() }).await;
    let a = srv.owner().await;
    // The same cookie, presented to the second replica.
    let cookie = a.sessions().await.unwrap();
    assert_eq!(cookie.len(), 1);
    let mut b = Client::new(&replica.base).unwrap();
    b.login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    b.me().await.unwrap(); // now cached on replica B
    let id_on_b = b.sessions().await.unwrap().into_iter().find(|s| s.current).unwrap().id;
    // Revoked through replica A.
    a.revoke_session(id_on_b).await.unwrap();
    let started = std::time::Instant::now();
    loop {
        if b.me().await.is_err() {
            break;
        }
        assert!(started.elapsed() < Duration::from_millis(1500), "replica B still accepts a revoked session");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
});

each_backend!(setup_link_creates_the_owner_once, Options { bootstrap_admin: false, ..Options::default() }, |srv| async move {
    let Bootstrap::SetupLink(link) = &srv.boot else { panic!("expected a setup link, got {:?}", srv.boot) };
    assert!(link.starts_with(&format!("{}/setup?token=", srv.base)));
    let c = srv.client();
    let page = c.http().get(link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let csrf = csrf_field(&html);
    let token = link.split("token=").nth(1).unwrap();
    let form = |pw2: &'static str| {
        vec![("token", token.to_owned()), ("csrf_token", csrf.clone()), ("email", "ada@example.com".into()), ("display_name", "Ada".into()), ("password", "a long passphrase here".into()), ("password_confirm", pw2.into())]
    };
    let r = c.http().post(srv.url("/setup")).form(&form("different passphrase")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("differ"));
    let r = c.http().post(srv.url("/setup")).form(&form("a long passphrase here")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut c2 = c.clone();
    let me = c2.me().await.unwrap();
    assert_eq!(me.user.email, "ada@example.com");
    assert_eq!(me.organizations[0].role.kind, "owner");
    // The link is spent.
    let r = srv.client().http().get(link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("already used"));
    let r = c.http().post(srv.url("/setup")).form(&form("a long passphrase here")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let mut again = srv.client();
    again.login_local("ada@example.com", "a long passphrase here").await.unwrap();
});

each_backend!(return_to_never_leaves_the_site, |srv| async move {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    for (rt, expect) in [("/api/v1/me", "/api/v1/me"), ("//evil.example", "/"), ("https://evil.example", "/"), ("/\\evil.example", "/")] {
        let page = http.get(srv.url("/auth/local/login")).send().await.unwrap().text().await.unwrap();
        let csrf = csrf_field(&page);
        let r = http
            .post(srv.url("/auth/local/login"))
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", &csrf), ("return_to", rt)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], expect, "{rt}");
    }
});

each_backend!(parallel_guesses_do_not_outrun_the_throttle, |srv| async move {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mut c = srv.client();
        tasks.push(tokio::spawn(async move { c.login_local(ADMIN_EMAIL, "wrong password!!").await.unwrap_err().status() }));
    }
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            Some(StatusCode::UNAUTHORIZED) => checked += 1,
            Some(StatusCode::TOO_MANY_REQUESTS) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(checked <= 5, "{checked} passwords were checked; the limit is 5 per window");
});

// Security review item 6: 200 parallel wrong passwords from one address,
// each for a different account, are at most the per-address limit (20) of
// password checks; the rest are refused before any hashing.
each_backend!(parallel_guesses_across_accounts_do_not_outrun_the_address_limit, |srv| async move {
    let mut tasks = Vec::new();
    for i in 0..200 {
        let mut c = srv.client();
        tasks.push(tokio::spawn(async move { c.login_local(&format!("guess{i}@example.com"), "wrong password!!").await.unwrap_err().status() }));
    }
    let (mut checked, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Some(StatusCode::UNAUTHORIZED) => checked += 1,
            Some(StatusCode::TOO_MANY_REQUESTS) | Some(StatusCode::SERVICE_UNAVAILABLE) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(checked <= 20, "{checked} passwords were checked; the limit is 20 per address and window");
    assert!(checked >= 1 && checked + refused == 200, "{checked} checked, {refused} refused");
    // The address stays limited afterwards, even for a right password.
    let e = srv.client().login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::TOO_MANY_REQUESTS), "{e}");
});
