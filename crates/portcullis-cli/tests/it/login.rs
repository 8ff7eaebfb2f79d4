//! `portcullis login` with the real binary: the device flow (RFC 8628) at a
//! real OpenID provider (`oidc-provider`, `tests/idp/`), approved on the
//! provider's own pages, then `whoami` against a real Portcullis with the
//! stored token, a refresh when it expires, and `logout`.


use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");


fn temp_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let p = std::env::temp_dir().join(format!("portcullis-login-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn cli(home: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"));
    c
}

/// `portcullis-server serve` with one provider pointing at the peer.
fn serve(dir: &std::path::Path, port: u16, provider: &str, peer: &crate::oidc_peer::OidcPeer) -> std::process::Child {
    let mut server = Command::new(crate::server_bin::path());
    server
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir)
        .arg("serve")
        .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_LOG", "error")
        .env("AUTH_PROVIDER", provider)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in peer.env(provider) {
        server.env(k, v);
    }
    if provider == "auth0" {
        server.env("AUTH0_AUDIENCE", "https://portcullis.example/api");
    }
    let server = server.spawn().unwrap();
    wait_listening(port);
    server
}

fn wait_listening(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `portcullis login --no-browser` started: the process, its remaining
/// output, and the address and code it printed.
fn start_login(home: &std::path::Path) -> (std::process::Child, std::io::Lines<BufReader<std::process::ChildStdout>>, String, String) {
    let mut child = cli(home).args(["login", "--no-browser"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let open_line = lines.next().unwrap().unwrap();
    let code_line = lines.next().unwrap().unwrap();
    let url = open_line.strip_prefix("To sign in, open ").unwrap_or_else(|| panic!("{open_line}")).to_owned();
    let user_code = code_line.strip_prefix("and confirm the code ").unwrap_or_else(|| panic!("{code_line}")).to_owned();
    (child, lines, url, user_code)
}

/// An automation behind a real upstream, registered with `token` through
/// the shared typed client.
async fn automation(base: &str, token: &str, name: &str) -> (crate::upstream::Upstream, portcullis_api::AutomationInfo) {
    let up = crate::upstream::Upstream::start("upstream-secret").await;
    let created = portcullis_api::Client::new(base)
        .unwrap()
        .with_bearer(token)
        .create_automation(&portcullis_api::CreateAutomation {
            name: name.into(),
            description: String::new(),
            visibility: None,
            upstream_url: up.url.clone(),
            upstream_token: up.token.clone(),
        })
        .await
        .unwrap();
    (up, created)
}

/// Runs `portcullis login --no-browser`, approving the code as `login` at the IdP.
async fn login(home: &std::path::Path, user: &str) -> (std::process::ExitStatus, Vec<String>) {
    let (mut child, lines, url, user_code) = start_login(home);
    crate::oidc_peer::approve_device(url.split('?').next().unwrap(), &user_code, user).await;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    (status, lines.map_while(Result::ok).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_works_for_every_vendor_layout() {
    for provider in ["keycloak", "entra_id", "auth0", "workos"] {
        let home = temp_dir(provider);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let peer = crate::oidc_peer::OidcPeer::start(&base).await;
        let mut server = serve(&home, port, provider, &peer);
        let out = cli(&home).args(["enterprise", "configure", &base]).output().unwrap();
        assert!(out.status.success(), "{provider}: {}", String::from_utf8_lossy(&out.stderr));
        let (status, rest) = login(&home, "bob").await;
        assert!(status.success(), "{provider}: {rest:?}");
        let out = cli(&home).args(["whoami", "--json"]).output().unwrap();
        assert!(out.status.success(), "{provider}: {}", String::from_utf8_lossy(&out.stderr));
        let me: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(me["user"]["email"], "bob@example.test", "{provider}");
        assert_eq!(me["session"]["provider"], provider);
        let _ = server.kill();
        let _ = server.wait();
        std::fs::remove_dir_all(home).ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_then_whoami_refresh_and_logout() {
    let home = temp_dir("home");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    // Access tokens that expire within the CLI's 30 s renewal margin, so the
    // second use must refresh.
    let peer = crate::oidc_peer::OidcPeer::start_with(&base, &[("IDP_ACCESS_TOKEN_TTL", "25")]).await;
    let mut server = serve(&home, port, "okta", &peer);

    let out = cli(&home).args(["enterprise", "configure", &base]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Not logged in yet.
    let out = cli(&home).arg("whoami").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("portcullis login"));

    let (status, rest) = login(&home, "alice").await;
    assert!(status.success(), "login failed: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("Logged in as alice@example.test")), "{rest:?}");

    // The tokens are kept encrypted, owner-only.
    let tokens = home.join("data/portcullis/tokens");
    let sealed = std::fs::read(&tokens).unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("eyJ"), "no readable JWT on disk");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&tokens).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(home.join("data/portcullis")).unwrap().permissions().mode() & 0o777, 0o700);
    }

    // whoami goes to Portcullis with the bearer token (renewing it first:
    // it expires within the margin).
    let out = cli(&home).args(["whoami", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let me: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(me["user"]["email"], "alice@example.test");
    assert_eq!(me["user"]["factory_admin"], true);
    let first = String::from_utf8(cli(&home).arg("token").output().unwrap().stdout).unwrap();
    let second = String::from_utf8(cli(&home).arg("token").output().unwrap().stdout).unwrap();
    assert!(first.starts_with("eyJ") && second.starts_with("eyJ"));
    assert_ne!(first, second, "each use within the margin renewed the token with the (rotating) refresh token");
    let me = reqwest::Client::new().get(format!("{base}/api/v1/me")).bearer_auth(second.trim()).send().await.unwrap();
    assert_eq!(me.status(), 200, "a renewed token works against the server");

    // The guarded resources through the CLI, with the stored token: an
    // automation (created through the shared typed client with the same
    // token, alice being an owner) kicked off and followed.
    let (up, created) = automation(&base, second.trim(), "Research crew").await;
    let id = created.id.to_string();
    let run = |args: &[&str]| {
        let out = cli(&home).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let list: serde_json::Value = serde_json::from_str(&run(&["automations", "list", "--json"])).unwrap();
    assert_eq!(list[0]["name"], "Research crew");
    assert!(run(&["automations", "show", &id]).contains("Research crew"));
    let kicked: serde_json::Value = serde_json::from_str(&run(&["automations", "kickoff", &id, "--inputs", r#"{"topic": "AI"}"#, "--json"])).unwrap();
    let kickoff_id = kicked["kickoff_id"].as_str().unwrap().to_owned();
    assert_eq!(up.seen.lock().unwrap().kickoffs[&kickoff_id]["inputs"]["topic"], "AI", "the run reached the automation");
    let status: serde_json::Value = serde_json::from_str(&run(&["automations", "status", &id, &kickoff_id, "--json"])).unwrap();
    assert!(status.is_object(), "{status}");
    // Environment variables: set, listed masked, unset.
    run(&["env", "set", "OPENAI_API_KEY", "sk-cli-secret"]);
    let listed = run(&["env", "list"]);
    assert!(listed.contains("OPENAI_API_KEY") && !listed.contains("sk-cli-secret"), "{listed}");
    run(&["env", "unset", "OPENAI_API_KEY"]);
    assert!(!run(&["env", "list"]).contains("OPENAI_API_KEY"));
    let out = cli(&home).args(["env", "unset", "OPENAI_API_KEY"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("portcullis env list"));
    // Completions for the shell.
    assert!(run(&["completions", "bash"]).contains("portcullis"));

    // logout revokes and forgets.
    let out = cli(&home).arg("logout").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Revoked") && text.contains("Logged out"), "{text}");
    assert!(!tokens.exists());
    assert_eq!(cli(&home).arg("token").output().unwrap().status.code(), Some(2));

    let _ = server.kill();
    let _ = server.wait();
    std::fs::remove_dir_all(home).ok();
}

/// `portcullis-server serve` on its embedded defaults (`local` provider, SQLite),
/// with a first owner and access tokens short enough to need renewal.
fn serve_local(dir: &std::path::Path, port: u16) -> std::process::Child {
    let server = Command::new(crate::server_bin::path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir)
        .arg("serve")
        .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_LOG", "error")
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "owner@example.test")
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", "correct horse battery staple")
        // Within the CLI's 30 s renewal margin: every use must refresh.
        .env("PORTCULLIS_ACCESS_TOKEN_TTL", "25s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_against_the_local_provider_without_any_idp() {
    let home = temp_dir("local");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve_local(&home, port);

    let out = cli(&home).args(["enterprise", "configure", &base]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let settings: serde_json::Value = serde_json::from_slice(&cli(&home).args(["config", "list", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(settings["oauth2_provider"], "workos", "{settings}");
    assert_eq!(settings["oauth2_domain"], format!("127.0.0.1:{port}"));
    assert_eq!(settings["oauth2_client_id"], "portcullis-cli");

    // Login: the code is approved by the owner, signed in with a password,
    // on Portcullis's own /device page.
    let (mut child, lines, url, user_code) = start_login(&home);
    assert!(url.starts_with(&format!("{base}/device?user_code=")), "{url}");
    let mut owner = portcullis_api::Client::new(&base).unwrap();
    owner.login_local("owner@example.test", "correct horse battery staple").await.unwrap();
    owner.decide_device(&user_code, true).await.unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("Logged in as owner@example.test")), "{rest:?}");
    // No D-Bus session here, so no OS keyring: one notice, then the encrypted file.
    let mut notice = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut notice).unwrap();
    assert_eq!(notice.lines().filter(|l| l.contains("OS keyring is not available")).count(), 1, "{notice}");
    assert!(home.join("data/portcullis/tokens").exists());
    // Forcing the keyring fails clearly instead of falling back.
    let out = cli(&home).env("PORTCULLIS_CREDENTIAL_STORE", "keyring").arg("whoami").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("keyring"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = cli(&home).args(["whoami", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let me: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(me["user"]["email"], "owner@example.test");
    assert_eq!(me["session"]["provider"], "local");

    // Renewed on each use (the token is inside the margin), rotating the refresh token.
    let first = String::from_utf8(cli(&home).arg("token").output().unwrap().stdout).unwrap();
    let second = String::from_utf8(cli(&home).arg("token").output().unwrap().stdout).unwrap();
    assert_ne!(first, second);
    let second = second.trim().to_owned();

    // An automation kicked off through the CLI with the stored token.
    let (up, created) = automation(&base, &second, "Local crew").await;
    let out = cli(&home).args(["automations", "kickoff", &created.id.to_string(), "--inputs", r#"{"topic": "local"}"#, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let kicked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(up.seen.lock().unwrap().kickoffs[kicked["kickoff_id"].as_str().unwrap()]["inputs"]["topic"], "local");

    // Logout revokes the login at Portcullis: the last access token stops too.
    let out = cli(&home).arg("logout").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Revoked"), "{}", String::from_utf8_lossy(&out.stdout));
    let resp = reqwest::Client::new().get(format!("{base}/api/v1/me")).bearer_auth(&second).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let _ = server.kill();
    let _ = server.wait();
    std::fs::remove_dir_all(home).ok();
}
