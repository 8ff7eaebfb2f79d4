use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn defaults_are_the_embedded_ones() {
    let c = Config::from_env(&Env::new()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(c.data_dir, PathBuf::from("./portcullis-data"));
    assert!(c.database_url.expose_secret().starts_with("sqlite://./portcullis-data/portcullis.db"));
    assert!(matches!(c.secret_key, SecretKeySource::DataDir(_)));
    assert_eq!(c.session, SessionPolicy::default());
    assert!(!c.https());
}

#[test]
fn bad_values_name_the_variable_and_an_example() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("PORTCULLIS_LISTEN", "nope")], "PORTCULLIS_LISTEN: `nope` is not an address and port; example: PORTCULLIS_LISTEN=127.0.0.1:8080"),
        (&[("PORTCULLIS_PUBLIC_URL", "ftp://x")], "PORTCULLIS_PUBLIC_URL:"),
        (&[("PORTCULLIS_PUBLIC_URL", "https://x.example/sub")], "has a path"),
        (&[("PORTCULLIS_SESSION_IDLE_TIMEOUT", "soon")], "PORTCULLIS_SESSION_IDLE_TIMEOUT: `soon` is not a duration"),
        (&[("PORTCULLIS_SESSION_IDLE_TIMEOUT", "48h")], "longer than PORTCULLIS_SESSION_LIFETIME"),
        (&[("PORTCULLIS_SECRET_KEY", "short")], "PORTCULLIS_SECRET_KEY:"),
        (&[("AUTH_PROVIDER", "github")], "AUTH_PROVIDER: `github` is not a provider"),
        (&[("DATABASE_URL", "mysql://u:hunter2@x/db")], "DATABASE_URL: must start with sqlite: or postgres://"),
        (&[("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "a@b.example")], "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD: is missing"),
        (&[("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "a@b.example"), ("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", "short")], "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD: must be at least 12"),
        (&[("PORTCULLIS_SECRET_KEY", "a"), ("PORTCULLIS_SECRET_KEY_FILE", "/x")], "set only one of them"),
        (&[("PORTCULLIS_TRUST_X_FORWARDED_FOR", "maybe")], "is not true or false"),
        (&[("PORTCULLIS_LOG_FORMAT", "xml")], "PORTCULLIS_LOG_FORMAT"),
    ];
    for (pairs, expected) in cases {
        let e = Config::from_env(&env(pairs)).unwrap_err().to_string();
        assert!(e.contains(expected), "{pairs:?}: got `{e}`, expected it to contain `{expected}`");
        assert!(e.contains("example: "), "{e}");
        assert!(!e.contains("hunter2"), "a secret leaked into `{e}`");
    }
}

#[test]
fn secrets_come_from_files_and_stay_out_of_debug() {
    let dir = std::env::temp_dir().join(format!("pc-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("key");
    std::fs::write(&key_file, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n").unwrap();
    let pw_file = dir.join("pw");
    std::fs::write(&pw_file, "correct horse battery staple\n").unwrap();
    let c = Config::from_env(&env(&[
        ("PORTCULLIS_SECRET_KEY_FILE", key_file.to_str().unwrap()),
        ("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "Admin@Example.com"),
        ("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD_FILE", pw_file.to_str().unwrap()),
        ("DATABASE_URL", "postgres://u:hunter2@db/x"),
        ("PORTCULLIS_PUBLIC_URL", "https://auth.example.com"),
    ]))
    .unwrap();
    let (email, pw) = c.bootstrap_admin.as_ref().unwrap();
    assert_eq!(email, "admin@example.com");
    assert_eq!(pw.expose_secret(), "correct horse battery staple");
    let dbg = format!("{c:?}");
    for s in ["correct horse", "hunter2", "AAECAwQF"] {
        assert!(!dbg.contains(s), "secret `{s}` in Debug output: {dbg}");
    }
    assert!(c.https());
    assert_eq!(c.public("/auth/local/callback"), "https://auth.example.com/auth/local/callback");
    let missing = Config::from_env(&env(&[("PORTCULLIS_SECRET_KEY_FILE", "/nonexistent/key")])).unwrap_err();
    assert_eq!(missing.var, "PORTCULLIS_SECRET_KEY_FILE");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_portcullis_variables_are_reported() {
    // Kubernetes' service links for a Service named `portcullis` are not typos.
    let c = Config::from_env(&env(&[
        ("PORTCULLIS_LISTN", "x"),
        ("OTHER", "y"),
        ("PORTCULLIS_SERVICE_HOST", "10.0.0.7"),
        ("PORTCULLIS_SERVICE_PORT_HTTP", "8080"),
        ("PORTCULLIS_PORT", "tcp://10.0.0.7:8080"),
        ("PORTCULLIS_PORT_8080_TCP_ADDR", "10.0.0.7"),
    ]))
    .unwrap();
    assert_eq!(c.unknown_variables, vec!["PORTCULLIS_LISTN".to_string()]);
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
    assert_eq!(parse_duration("8h"), Some(Duration::from_secs(8 * 3600)));
    assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86400)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("h"), None);
    assert_eq!(parse_duration("5y"), None);
}
