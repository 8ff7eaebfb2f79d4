//! Configuration from environment variables.
//!
//! The identity-provider variables keep exactly the names of the platform's
//! documentation (`AUTH_PROVIDER`, `OKTA_SITE`, ...); Portcullis's own are
//! prefixed `PORTCULLIS_`. Every secret can instead be read from a file
//! named by the same variable with `_FILE` appended. A bad value stops
//! start-up with one line naming the variable, what is wrong, and an example
//! of a good value. `docs/configuration.md` lists every variable.

pub mod local_auth;
pub mod oidc;
pub mod saml;
pub mod saml_source;
pub mod sso;
pub mod vendors;

use portcullis_domain::SessionPolicy;
use std::net::IpAddr;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Every `PORTCULLIS_*` variable this version understands (others are
/// warned about, as they are probably typos).
pub const KNOWN_VARIABLES: &[&str] = &[
    "PORTCULLIS_PUBLIC_URL",
    "PORTCULLIS_LISTEN",
    "PORTCULLIS_METRICS_LISTEN",
    "PORTCULLIS_DATA_DIR",
    "PORTCULLIS_SECRET_KEY",
    "PORTCULLIS_SECRET_KEY_FILE",
    "PORTCULLIS_SECRET_KEY_PREVIOUS",
    "PORTCULLIS_SECRET_KEY_PREVIOUS_FILE",
    "PORTCULLIS_UPSTREAM_CONNECT_TIMEOUT",
    "PORTCULLIS_UPSTREAM_TIMEOUT",
    "PORTCULLIS_UPSTREAM_MAX_BODY_BYTES",
    "PORTCULLIS_HEALTH_CHECK_INTERVAL",
    "PORTCULLIS_UPSTREAM_ALLOWED_HOSTS",
    "PORTCULLIS_ROLES_CLAIM",
    "PORTCULLIS_AUTH_PROVIDERS",
    "PORTCULLIS_REQUIRE_ROLE",
    "PORTCULLIS_ROLE_MAPPING",
    "PORTCULLIS_SESSION_IDLE_TIMEOUT",
    "PORTCULLIS_SESSION_LIFETIME",
    "PORTCULLIS_SESSION_CACHE_TTL",
    "PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL",
    "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD",
    "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD_FILE",
    "PORTCULLIS_TRUST_X_FORWARDED_FOR",
    "PORTCULLIS_TRUSTED_PROXY_HOPS",
    "PORTCULLIS_CA_BUNDLE",
    "PORTCULLIS_DB_MAX_CONNECTIONS",
    "PORTCULLIS_LOG",
    "PORTCULLIS_LOG_FORMAT",
    "PORTCULLIS_CLI_CLIENT_ID",
    "PORTCULLIS_ACCESS_TOKEN_TTL",
    "PORTCULLIS_REFRESH_TOKEN_IDLE_TIMEOUT",
    "PORTCULLIS_REFRESH_TOKEN_LIFETIME",
    "PORTCULLIS_SIGNING_KEY_ROTATION",
    // Read by the test suite only.
    "PORTCULLIS_TEST_POSTGRES_URL",
    "PORTCULLIS_REQUIRE_POSTGRES",
];

/// A configuration problem: which variable, what is wrong, what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}; example: {var}={example}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
    pub example: String,
}

pub(crate) fn err(var: &str, problem: impl Into<String>, example: &str) -> ConfigError {
    ConfigError { var: var.into(), problem: problem.into(), example: example.into() }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the 256-bit server secret comes from.
#[derive(Clone, Debug)]
pub enum SecretKeySource {
    /// `PORTCULLIS_SECRET_KEY` or `PORTCULLIS_SECRET_KEY_FILE`.
    Given(SecretString),
    /// Neither was set: read or create `<data dir>/secret.key`.
    DataDir(PathBuf),
}

/// The variables Kubernetes sets for a Service named `portcullis`
/// (`PORTCULLIS_SERVICE_HOST`, `PORTCULLIS_PORT_8080_TCP_ADDR`, ...) unless
/// the pod disables service links: not typos, so not warned about.
fn is_kubernetes_service_link(name: &str) -> bool {
    let rest = &name["PORTCULLIS_".len()..];
    rest == "PORT" || rest.starts_with("PORT_") || rest == "SERVICE_HOST" || rest.starts_with("SERVICE_PORT")
}

/// The complete configuration. Secrets are `SecretString`s, whose `Debug`
/// prints `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct Config {
    pub public_url: Url,
    pub listen: SocketAddr,
    /// Where Prometheus scrapes `GET /metrics` (`PORTCULLIS_METRICS_LISTEN`):
    /// a separate address, so that the metrics are never on the public
    /// port; none by default.
    pub metrics_listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub database_url: SecretString,
    pub secret_key: SecretKeySource,
    /// The key before the current one, during a rotation: values it sealed
    /// still open until `portcullis-server secrets rotate-key` has re-sealed them.
    pub previous_secret_key: Option<SecretString>,
    pub upstream: UpstreamConfig,
    /// How often each automation's `GET /` is checked.
    pub health_check_interval: Duration,
    pub session: SessionPolicy,
    /// How long a session lookup may be served from memory; this bounds how
    /// long a revoked session keeps working on another replica.
    pub session_cache_ttl: Duration,
    pub bootstrap_admin: Option<(String, SecretString)>,
    pub trust_x_forwarded_for: bool,
    /// How many proxies in front of Portcullis append to `X-Forwarded-For`:
    /// the client is the entry this many places from the right.
    pub trusted_proxy_hops: usize,
    /// Certificate authorities trusted for calls to IdPs and automations.
    pub trust: crate::outbound::TrustConfig,
    pub db_max_connections: u32,
    pub log_filter: String,
    pub log_format: LogFormat,
    /// The ways of signing in: external OpenID providers and/or `local`.
    pub sso: sso::SsoConfig,
    /// The `local` provider's authorization server, for CLI logins.
    pub local_auth: local_auth::LocalAuthConfig,
    /// Unknown `PORTCULLIS_*` variables, to be warned about.
    pub unknown_variables: Vec<String>,
}

/// Calls to automations' own APIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Largest request body forwarded to, and response body accepted from, an upstream.
    pub max_body_bytes: usize,
    /// Hosts automations may live at (empty: any, but never link-local and the like).
    pub hosts: crate::upstream_policy::HostPolicy,
}

/// Variables as read from the environment (a map, so that tests need not
/// touch the process environment).
pub type Env = BTreeMap<String, String>;

pub fn process_env() -> Env {
    std::env::vars().collect()
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let get = |k: &str| env.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        // The provider's variables are checked first, so that a missing one
        // is reported in the documentation's words.
        let sso = sso::SsoConfig::from_env(env)?;
        let local_auth = local_auth::LocalAuthConfig::from_env(env)?;

        let listen: SocketAddr = match get("PORTCULLIS_LISTEN") {
            None => "127.0.0.1:8080".parse().expect("valid default"),
            Some(v) => v.parse().map_err(|_| {
                err("PORTCULLIS_LISTEN", format!("`{v}` is not an address and port"), "127.0.0.1:8080")
            })?,
        };

        let metrics_listen: Option<SocketAddr> = match get("PORTCULLIS_METRICS_LISTEN") {
            None => None,
            Some(v) => {
                let addr: SocketAddr = v.parse().map_err(|_| {
                    err("PORTCULLIS_METRICS_LISTEN", format!("`{v}` is not an address and port"), "0.0.0.0:9090")
                })?;
                if addr == listen {
                    return Err(err(
                        "PORTCULLIS_METRICS_LISTEN",
                        format!("`{v}` is PORTCULLIS_LISTEN's address too; metrics need a port of their own"),
                        "0.0.0.0:9090",
                    ));
                }
                Some(addr)
            }
        };

        let public_url = match get("PORTCULLIS_PUBLIC_URL") {
            None => {
                let host = if listen.ip().is_unspecified() { "127.0.0.1".to_owned() } else { listen.ip().to_string() };
                let host = if listen.is_ipv6() && !listen.ip().is_unspecified() { format!("[{host}]") } else { host };
                Url::parse(&format!("http://{host}:{}", listen.port())).expect("valid URL")
            }
            Some(v) => parse_public_url(&v)?,
        };

        let data_dir = PathBuf::from(get("PORTCULLIS_DATA_DIR").unwrap_or_else(|| "./portcullis-data".into()));

        let database_url = match secret(env, "DATABASE_URL", "postgres://portcullis:...@db:5432/portcullis")? {
            Some(u) => {
                let s = u.expose_secret();
                if !(s.starts_with("sqlite:") || s.starts_with("postgres://") || s.starts_with("postgresql://")) {
                    return Err(err(
                        "DATABASE_URL",
                        "must start with sqlite: or postgres:// (the value is not shown as it may hold a password)",
                        "postgres://portcullis@127.0.0.1:5432/portcullis",
                    ));
                }
                u
            }
            None => SecretString::from(format!("sqlite://{}?mode=rwc", data_dir.join("portcullis.db").display())),
        };

        let secret_key = match secret(env, "PORTCULLIS_SECRET_KEY", "$(openssl rand -base64 32)")? {
            Some(k) => {
                crate::keys::decode_secret_key(k.expose_secret()).map_err(|problem| {
                    err("PORTCULLIS_SECRET_KEY", problem, "$(openssl rand -base64 32)")
                })?;
                SecretKeySource::Given(k)
            }
            None => SecretKeySource::DataDir(data_dir.join("secret.key")),
        };

        let previous_secret_key = match secret(env, "PORTCULLIS_SECRET_KEY_PREVIOUS", "$(cat old-secret.key)")? {
            Some(k) => {
                crate::keys::decode_secret_key(k.expose_secret())
                    .map_err(|problem| err("PORTCULLIS_SECRET_KEY_PREVIOUS", problem, "$(cat old-secret.key)"))?;
                Some(k)
            }
            None => None,
        };
        let upstream = UpstreamConfig {
            connect_timeout: duration(env, "PORTCULLIS_UPSTREAM_CONNECT_TIMEOUT", Duration::from_secs(5), "5s")?,
            timeout: duration(env, "PORTCULLIS_UPSTREAM_TIMEOUT", Duration::from_secs(30), "30s")?,
            max_body_bytes: match get("PORTCULLIS_UPSTREAM_MAX_BODY_BYTES") {
                None => 1024 * 1024,
                Some(v) => v.parse::<usize>().ok().filter(|n| (1024..=64 * 1024 * 1024).contains(n)).ok_or_else(|| {
                    err("PORTCULLIS_UPSTREAM_MAX_BODY_BYTES", format!("`{v}` is not a number of bytes from 1024 to 67108864"), "1048576")
                })?,
            },
            hosts: crate::upstream_policy::HostPolicy::parse(&get("PORTCULLIS_UPSTREAM_ALLOWED_HOSTS").unwrap_or_default())
                .map_err(|p| err("PORTCULLIS_UPSTREAM_ALLOWED_HOSTS", p, "crews.internal.example.com,*.apps.example.com"))?,
        };
        let health_check_interval = duration(env, "PORTCULLIS_HEALTH_CHECK_INTERVAL", Duration::from_secs(60), "60s")?;

        let session = SessionPolicy {
            idle_timeout: duration(env, "PORTCULLIS_SESSION_IDLE_TIMEOUT", Duration::from_secs(8 * 3600), "8h")?,
            absolute_lifetime: duration(env, "PORTCULLIS_SESSION_LIFETIME", Duration::from_secs(24 * 3600), "24h")?,
            ..SessionPolicy::default()
        };
        if session.idle_timeout > session.absolute_lifetime {
            return Err(err(
                "PORTCULLIS_SESSION_IDLE_TIMEOUT",
                "is longer than PORTCULLIS_SESSION_LIFETIME, so it would never apply",
                "8h",
            ));
        }
        let session_cache_ttl = duration(env, "PORTCULLIS_SESSION_CACHE_TTL", Duration::from_secs(1), "1s")?;
        if session_cache_ttl > Duration::from_secs(60) {
            return Err(err(
                "PORTCULLIS_SESSION_CACHE_TTL",
                "must be at most 60s: it is how long a revoked session may keep working on another replica",
                "1s",
            ));
        }

        let bootstrap_admin = match (
            get("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL"),
            secret(env, "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", "<a passphrase of 12 characters or more>")?,
        ) {
            (None, None) => None,
            (Some(e), Some(p)) => {
                let email = portcullis_domain::validation::email(&e)
                    .map_err(|v| err("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", v.problem, "admin@example.com"))?;
                portcullis_domain::validation::new_password(p.expose_secret()).map_err(|v| {
                    err("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", v.problem, "<a passphrase of 12 characters or more>")
                })?;
                Some((email, p))
            }
            (Some(_), None) => {
                return Err(err(
                    "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD",
                    "is missing while PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL is set; set both or neither",
                    "<a passphrase of 12 characters or more>",
                ))
            }
            (None, Some(_)) => {
                return Err(err(
                    "PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL",
                    "is missing while PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD is set; set both or neither",
                    "admin@example.com",
                ))
            }
        };

        let trust_x_forwarded_for = boolean(env, "PORTCULLIS_TRUST_X_FORWARDED_FOR", false)?;
        let trusted_proxy_hops = match get("PORTCULLIS_TRUSTED_PROXY_HOPS") {
            None => 1,
            Some(v) => v.parse::<usize>().ok().filter(|n| (1..=10).contains(n)).ok_or_else(|| {
                err("PORTCULLIS_TRUSTED_PROXY_HOPS", format!("`{v}` is not a number of proxies from 1 to 10"), "1")
            })?,
        };
        if trusted_proxy_hops > 1 && !trust_x_forwarded_for {
            return Err(err(
                "PORTCULLIS_TRUSTED_PROXY_HOPS",
                "is set while PORTCULLIS_TRUST_X_FORWARDED_FOR is off, so it would never apply; set PORTCULLIS_TRUST_X_FORWARDED_FOR=true too",
                "2",
            ));
        }
        let trust = match get("PORTCULLIS_CA_BUNDLE") {
            None => crate::outbound::TrustConfig::default(),
            Some(path) => crate::outbound::TrustConfig::with_bundle(std::path::Path::new(&path))
                .map_err(|p| err("PORTCULLIS_CA_BUNDLE", p, "/etc/portcullis/company-ca.pem"))?,
        };
        let db_max_connections = match get("PORTCULLIS_DB_MAX_CONNECTIONS") {
            None => 8,
            Some(v) => v.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                err("PORTCULLIS_DB_MAX_CONNECTIONS", format!("`{v}` is not a number from 1 to 1000"), "8")
            })?,
        };
        let log_filter = get("PORTCULLIS_LOG").unwrap_or_else(|| "info".into());
        let log_format = match get("PORTCULLIS_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(v) => return Err(err("PORTCULLIS_LOG_FORMAT", format!("`{v}` is not text or json"), "json")),
        };

        let unknown_variables = env
            .keys()
            .filter(|k| k.starts_with("PORTCULLIS_") && !KNOWN_VARIABLES.contains(&k.as_str()) && !is_kubernetes_service_link(k))
            .cloned()
            .collect();

        Ok(Config {
            public_url,
            listen,
            metrics_listen,
            data_dir,
            database_url,
            secret_key,
            previous_secret_key,
            upstream,
            health_check_interval,
            session,
            session_cache_ttl,
            bootstrap_admin,
            trust_x_forwarded_for,
            trusted_proxy_hops,
            trust,
            db_max_connections,
            log_filter,
            log_format,
            sso,
            local_auth,
            unknown_variables,
        })
    }

    /// Whether cookies must carry `Secure` and the `__Host-` prefix.
    pub fn https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The public origin, e.g. `https://portcullis.example.com`.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// An absolute URL under the public base.
    pub fn public(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }
}

fn parse_public_url(v: &str) -> Result<Url, ConfigError> {
    const EX: &str = "https://portcullis.example.com";
    let u = Url::parse(v).map_err(|e| err("PORTCULLIS_PUBLIC_URL", format!("`{v}` is not a URL ({e})"), EX))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(err("PORTCULLIS_PUBLIC_URL", format!("`{v}` must start with https:// (or http:// for local testing)"), EX));
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err(err("PORTCULLIS_PUBLIC_URL", format!("`{v}` must be a plain base URL, without credentials, query or fragment"), EX));
    }
    if u.path() != "/" {
        return Err(err(
            "PORTCULLIS_PUBLIC_URL",
            format!("`{v}` has a path; Portcullis must be served at the root of its host (callbacks are /auth/<provider>/callback)"),
            EX,
        ));
    }
    Ok(u)
}

/// Reads `NAME`, or the file named by `NAME_FILE` (trailing newline
/// removed). Setting both is an error.
pub fn secret(env: &Env, name: &str, example: &str) -> Result<Option<SecretString>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let direct = env.get(name).filter(|v| !v.trim().is_empty());
    let file = env.get(&file_var).filter(|v| !v.trim().is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => Err(err(name, format!("is set together with {file_var}; set only one of them"), example)),
        (Some(v), None) => Ok(Some(SecretString::from(v.trim().to_owned()))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path.trim()).map_err(|e| {
                err(&file_var, format!("cannot read `{}`: {e}", path.trim()), "/run/secrets/portcullis")
            })?;
            let text = text.trim_end_matches(['\n', '\r']).to_owned();
            if text.is_empty() {
                return Err(err(&file_var, format!("the file `{}` is empty", path.trim()), "/run/secrets/portcullis"));
            }
            Ok(Some(SecretString::from(text)))
        }
        (None, None) => Ok(None),
    }
}

pub(crate) fn boolean(env: &Env, name: &str, default: bool) -> Result<bool, ConfigError> {
    match env.get(name).map(|v| v.trim().to_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(v) => Err(err(name, format!("`{v}` is not true or false"), "true")),
    }
}

/// A duration: `90s`, `30m`, `8h`, `1d`, or a number of seconds.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => return Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

pub(crate) fn duration(env: &Env, name: &str, default: Duration, example: &str) -> Result<Duration, ConfigError> {
    match env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => parse_duration(v)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| err(name, format!("`{v}` is not a duration (a number with s, m, h or d)"), example)),
    }
}

/// A required variable, trimmed; its absence says where the value is found.
pub fn required(env: &Env, var: &str, where_to_find: &str, example: &str) -> Result<String, ConfigError> {
    match env.get(var).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(v) => Ok(v.to_owned()),
        None => Err(ConfigError { var: var.into(), problem: format!("is missing: {where_to_find}"), example: example.into() }),
    }
}

pub fn optional(env: &Env, var: &str) -> Option<String> {
    env.get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub fn required_secret(env: &Env, var: &str, where_to_find: &str) -> Result<SecretString, ConfigError> {
    secret(env, var, "<secret>")?.ok_or_else(|| ConfigError {
        var: var.into(),
        problem: format!("is missing: {where_to_find} (or give a file with {var}_FILE)"),
        example: "<secret>".into(),
    })
}

/// Hosts that may be reached over plain http (so that tests run on loopback).
pub fn loopback(host: &str) -> bool {
    host == "localhost" || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A provider base URL: `https://host[:port][/path]`, or `http://` for
/// loopback hosts only. A bare host (`your-tenant.auth0.com`) means https.
pub fn base_url(var: &str, raw: &str, example: &str) -> Result<Url, ConfigError> {
    let with_scheme = if raw.contains("://") { raw.to_owned() } else { format!("https://{raw}") };
    let bad = |problem: String| ConfigError { var: var.into(), problem, example: example.into() };
    let u = Url::parse(&with_scheme).map_err(|e| bad(format!("`{raw}` is not a URL or host name ({e})")))?;
    let host = u.host_str().ok_or_else(|| bad(format!("`{raw}` has no host")))?.to_owned();
    match u.scheme() {
        "https" => {}
        "http" if loopback(&host) => {}
        "http" => return Err(bad(format!("`{raw}` must use https:// (plain http is allowed for loopback hosts only)"))),
        s => return Err(bad(format!("`{raw}` has scheme {s}; use https://"))),
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Err(bad(format!("`{raw}` must not carry credentials, a query or a fragment")));
    }
    Ok(u)
}

/// `base` + `path`, with exactly one slash between them.
pub fn join(base: &Url, path: &str) -> Url {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push('/');
    s.push_str(path.trim_start_matches('/'));
    Url::parse(&s).expect("a valid base URL joined with a path stays valid")
}

pub fn discovery(issuer: &str) -> Url {
    Url::parse(&format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))).expect("issuer is a valid URL")
}

/// A root URL without the trailing slash `Url` always prints.
pub fn bare(u: &Url) -> String {
    u.as_str().trim_end_matches('/').to_owned()
}


#[cfg(test)]
mod tests;
