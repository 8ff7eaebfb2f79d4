//! The real `portcullis` binary (the CLI): help and its settings.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// A fresh folder per test: process id, a counter, and the time.
fn temp_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let p = std::env::temp_dir().join(format!("portcullis-bin-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A command with a clean environment (only PATH), run in `dir`.
fn portcullis(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(dir);
    c
}

#[test]
fn help_explains_every_command_and_the_exit_codes() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for s in ["enterprise", "login", "whoami", "token", "automations", "env", "config", "completions", "Exit codes", "portcullis-server"] {
        assert!(text.contains(s), "--help lacks `{s}`:\n{text}");
    }
    assert!(!text.contains("  serve"), "the server's commands are the server binary's:\n{text}");
}

#[test]
fn config_set_get_list_reset() {
    let dir = temp_dir();
    let run = |args: &[&str]| {
        let out = portcullis(&dir).env("XDG_CONFIG_HOME", dir.join("cfg")).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(run(&["config", "set", "oauth2_provider", "okta"]).0, Some(0));
    assert_eq!(run(&["config", "set", "enterprise_base_url", "https://p.example.com/"]).0, Some(0));
    assert_eq!(run(&["config", "set", "oauth2_extra", "{\"authorization_server_name\": \"default\", \"using_org_auth_server\": false}"]).0, Some(0));
    assert_eq!(run(&["config", "get", "enterprise_base_url"]).1.trim(), "https://p.example.com");
    let (code, _, err) = run(&["config", "set", "colour", "red"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("valid keys: enterprise_base_url, oauth2_provider"), "{err}");
    let (code, _, err) = run(&["config", "set", "oauth2_provider", "github"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("valid values: workos, okta, auth0, entra_id, keycloak"), "{err}");
    let (code, _, err) = run(&["config", "set", "enterprise_base_url", "http://p.example.com"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("https://"), "{err}");
    let (_, list, _) = run(&["config", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v["oauth2_provider"], "okta", "a refused value changed nothing");
    assert_eq!(v["oauth2_extra"]["authorization_server_name"], "default");
    let (_, table, _) = run(&["config", "list"]);
    assert!(table.contains("oauth2_client_id") && table.contains("not set"), "{table}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.join("cfg/portcullis/settings.json");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(file.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
    assert_eq!(run(&["config", "reset"]).0, Some(0));
    assert_eq!(run(&["config", "get", "oauth2_provider"]).0, Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

