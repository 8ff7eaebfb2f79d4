//! Which ways of signing in are on, and each provider's settings as plain
//! data, read from exactly the variables of the platform's SSO
//! documentation (`AUTH_PROVIDER`, `OKTA_SITE`, ...; the vendors' own
//! variables in [`super::vendors`]).
//!
//! Each vendor's settings derive its issuer (pinned: tokens from any other
//! issuer are refused), its discovery document's URL, the device-grant
//! client and the `/auth/parameters` answer of the CLI wire contract (§1).
//! A missing or malformed variable is a [`ConfigError`] in the
//! documentation's own words: which variable, and where its value is found
//! in the IdP's console.

use super::{optional, ConfigError, Env};
pub use super::oidc::OidcSettings;

/// Which ways of signing in are on.
#[derive(Clone, Debug)]
pub struct SsoConfig {
    /// External OpenID providers, in the order of the chooser page.
    pub providers: Vec<OidcSettings>,
    /// The built-in `local` provider (passwords kept by Portcullis).
    pub local: bool,
    /// SAML 2.0 providers (`saml`, or `entra_id` with `ENTRA_ID_PROTOCOL=saml`).
    pub saml: Vec<super::saml::SamlSettings>,
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
            if name == "saml" || (name == "entra_id" && super::vendors::entra_id::uses_saml(env)?) {
                let provider: &'static str = if name == "saml" { "saml" } else { "entra_id" };
                saml.push(super::saml::SamlSettings::from_env(provider, env)?);
                continue;
            }
            match super::vendors::settings_for(var, name, env)? {
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
