//! Each vendor's variables, read into plain [`super::oidc::OidcSettings`]
//! (the vendor's behaviour at sign-in is `crate::idp::vendors`).

pub mod auth0;
pub mod entra_id;
pub mod keycloak;
pub mod okta;
pub mod saml;
pub mod workos;

use super::oidc::OidcSettings;
use super::{boolean, optional, ConfigError, Env};

/// The settings of the OpenID provider `provider` (named by variable `var`),
/// or `None` for `local`.
pub(crate) fn settings_for(var: &str, provider: &str, env: &Env) -> Result<Option<OidcSettings>, ConfigError> {
    if provider == "local" {
        return Ok(None);
    }
    let read = match provider {
        "okta" => okta::settings,
        "entra_id" => entra_id::settings,
        "keycloak" => keycloak::settings,
        "auth0" => auth0::settings,
        "workos" => workos::settings,
        _ => {
            return Err(ConfigError {
                var: var.into(),
                problem: format!("`{provider}` is not a provider; valid values are entra_id, okta, workos, auth0, keycloak, saml, local"),
                example: "local".into(),
            })
        }
    };
    let mut settings = read(env)?;
    settings.require_role = boolean(env, "PORTCULLIS_REQUIRE_ROLE", settings.require_role)?;
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

/// What the SAML provider `provider` (`entra_id` or `saml`) brings before
/// the shared `SAML_*` variables.
pub fn saml_defaults(provider: &str, env: &Env) -> Result<super::saml_source::SamlDefaults, ConfigError> {
    match provider {
        "entra_id" => entra_id::saml(env),
        _ => saml::saml(env),
    }
}
