//! `portcullis enterprise configure URL`: the CLI configures its device
//! login from the server (`GET /auth/parameters`, the CLI wire contract §1),
//! checking the answer as strictly as the platform's own CLI does.

use crate::settings;
use serde_json::{Map, Value};

/// Why configuring failed, with the exit code it maps to.
pub enum Failure {
    /// 3: the server could not be reached.
    Unreachable(String),
    /// 4: the server answered, but not with usable parameters.
    Refused(String),
    /// 2: a local problem (the URL, the settings file).
    Local(String),
}

/// Fields of `extra` each provider must send (contract §1).
fn required_extra(provider: &str) -> &'static [&'static str] {
    match provider {
        "entra_id" => &["scope"],
        "keycloak" => &["realm"],
        "okta" => &["authorization_server_name", "using_org_auth_server"],
        _ => &[],
    }
}

/// Checks the answer and turns it into the six settings.
pub fn settings_from(base: &str, p: &Value) -> Result<Map<String, Value>, String> {
    let text = |field: &str| -> Result<String, String> {
        match p.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => Err(format!("`{field}` is missing or not a non-empty string")),
        }
    };
    let provider = text("provider")?;
    settings::validate("oauth2_provider", &provider)?;
    let domain = text("domain")?;
    let client_id = text("device_authorization_client_id")?;
    let audience = match p.get("audience") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(_) => return Err("`audience` must be a string or null".into()),
    };
    let extra = match p.get("extra") {
        Some(Value::Object(o)) => o.clone(),
        _ => return Err("`extra` is missing or not an object".into()),
    };
    for field in required_extra(&provider) {
        if !extra.contains_key(*field) {
            return Err(format!("`extra.{field}` is required for {provider}"));
        }
    }
    if provider == "okta" && !extra["using_org_auth_server"].is_boolean() {
        return Err("`extra.using_org_auth_server` must be true or false".into());
    }
    let mut out = Map::new();
    out.insert("enterprise_base_url".into(), Value::String(base.to_owned()));
    out.insert("oauth2_provider".into(), Value::String(provider));
    out.insert("oauth2_domain".into(), Value::String(domain));
    out.insert("oauth2_client_id".into(), Value::String(client_id));
    if let Some(a) = audience {
        out.insert("oauth2_audience".into(), Value::String(a));
    }
    out.insert("oauth2_extra".into(), Value::Object(extra));
    Ok(out)
}

fn describe_request_error(url: &str, e: &reqwest::Error) -> String {
    let mut chain = String::new();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        chain.push_str(&format!(": {c}"));
        cur = c.source();
    }
    let lower = chain.to_ascii_lowercase();
    let fix = if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        "its TLS certificate is not trusted by this machine; install the issuing CA or use the URL the certificate is for"
    } else if e.is_timeout() {
        "it did not answer in time; check the URL and any proxy or firewall between here and the server"
    } else {
        "check that the Factory URL is right and reachable from this machine"
    };
    format!("cannot reach {url}{chain}. The server could not be reached: {fix} (then `portcullis config list` shows what is set)")
}

/// Fetches, checks and stores the parameters; returns what was stored.
pub async fn configure(raw_url: &str) -> Result<Map<String, Value>, Failure> {
    let base = settings::validate("enterprise_base_url", raw_url).map_err(Failure::Local)?;
    let base = base.as_str().expect("validated URL is a string").to_owned();
    let url = format!("{base}/auth/parameters");
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .user_agent(concat!("portcullis-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::Local(format!("cannot start an HTTP client: {e}")))?;
    let resp = http
        .get(&url)
        .header("content-type", "application/json")
        .send()
        .await
        .map_err(|e| Failure::Unreachable(describe_request_error(&url, &e)))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let said = body.get("message").and_then(|m| m.as_str()).unwrap_or("no explanation");
        return Err(Failure::Refused(format!("{url} answered {status}: {said}")));
    }
    let new = settings_from(&base, &body).map_err(|e| Failure::Refused(format!("{url} did not answer with CLI parameters: {e}; is this a Portcullis server?")))?;
    let path = settings::path().map_err(Failure::Local)?;
    let mut current = settings::load(&path).map_err(Failure::Local)?;
    // The server's answer replaces every provider setting (a key it leaves
    // out, such as a null audience, must not linger from an earlier server).
    for (k, _) in settings::KEYS {
        current.remove(*k);
    }
    current.extend(new.clone());
    settings::save(&path, &current).map_err(Failure::Local)?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_checked_like_the_platform_cli_does() {
        let ok = json!({"provider": "okta", "domain": "acme.okta.com", "device_authorization_client_id": "0oa1", "audience": "api://default",
            "extra": {"authorization_server_name": "default", "using_org_auth_server": false}});
        let s = settings_from("https://p.example.com", &ok).unwrap();
        assert_eq!(s["oauth2_domain"], "acme.okta.com");
        assert_eq!(s["oauth2_extra"]["authorization_server_name"], "default");
        for (broken, why) in [
            (json!({"provider": "github", "domain": "d", "device_authorization_client_id": "c", "extra": {}}), "not a provider"),
            (json!({"provider": "keycloak", "domain": "d", "device_authorization_client_id": "c", "extra": {}}), "extra.realm"),
            (json!({"provider": "entra_id", "domain": "t", "device_authorization_client_id": "c", "extra": {}}), "extra.scope"),
            (json!({"provider": "auth0", "domain": "", "device_authorization_client_id": "c", "extra": {}}), "`domain`"),
            (json!({"provider": "auth0", "domain": "d", "device_authorization_client_id": "c"}), "`extra`"),
            (json!({"provider": "auth0", "domain": "d", "device_authorization_client_id": "c", "audience": 5, "extra": {}}), "`audience`"),
        ] {
            let e = settings_from("https://p.example.com", &broken).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
