//! Three real `portcullis-server` processes on one PostgreSQL, as a
//! deployment with several replicas runs them (one public URL, one secret
//! key). Their caches are told over `LISTEN`/`NOTIFY` what to forget, so a
//! revocation on one is refused on the others within 100 ms, although the
//! cache TTL is set to a minute here: only the notice can explain it.

use portcullis_api::Client;
use portcullis_storage::testing::TestDb;
use reqwest::StatusCode;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis-server");
pub const OWNER: &str = "owner@example.com";
pub const OWNER_PASSWORD: &str = "owner passphrase 1";
const SECRET_KEY: &str = "cmVwbGljYXMtc2hhcmUtb25lLWtleS0zMi1ieXRlcyE=";
/// How fast every replica must follow.
const WITHIN: Duration = Duration::from_millis(100);

pub struct Replica {
    pub child: Child,
    pub base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A replica whose cache TTL is a minute, so that only a notice explains
/// a change seen within 100 ms.
async fn start(db_url: &str, public: &str, port: u16) -> Replica {
    start_with(db_url, public, port, &[("PORTCULLIS_SESSION_CACHE_TTL", "60s")]).await
}

/// A replica on `db_url`, listening on `port`, with `env` on top of the shared settings.
pub async fn start_with(db_url: &str, public: &str, port: u16, env: &[(&str, &str)]) -> Replica {
    let child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("PORTCULLIS_SECRET_KEY", SECRET_KEY)
        .env("PORTCULLIS_PUBLIC_URL", public)
        .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_LOG", "warn")
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", OWNER)
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", OWNER_PASSWORD)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let r = Replica { child, base: format!("http://127.0.0.1:{port}") };
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(resp) = http.get(format!("{}/readyz", r.base)).send().await {
            if resp.status() == 200 {
                return r;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "replica {} not ready in 30 s", r.base);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Three replicas, the first of which made the owner account.
async fn three() -> Option<(TestDb, [Replica; 3])> {
    let db = TestDb::postgres().await?;
    let ports = [free_port(), free_port(), free_port()];
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let a = start(&db.url, &public, ports[0]).await;
    let b = start(&db.url, &public, ports[1]).await;
    let c = start(&db.url, &public, ports[2]).await;
    Some((db, [a, b, c]))
}

/// Polls `check` until it holds; returns how long that took after `since`.
pub async fn until(since: Instant, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    loop {
        if check().await {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(5), "{what}: still not seen after 5 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn status(http: &reqwest::Client, url: String, bearer: Option<&str>) -> StatusCode {
    let mut rb = http.get(url);
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.unwrap().status()
}

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The sign-in form of `base`: its cookie (`name=value`) and CSRF token.
async fn open_form(base: &str) -> (String, String) {
    let page = no_redirect().get(format!("{base}/auth/local/login")).send().await.unwrap();
    let form_cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let at = html.find("name=\"csrf_token\" value=\"").unwrap() + 25;
    (form_cookie, html[at..at + html[at..].find('"').unwrap()].to_owned())
}

/// Posts the owner's credentials with a form opened elsewhere; returns the
/// session cookie (`name=value`).
async fn send_form(base: &str, (form_cookie, csrf): &(String, String)) -> String {
    let r = no_redirect()
        .post(format!("{base}/auth/local/login"))
        .header("cookie", form_cookie)
        .form(&[("email", OWNER), ("password", OWNER_PASSWORD), ("csrf_token", csrf.as_str()), ("return_to", "/api/v1/me")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("portcullis_session="))
        .expect("a session cookie")
}

/// Asserts that every replica of `rs` turns to answer 401 within 100 ms of `since`.
async fn refused_everywhere(since: Instant, rs: &[&Replica], what: &str, answer: impl AsyncFn(&str) -> StatusCode) {
    for r in rs {
        let took = until(since, what, async || answer(&r.base).await == 401).await;
        eprintln!("{}: {what}: refused {took:?} later", r.base);
        assert!(took < WITHIN, "{}: {what}: still accepted {took:?} later", r.base);
    }
}

async fn me_with_cookie(base: &str, cookie: &str) -> reqwest::Response {
    reqwest::Client::new().get(format!("{base}/api/v1/me")).header("cookie", cookie).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_session_is_refused_by_every_replica_within_100_ms() {
    let Some((db, rs)) = three().await else { return };
    let session = send_form(&rs[0].base, &open_form(&rs[1].base).await).await;
    // Every replica now holds the session in its cache (for a minute).
    let mut csrf = String::new();
    for r in &rs {
        let me = me_with_cookie(&r.base, &session).await;
        assert_eq!(me.status(), 200);
        csrf = me.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    }
    let out = no_redirect().post(format!("{}/auth/logout", rs[0].base)).header("cookie", &session).form(&[("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert_eq!(out.status(), 303);
    let signed_out = Instant::now();
    // The same cookie, still sent: the other replicas must refuse it.
    refused_everywhere(signed_out, &[&rs[1], &rs[2]], "the signed-out session", async |base| me_with_cookie(base, &session).await.status()).await;
    drop(rs);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_person_and_a_changed_role_take_effect_on_every_replica_within_100_ms() {
    let Some((db, rs)) = three().await else { return };
    let mut owner = Client::new(&rs[0].base).unwrap();
    owner.login_local(OWNER, OWNER_PASSWORD).await.unwrap();
    let m = owner
        .create_user(&portcullis_api::CreateUser { email: "member@example.com".into(), display_name: None, password: Some("member passphrase 1".into()), role_id: None })
        .await
        .unwrap();
    let mut member = Client::new(&rs[2].base).unwrap();
    member.login_local("member@example.com", "member passphrase 1").await.unwrap();
    let csrf = member.csrf_token().unwrap().to_owned();
    let create_role = |base: String, name: String| {
        let http = member.http().clone();
        let csrf = csrf.clone();
        async move {
            http.post(format!("{base}/api/v1/roles")).header("x-csrf-token", csrf).json(&serde_json::json!({ "name": name })).send().await.unwrap().status()
        }
    };
    // Cached as a Member on replica 2: roles are not theirs to make.
    assert_eq!(create_role(rs[1].base.clone(), "Before".into()).await, 403);

    // Made an owner on replica 0; replica 1 follows.
    let owner_role = owner.roles().await.unwrap().into_iter().find(|r| r.kind == "owner").unwrap();
    owner.update_member(m.user.id, &portcullis_api::UpdateMember { role_id: Some(owner_role.id), disabled: None }).await.unwrap();
    let changed = Instant::now();
    let mut n = 0;
    let took = until(changed, "the new role on another replica", async || {
        n += 1;
        create_role(rs[1].base.clone(), format!("After {n}")).await == 201
    })
    .await;
    assert!(took < WITHIN, "the role change took {took:?} to reach replica 1");

    // Disabled on replica 0; replicas 1 and 2 refuse them.
    for r in &rs[1..] {
        assert_eq!(status(member.http(), format!("{}/api/v1/me", r.base), None).await, 200);
    }
    owner.update_member(m.user.id, &portcullis_api::UpdateMember { role_id: None, disabled: Some(true) }).await.unwrap();
    let disabled = Instant::now();
    refused_everywhere(disabled, &[&rs[1], &rs[2]], "the disabled person", async |base| status(member.http(), format!("{base}/api/v1/me"), None).await).await;
    drop(rs);
    db.cleanup().await;
}

/// A device login (RFC 8628) started on one replica, approved on another
/// and redeemed on the third; ending it on one stops its access token on
/// the others, although they had verified and cached it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_cli_login_stops_its_access_token_on_every_replica_within_100_ms() {
    let Some((db, rs)) = three().await else { return };
    let http = reqwest::Client::new();
    let client = [("client_id", "portcullis-cli"), ("scope", "openid profile email")];
    let d: serde_json::Value = http.post(format!("{}/oauth2/device_authorization", rs[0].base)).form(&client).send().await.unwrap().json().await.unwrap();
    let mut owner = Client::new(&rs[1].base).unwrap();
    owner.login_local(OWNER, OWNER_PASSWORD).await.unwrap();
    owner.decide_device(d["user_code"].as_str().unwrap(), true).await.unwrap();
    let grant = [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", d["device_code"].as_str().unwrap()), ("client_id", "portcullis-cli")];
    let started = Instant::now();
    let access = loop {
        let resp = http.post(format!("{}/oauth2/token", rs[2].base)).form(&grant).send().await.unwrap();
        let body: serde_json::Value = resp.json().await.unwrap();
        if let Some(t) = body["access_token"].as_str() {
            break t.to_owned();
        }
        assert!(matches!(body["error"].as_str(), Some("authorization_pending" | "slow_down")), "{body}");
        assert!(started.elapsed() < Duration::from_secs(30), "no token: {body}");
        tokio::time::sleep(Duration::from_secs(d["interval"].as_u64().unwrap_or(5))).await;
    };
    for r in &rs {
        assert_eq!(status(&http, format!("{}/api/v1/me", r.base), Some(&access)).await, 200, "{}", r.base);
    }
    let login = owner.cli_logins().await.unwrap().into_iter().next().expect("the CLI login is listed");
    owner.end_cli_login(&login.id).await.unwrap();
    let ended = Instant::now();
    refused_everywhere(ended, &[&rs[0], &rs[2]], "the ended CLI login's access token", async |base| status(&http, format!("{base}/api/v1/me"), Some(&access)).await).await;
    drop(rs);
    db.cleanup().await;
}

/// The sign-in form served by one replica is accepted by another, and a
/// replica killed in the middle of a sign-in loses nothing: the rest
/// finishes it and every replica knows the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_a_replica_that_dies_finishes_on_another() {
    let Some((db, mut rs)) = three().await else { return };
    let form = open_form(&rs[2].base).await;
    // The replica that served the form dies before the form is sent.
    rs[2].child.kill().unwrap();
    rs[2].child.wait().unwrap();
    let session = send_form(&rs[1].base, &form).await;
    for r in &rs[..2] {
        assert_eq!(me_with_cookie(&r.base, &session).await.status(), 200, "{}", r.base);
    }
    drop(rs);
    db.cleanup().await;
}
