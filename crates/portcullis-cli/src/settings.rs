//! The CLI's settings (`portcullis config ...`): the keys of the platform
//! CLI's settings file, kept as JSON in `$XDG_CONFIG_HOME/portcullis/settings.json`
//! (or `~/.config/portcullis/settings.json`), in a 0700 folder, mode 0600,
//! written atomically (a new file renamed over the old one).

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub const KEYS: &[(&str, &str)] = &[
    ("enterprise_base_url", "your Portcullis URL, e.g. https://portcullis.example.com"),
    ("oauth2_provider", "workos, okta, auth0, entra_id or keycloak"),
    ("oauth2_domain", "the identity provider's domain, e.g. your-domain.okta.com"),
    ("oauth2_client_id", "the device-grant client id"),
    ("oauth2_audience", "the API audience, e.g. api://default"),
    ("oauth2_extra", "a JSON object of provider-specific fields, e.g. {\"realm\": \"factory\"}"),
];

const PROVIDERS: &[&str] = &["workos", "okta", "auth0", "entra_id", "keycloak"];

pub fn key_list() -> String {
    KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
}

/// Where the settings live.
pub fn path() -> Result<PathBuf, String> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("neither XDG_CONFIG_HOME nor HOME is set")?).join(".config"),
    };
    Ok(base.join("portcullis").join("settings.json"))
}

pub fn load(path: &Path) -> Result<Map<String, Value>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(format!("{} is not a JSON object; fix it by hand or run `portcullis config reset`", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Checks a value for a key and gives it its stored form.
pub fn validate(key: &str, value: &str) -> Result<Value, String> {
    let v = value.trim();
    match key {
        "enterprise_base_url" => {
            let u = url::Url::parse(v).map_err(|e| format!("`{v}` is not a URL ({e}); e.g. https://portcullis.example.com"))?;
            let host = u.host_str().unwrap_or_default();
            let loopback = host == "localhost" || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            match u.scheme() {
                "https" => {}
                "http" if loopback => {}
                _ => return Err(format!("`{v}` must start with https:// (http:// only for localhost)")),
            }
            Ok(Value::String(v.trim_end_matches('/').to_owned()))
        }
        "oauth2_provider" if PROVIDERS.contains(&v) => Ok(Value::String(v.to_owned())),
        "oauth2_provider" => Err(format!("`{v}` is not a provider; valid values: {}", PROVIDERS.join(", "))),
        "oauth2_domain" | "oauth2_client_id" | "oauth2_audience" => {
            if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                Err(format!("`{value}` must be non-empty, without spaces"))
            } else {
                Ok(Value::String(v.to_owned()))
            }
        }
        "oauth2_extra" => match serde_json::from_str::<Value>(v) {
            Ok(o @ Value::Object(_)) => Ok(o),
            _ => Err(format!("`{v}` is not a JSON object; e.g. {{\"realm\": \"factory\"}}")),
        },
        other => Err(format!("unknown key `{other}`; valid keys: {}", key_list())),
    }
}

/// Writes the settings atomically, readable by the owner only.
pub fn save(path: &Path, settings: &Map<String, Value>) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(&Value::Object(settings.clone())).expect("JSON");
    text.push('\n');
    crate::private_file::write(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert_eq!(validate("enterprise_base_url", "https://p.example.com/").unwrap(), "https://p.example.com");
        assert!(validate("enterprise_base_url", "http://p.example.com").is_err());
        assert!(validate("enterprise_base_url", "http://127.0.0.1:8080").is_ok());
        assert!(validate("oauth2_provider", "github").unwrap_err().contains("workos, okta"));
        assert!(validate("oauth2_extra", "[1]").is_err());
        assert_eq!(validate("oauth2_extra", "{\"realm\":\"r\"}").unwrap()["realm"], "r");
        assert!(validate("oauth2_domain", "a b").is_err());
        assert!(validate("colour", "x").unwrap_err().contains("valid keys: enterprise_base_url"));
    }
}
