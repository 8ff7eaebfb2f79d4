//! `portcullis enterprise configure URL` with the real binary on both
//! sides: a server configured for each provider, and the CLI storing what
//! its `/auth/parameters` says (the CLI wire contract §1).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");


fn temp_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let p = std::env::temp_dir().join(format!("portcullis-ent-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

struct Server {
    child: Child,
    base: String,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `portcullis-server serve` with the given provider variables (the IdP itself is
/// not needed to answer `/auth/parameters`).
fn serve(tag: &str, env: &[(&str, &str)]) -> Server {
    let dir = temp_dir(tag);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = Command::new(crate::server_bin::path());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(&dir)
        .arg("serve")
        .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, base, dir }
}

/// The CLI with its own config folder.
fn cli(config_home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_CONFIG_HOME", config_home)
        .args(args)
        .output()
        .unwrap()
}

/// A provider, its server variables, and the settings a CLI must store.
type Case = (&'static str, Vec<(&'static str, &'static str)>, serde_json::Value);

/// Every provider's server variables and the settings they must give.
fn cases() -> Vec<Case> {
    let idp = "http://127.0.0.1:9"; // never contacted by /auth/parameters
    vec![
        (
            "okta",
            vec![("OKTA_SITE", idp), ("OKTA_AUTHORIZATION_SERVER", "default"), ("OKTA_AUDIENCE", "api://default"), ("OKTA_CLIENT_ID", "web"), ("OKTA_CLIENT_SECRET", "s"), ("OKTA_DEVICE_AUTHORIZATION_CLIENT_ID", "okta-cli")],
            serde_json::json!({"oauth2_provider": "okta", "oauth2_domain": "127.0.0.1:9", "oauth2_client_id": "okta-cli", "oauth2_audience": "api://default",
                "oauth2_extra": {"authorization_server_name": "default", "using_org_auth_server": false}}),
        ),
        (
            "keycloak",
            vec![("KEYCLOAK_SITE", idp), ("KEYCLOAK_BASE_URL", "/auth"), ("KEYCLOAK_REALM", "factory"), ("KEYCLOAK_CLIENT_ID", "web"), ("KEYCLOAK_CLIENT_SECRET", "s"), ("KEYCLOAK_DEVICE_AUTHORIZATION_CLIENT_ID", "kc-cli")],
            serde_json::json!({"oauth2_provider": "keycloak", "oauth2_domain": "127.0.0.1:9/auth", "oauth2_client_id": "kc-cli", "oauth2_audience": "account", "oauth2_extra": {"realm": "factory"}}),
        ),
        (
            "entra_id",
            vec![("ENTRA_ID_TENANT_ID", "tenant-1"), ("ENTRA_ID_CLIENT_ID", "web"), ("ENTRA_ID_CLIENT_SECRET", "s"), ("ENTRA_ID_DEVICE_AUTHORIZATION_CLIENT_ID", "entra-cli"), ("ENTRA_ID_CUSTOM_OPENID_SCOPE", "api://crewai-cli/read")],
            serde_json::json!({"oauth2_provider": "entra_id", "oauth2_domain": "tenant-1", "oauth2_client_id": "entra-cli", "oauth2_audience": "api://crewai-cli", "oauth2_extra": {"scope": "api://crewai-cli/read"}}),
        ),
        (
            "auth0",
            vec![("AUTH0_DOMAIN", idp), ("AUTH0_CLIENT_ID", "web"), ("AUTH0_CLIENT_SECRET", "s"), ("AUTH0_DEVICE_AUTHORIZATION_CLIENT_ID", "a0-cli"), ("AUTH0_AUDIENCE", "https://api.example")],
            serde_json::json!({"oauth2_provider": "auth0", "oauth2_domain": "127.0.0.1:9", "oauth2_client_id": "a0-cli", "oauth2_audience": "https://api.example", "oauth2_extra": {}}),
        ),
        (
            "workos",
            vec![("WORKOS_AUTHKIT_DOMAIN", idp), ("WORKOS_CLIENT_ID", "client_1")],
            serde_json::json!({"oauth2_provider": "workos", "oauth2_domain": "127.0.0.1:9", "oauth2_client_id": "client_1", "oauth2_audience": "client_1", "oauth2_extra": {}}),
        ),
        // No external IdP: Portcullis's own authorization server, in the
        // WorkOS layout (its domain and audience are checked per server).
        ("local", vec![], serde_json::json!({"oauth2_provider": "workos", "oauth2_client_id": "portcullis-cli", "oauth2_extra": {}})),
    ]
}

/// The settings that depend on the server's address (the `local` case).
fn check_own_authority(provider: &str, base: &str, stored: &serde_json::Value) {
    if provider == "local" {
        assert_eq!(stored["oauth2_domain"], base.trim_start_matches("http://"));
        assert_eq!(stored["oauth2_audience"], format!("{base}/api"));
    }
}

#[test]
fn configure_stores_what_each_provider_server_says() {
    let home = temp_dir("home");
    for (provider, vars, expected) in cases() {
        let mut env = vars.clone();
        env.push(("AUTH_PROVIDER", provider));
        let srv = serve(provider, &env);
        let out = cli(&home, &["enterprise", "configure", &srv.base, "--json"]);
        assert!(out.status.success(), "{provider}: {}", String::from_utf8_lossy(&out.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(home.join("portcullis/settings.json")).unwrap()).unwrap();
        for (k, v) in expected.as_object().unwrap() {
            assert_eq!(&stored[k], v, "{provider}: {k}");
            assert_eq!(&printed[k], v, "{provider}: {k}");
        }
        assert_eq!(stored["enterprise_base_url"], srv.base.as_str());
        check_own_authority(provider, &srv.base, &stored);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(home.join("portcullis/settings.json")).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(home.join("portcullis")).unwrap().permissions().mode() & 0o777, 0o700);
        }
        // `config get` reads back the same value.
        let out = cli(&home, &["config", "get", "oauth2_client_id"]);
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), expected["oauth2_client_id"].as_str().unwrap());
    }
    std::fs::remove_dir_all(home).unwrap();
}

#[test]
fn configure_failures_name_the_cause_and_keep_the_settings() {
    let home = temp_dir("home-fail");
    let settings = home.join("portcullis/settings.json");
    assert!(cli(&home, &["config", "set", "oauth2_domain", "kept.example.com"]).status.success());

    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = cli(&home, &["enterprise", "configure", &format!("http://127.0.0.1:{closed}")]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach") && err.contains("reachable from this machine"), "{err}");

    // A server whose CLI login is not configured says which variable to set.
    let srv = serve(
        "no-device",
        &[("AUTH_PROVIDER", "okta"), ("OKTA_SITE", "http://127.0.0.1:9"), ("OKTA_AUTHORIZATION_SERVER", "default"), ("OKTA_AUDIENCE", "api://default"), ("OKTA_CLIENT_ID", "web"), ("OKTA_CLIENT_SECRET", "s")],
    );
    let out = cli(&home, &["enterprise", "configure", &srv.base]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("OKTA_DEVICE_AUTHORIZATION_CLIENT_ID"), "{err}");

    // Not a URL, or plain http to a remote host.
    let out = cli(&home, &["enterprise", "configure", "http://factory.example.com"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https://"));

    // Every failure left the settings as they were.
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(stored, serde_json::json!({"oauth2_domain": "kept.example.com"}));
    std::fs::remove_dir_all(home).unwrap();
}

/// The platform's own CLI (`crewai-cli` from PyPI, pinned in
/// tests/crewai-cli/) configures itself from Portcullis unchanged.
#[test]
fn the_platform_cli_configures_itself_unchanged() {
    let crewai = std::env::var("PORTCULLIS_CREWAI_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/crewai-cli-venv/bin/crewai"));
    assert!(crewai.exists(), "the platform CLI is not installed at {}: run scripts/test.sh (it installs tests/crewai-cli/requirements.txt into target/crewai-cli-venv)", crewai.display());
    for (provider, vars, expected) in cases() {
        let mut env = vars.clone();
        env.push(("AUTH_PROVIDER", provider));
        let srv = serve(&format!("crewai-{provider}"), &env);
        let home = temp_dir("crewai-home");
        let out = Command::new(&crewai)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .args(["enterprise", "configure", &srv.base])
            .output()
            .unwrap();
        assert!(out.status.success(), "{provider}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(home.join(".config/crewai/settings.json")).unwrap()).unwrap();
        for (k, v) in expected.as_object().unwrap() {
            assert_eq!(&stored[k], v, "{provider}: {k}");
        }
        assert_eq!(stored["enterprise_base_url"], srv.base.as_str());
        check_own_authority(provider, &srv.base, &stored);
        std::fs::remove_dir_all(home).ok();
    }
}
