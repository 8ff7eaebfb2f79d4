//! Identity-provider settings, read from exactly the variables of the
//! platform's SSO documentation, one file per vendor for its quirks (URL
//! layout, where roles live, what the CLI is told).
//!
//! Each vendor derives its issuer (pinned: tokens from any other issuer are
//! refused), its discovery document's URL, the device-grant client and the
//! `/auth/parameters` answer of the CLI wire contract (§1). A missing or
//! malformed variable is a [`ConfigError`] in the documentation's own words:
//! which variable, and where its value is found in the IdP's console.

mod auth0;
mod entra_id;
mod keycloak;
mod okta;
mod workos;

use crate::config::{secret, ConfigError, Env};
use secrecy::SecretString;
use std::net::IpAddr;
use url::Url;

/// What one OpenID provider needs.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// `okta`, `entra_id`, `keycloak`, `auth0` or `workos`: also the path
    /// segment of the callback, `/auth/<provider>/callback`.
    pub provider: &'static str,
    /// Compared exactly with `iss` (OpenID Connect Core §3.1.3.7), so kept as
    /// a string: `https://host` and `https://host/` are different issuers.
    pub issuer: String,
    pub discovery_url: Url,
    pub client_id: String,
    /// `None` for public clients (WorkOS AuthKit uses PKCE only).
    pub client_secret: Option<SecretString>,
    /// The audience access tokens must carry (bearer tokens, the CLI).
    pub audience: Option<String>,
    /// The public client for the device grant (`*_DEVICE_AUTHORIZATION_CLIENT_ID`).
    pub device_client_id: Option<String>,
    /// Dotted path of the claim with roles (or groups); `PORTCULLIS_ROLES_CLAIM` overrides.
    pub roles_claim: String,
    /// The CLI contract's `domain` and `extra` (§1).
    pub cli_domain: String,
    pub cli_extra: serde_json::Value,
    /// Refuse users with neither `member` nor `factory-admin` (403).
    /// `PORTCULLIS_REQUIRE_ROLE`; the default is the vendor's (on for Entra ID,
    /// matching "Assignment required? Yes").
    pub require_role: bool,
}

impl OidcSettings {
    pub fn vendor(&self) -> &'static dyn Vendor {
        vendor(self.provider).expect("settings are only built for known vendors")
    }
}

/// A vendor's quirks. Everything that is the same for every OpenID provider
/// (discovery, PKCE, ID token checks) lives in `crate::sso`; what differs per
/// vendor is here, one implementation per file.
pub trait Vendor: Send + Sync + 'static {
    /// `AUTH_PROVIDER` value and callback path segment.
    fn name(&self) -> &'static str;
    /// The human name, for pages.
    fn display_name(&self) -> &'static str;
    fn settings(&self, env: &Env) -> Result<OidcSettings, ConfigError>;
    /// Scopes asked for at browser sign-in.
    fn scopes(&self) -> &'static [&'static str] {
        &["openid", "email", "profile"]
    }
    /// Roles and groups from the verified claims (ID token merged with userinfo).
    fn roles(&self, settings: &OidcSettings, claims: &serde_json::Value) -> Vec<String> {
        claim_strings(claims, &settings.roles_claim)
    }
    fn require_role_default(&self) -> bool {
        false
    }
    /// A vendor error code in an authorization or token error, explained in
    /// the troubleshooting guide's terms.
    fn explain_error(&self, _error: &str, _description: &str) -> Option<crate::sso::error::SsoError> {
        None
    }
    /// Where to look when ID token signatures do not verify.
    fn signature_hint(&self) -> &'static str {
        "Check that the provider's issuer variables point at the authorization server that signs the tokens."
    }
    /// The claims, in order, in which this vendor's access tokens name the
    /// OAuth client they were issued to: RFC 9068 §2.2 `client_id` unless
    /// the vendor spells it otherwise (`azp`, `cid`, `appid`). A bearer token
    /// must name one of this installation's clients there, because the
    /// audience alone is shared by every client of a realm or tenant.
    fn client_claims(&self) -> &'static [&'static str] {
        &["client_id"]
    }
    /// Whether the vendor marks these verified claims as an ID token in its
    /// own way (beyond `nonce` and `at_hash`, which every vendor's ID tokens
    /// may carry and no access token does).
    fn marks_id_token(&self, _claims: &serde_json::Value) -> bool {
        false
    }
}

impl OidcSettings {
    /// The OAuth clients of this installation at the provider: the browser
    /// client and, when configured, the CLI's device client.
    pub fn own_clients(&self) -> Vec<&str> {
        let mut v = vec![self.client_id.as_str()];
        if let Some(d) = self.device_client_id.as_deref().filter(|d| *d != self.client_id) {
            v.push(d);
        }
        v
    }

    /// The client a verified access token was issued to, read from the
    /// vendor's own claim, with the claim's name.
    pub fn issued_to<'c>(&self, claims: &'c serde_json::Value) -> Option<(&'static str, &'c str)> {
        self.vendor().client_claims().iter().find_map(|name| claims.get(*name).and_then(|v| v.as_str()).map(|v| (*name, v)))
    }
}

/// Every vendor Portcullis knows.
pub fn vendor(name: &str) -> Option<&'static dyn Vendor> {
    Some(match name {
        "okta" => &okta::Okta,
        "entra_id" => &entra_id::EntraId,
        "keycloak" => &keycloak::Keycloak,
        "auth0" => &auth0::Auth0,
        "workos" => &workos::WorkOs,
        _ => return None,
    })
}

/// The strings at a dotted claim path (`realm_access.roles`): an array of
/// strings, a single string, or a space-separated string. A claim name that
/// itself contains dots (`https://portcullis/roles`) is found whole first.
pub fn claim_strings(claims: &serde_json::Value, path: &str) -> Vec<String> {
    fn strings(v: &serde_json::Value) -> Vec<String> {
        match v {
            serde_json::Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).map(str::to_owned).collect(),
            _ => vec![],
        }
    }
    if let Some(v) = claims.get(path) {
        return strings(v);
    }
    let mut cur = claims;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return vec![],
        }
    }
    strings(cur)
}

pub(crate) fn required(env: &Env, var: &str, where_to_find: &str, example: &str) -> Result<String, ConfigError> {
    match env.get(var).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(v) => Ok(v.to_owned()),
        None => Err(ConfigError { var: var.into(), problem: format!("is missing: {where_to_find}"), example: example.into() }),
    }
}

pub(crate) fn optional(env: &Env, var: &str) -> Option<String> {
    env.get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub(crate) fn required_secret(env: &Env, var: &str, where_to_find: &str) -> Result<SecretString, ConfigError> {
    secret(env, var, "<secret>")?.ok_or_else(|| ConfigError {
        var: var.into(),
        problem: format!("is missing: {where_to_find} (or give a file with {var}_FILE)"),
        example: "<secret>".into(),
    })
}

/// Hosts that may be reached over plain http (so that tests run on loopback).
pub(crate) fn loopback(host: &str) -> bool {
    host == "localhost" || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A provider base URL: `https://host[:port][/path]`, or `http://` for
/// loopback hosts only. A bare host (`your-tenant.auth0.com`) means https.
pub(crate) fn base_url(var: &str, raw: &str, example: &str) -> Result<Url, ConfigError> {
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
pub(crate) fn join(base: &Url, path: &str) -> Url {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push('/');
    s.push_str(path.trim_start_matches('/'));
    Url::parse(&s).expect("a valid base URL joined with a path stays valid")
}

pub(crate) fn discovery(issuer: &str) -> Url {
    Url::parse(&format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))).expect("issuer is a valid URL")
}

/// A root URL without the trailing slash `Url` always prints.
pub(crate) fn bare(u: &Url) -> String {
    u.as_str().trim_end_matches('/').to_owned()
}

fn settings_for(var: &str, provider: &str, env: &Env) -> Result<Option<OidcSettings>, ConfigError> {
    if provider == "local" {
        return Ok(None);
    }
    let Some(v) = vendor(provider) else {
        return Err(ConfigError {
            var: var.into(),
            problem: format!("`{provider}` is not a provider; valid values are entra_id, okta, workos, auth0, keycloak, saml, local"),
            example: "local".into(),
        });
    };
    let mut settings = v.settings(env)?;
    settings.require_role = crate::config::boolean(env, "PORTCULLIS_REQUIRE_ROLE", v.require_role_default())?;
    if let Some(claim) = optional(env, "PORTCULLIS_ROLES_CLAIM") {
        if claim.split('.').any(str::is_empty) {
            return Err(ConfigError {
                var: "PORTCULLIS_ROLES_CLAIM".into(),
                problem: format!("`{claim}` is not a dotted claim path"),
                example: "realm_access.roles".into(),
            });
        }
        settings.roles_claim = claim;
    }
    Ok(Some(settings))
}

#[cfg(test)]
mod tests;

/// Which ways of signing in are on.
#[derive(Clone, Debug)]
pub struct SsoConfig {
    /// External OpenID providers, in the order of the chooser page.
    pub providers: Vec<OidcSettings>,
    /// The built-in `local` provider (passwords kept by Portcullis).
    pub local: bool,
    /// SAML 2.0 providers (`saml`, or `entra_id` with `ENTRA_ID_PROTOCOL=saml`).
    pub saml: Vec<crate::saml::SamlSettings>,
    pub role_mapping: Vec<RoleRule>,
}

impl SsoConfig {
    /// `PORTCULLIS_AUTH_PROVIDERS` (a comma-separated list, for a chooser
    /// page) or, as the platform documents, `AUTH_PROVIDER` alone.
    pub fn from_env(env: &Env) -> Result<SsoConfig, ConfigError> {
        let (var, names): (&str, Vec<String>) = match optional(env, "PORTCULLIS_AUTH_PROVIDERS") {
            Some(list) => ("PORTCULLIS_AUTH_PROVIDERS", list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()),
            None => ("AUTH_PROVIDER", vec![optional(env, "AUTH_PROVIDER").unwrap_or_else(|| "local".into())]),
        };
        if names.is_empty() {
            return Err(ConfigError { var: var.into(), problem: "lists no provider".into(), example: "okta,local".into() });
        }
        let mut providers = Vec::new();
        let mut saml = Vec::new();
        let mut local = false;
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(ConfigError { var: var.into(), problem: format!("names `{name}` twice"), example: "okta,local".into() });
            }
            if name == "saml" || (name == "entra_id" && crate::saml::config::entra_uses_saml(env)?) {
                let provider: &'static str = if name == "saml" { "saml" } else { "entra_id" };
                saml.push(crate::saml::SamlSettings::from_env(provider, env)?);
                continue;
            }
            match settings_for(var, name, env)? {
                Some(s) => providers.push(s),
                None => local = true,
            }
        }
        let role_mapping = RoleRule::parse_list(&optional(env, "PORTCULLIS_ROLE_MAPPING").unwrap_or_else(|| DEFAULT_ROLE_MAPPING.into()))?;
        Ok(SsoConfig { providers, local, saml, role_mapping })
    }

    pub fn provider(&self, name: &str) -> Option<&OidcSettings> {
        self.providers.iter().find(|p| p.provider == name)
    }
}

/// Owners from the IdP's `factory-admin` role, members from `member`, and
/// (where the IdP lets a user without either in at all) members otherwise.
pub const DEFAULT_ROLE_MAPPING: &str = "factory-admin=Owner,member=Member,*=Member";

/// One line of `PORTCULLIS_ROLE_MAPPING`: `<IdP role or group>=<role>[@<organization>]`.
/// `*` matches any signed-in user; without `@<organization>` the rule is
/// for the first (default) organization. The first matching rule per
/// organization wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRule {
    pub idp_role: String,
    pub role: RoleTarget,
    pub org: Option<String>,
}

/// The organization role a rule gives, by what no rename changes: the
/// predefined role's kind (`Owner`, `Member`), a custom role's immutable
/// key (`developer`, set from its first name) or its id. Never by the
/// display name, which anyone with `organization_settings: manage` may
/// change (renaming a custom role to "Owner" must not make anyone an owner).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleTarget {
    Predefined(portcullis_domain::RoleKind),
    Key(String),
    Id(portcullis_domain::RoleId),
}

impl RoleTarget {
    pub fn parse(raw: &str) -> RoleTarget {
        use portcullis_domain::RoleKind;
        let t = raw.trim();
        if t.eq_ignore_ascii_case("owner") {
            RoleTarget::Predefined(RoleKind::Owner)
        } else if t.eq_ignore_ascii_case("member") {
            RoleTarget::Predefined(RoleKind::Member)
        } else if let Ok(id) = t.parse::<uuid::Uuid>() {
            RoleTarget::Id(portcullis_domain::RoleId(id))
        } else {
            RoleTarget::Key(t.to_lowercase())
        }
    }

    /// Whether `role` is the one this target means.
    pub fn matches(&self, role: &portcullis_domain::Role) -> bool {
        match self {
            RoleTarget::Predefined(kind) => role.kind == *kind,
            RoleTarget::Id(id) => role.id == *id && role.kind == portcullis_domain::RoleKind::Custom,
            // The key as written (`data science`, from before keys were
            // slugs) or as its slug (`data-science`).
            RoleTarget::Key(key) => {
                role.kind == portcullis_domain::RoleKind::Custom
                    && (role.key == *key || portcullis_domain::custom_role_keys(key).next().is_some_and(|slug| role.key == slug))
            }
        }
    }
}

impl std::fmt::Display for RoleTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoleTarget::Predefined(k) => write!(f, "the predefined {} role", k.as_str()),
            RoleTarget::Key(k) => write!(f, "the custom role with key `{k}`"),
            RoleTarget::Id(id) => write!(f, "the custom role {}", id.0),
        }
    }
}

impl RoleRule {
    pub fn parse_list(raw: &str) -> Result<Vec<RoleRule>, ConfigError> {
        let bad = |problem: String| ConfigError {
            var: "PORTCULLIS_ROLE_MAPPING".into(),
            problem,
            example: "factory-admin=Owner,engineering=developer@Acme,member=Member".into(),
        };
        raw.split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|rule| {
                let (idp_role, target) = rule.split_once('=').ok_or_else(|| bad(format!("`{rule}` is not <IdP role>=<role>")))?;
                let (role, org) = match target.split_once('@') {
                    Some((r, o)) => (r.trim(), Some(o.trim().to_owned())),
                    None => (target.trim(), None),
                };
                if idp_role.trim().is_empty() || role.is_empty() || org.as_deref() == Some("") {
                    return Err(bad(format!("`{rule}` has an empty part")));
                }
                Ok(RoleRule { idp_role: idp_role.trim().to_owned(), role: RoleTarget::parse(role), org })
            })
            .collect()
    }
}
