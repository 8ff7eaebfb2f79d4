//! The real `portcullis-server` binary: help, configuration errors,
//! migrate, key rotation, and `serve` on its embedded defaults up to a
//! signed-in owner.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis-server");

/// A fresh folder per test: process id, a counter, and the time.
fn temp_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let p = std::env::temp_dir().join(format!("portcullis-server-bin-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A command with a clean environment (only PATH), run in `dir`.
fn server(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(dir);
    c
}

#[test]
fn help_explains_every_command_and_the_exit_codes() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for s in ["serve", "migrate", "secrets", "Exit codes", "configuration error", "docs/configuration.md"] {
        assert!(text.contains(s), "--help lacks `{s}`:\n{text}");
    }
}

#[test]
fn a_bad_variable_stops_start_up_with_one_line_naming_it() {
    let dir = temp_dir();
    let out = server(&dir).arg("serve").env("PORTCULLIS_LISTEN", "localhost").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("PORTCULLIS_LISTEN: `localhost` is not an address and port; example: PORTCULLIS_LISTEN=127.0.0.1:8080"), "{err}");
    assert!(!dir.join("portcullis-data").exists(), "nothing is written on a configuration error");
    std::fs::remove_dir_all(dir).unwrap();
}


#[test]
fn migrate_creates_the_embedded_database() {
    let dir = temp_dir();
    let out = server(&dir).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("portcullis-data/portcullis.db").exists());
    std::fs::remove_dir_all(dir).unwrap();
}


#[tokio::test]
async fn serve_on_embedded_defaults_prints_a_setup_link_that_makes_an_owner() {
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = server(&dir)
        .arg("serve")
        .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://") {
                if line.contains("/setup?token=") {
                    let _ = tx.send(line[at..].trim().to_owned());
                }
            }
        }
    });
    let link = rx.recv_timeout(Duration::from_secs(30)).expect("a setup link on stdout");
    assert!(link.starts_with(&format!("http://127.0.0.1:{port}/setup?token=")), "{link}");

    // Complete the setup as a browser would.
    let http = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let started = Instant::now();
    let page = loop {
        match http.get(&link).send().await {
            Ok(r) => break r.text().await.unwrap(),
            Err(_) if started.elapsed() < Duration::from_secs(10) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("server not reachable: {e}"),
        }
    };
    let at = page.find("name=\"csrf_token\" value=\"").unwrap() + 25;
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let token = link.split("token=").nth(1).unwrap();
    let r = http
        .post(format!("http://127.0.0.1:{port}/setup"))
        .form(&[("token", token), ("csrf_token", csrf), ("email", "first@example.com"), ("display_name", "First"), ("password", "first owner passphrase"), ("password_confirm", "first owner passphrase")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let me: serde_json::Value = http.get(format!("http://127.0.0.1:{port}/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["email"], "first@example.com");
    assert_eq!(me["organizations"][0]["role"]["kind"], "owner");
    assert_eq!(me["user"]["factory_admin"], true);

    // The secret key was generated once, private to the owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("portcullis-data/secret.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(dir).unwrap();
}


/// The upstream token and environment values never reach a log line, even at debug level.
#[tokio::test]
async fn secrets_stay_out_of_the_logs() {
    const TOKEN: &str = "tok-LOGCHECK-51d2";
    const VALUE: &str = "val-LOGCHECK-a9e0";
    let dir = temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let log = std::fs::File::create(dir.join("log")).unwrap();
    let mut child = server(&dir)
        .arg("serve")
        .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_LOG", "debug")
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "admin@example.com")
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", "admin passphrase 1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut c = portcullis_api::Client::new(&base).unwrap();
    let started = Instant::now();
    loop {
        match c.login_local("admin@example.com", "admin passphrase 1").await {
            Ok(_) => break,
            Err(_) if started.elapsed() < Duration::from_secs(20) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{e}"),
        }
    }
    let a = c
        .create_automation(&portcullis_api::CreateAutomation {
            name: "Crew".into(),
            description: String::new(),
            visibility: None,
            upstream_url: format!("http://{closed}"),
            upstream_token: TOKEN.into(),
        })
        .await
        .unwrap();
    let _ = c.kickoff(a.id, &serde_json::json!({"x": 1})).await;
    let _ = c.automation_inputs(a.id).await;
    let v = c.env_put(&portcullis_api::PutEnvVar { name: "K".into(), value: VALUE.into(), automation_id: None }).await.unwrap();
    assert_eq!(c.env_value(v.id).await.unwrap().value, VALUE);
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(text.contains("audit"), "debug logs were written");
    assert!(!text.contains(TOKEN) && !text.contains(VALUE) && !text.contains("admin passphrase"), "a secret reached the log");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rotate_key_on_an_empty_installation_changes_nothing_else() {
    let dir = temp_dir();
    let out = server(&dir).args(["secrets", "rotate-key"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("re-sealed 0 environment variables, 0 automation tokens and 0 token-signing keys"), "{text}");
    assert!(!text.contains("setup"), "no setup link from a maintenance command: {text}");
    // A wrong key afterwards is detected.
    let out = server(&dir).arg("migrate").env("PORTCULLIS_SECRET_KEY", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORTCULLIS_SECRET_KEY is not the key"));
    std::fs::remove_dir_all(dir).unwrap();
}
