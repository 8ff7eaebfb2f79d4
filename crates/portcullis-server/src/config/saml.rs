//! SAML provider settings from the environment.
//!
//! - `AUTH_PROVIDER=entra_id` with `ENTRA_ID_PROTOCOL=saml`: Microsoft Entra
//!   ID through its SAML app, `ENTRA_ID_SAML_METADATA_URL` (the app's
//!   "App Federation Metadata Url") or `ENTRA_ID_SAML_METADATA_FILE`.
//! - `AUTH_PROVIDER=saml`: any SAML 2.0 IdP (ADFS, Okta SAML apps,
//!   Shibboleth, Keycloak SAML clients), `SAML_IDP_METADATA_URL` or
//!   `SAML_IDP_METADATA_FILE`.
//!
//! Shared: `SAML_SP_ENTITY_ID`, `SAML_SP_KEY_FILE` + `SAML_SP_CERT_FILE`,
//! `SAML_ALLOW_IDP_INITIATED`, `SAML_ALLOW_SHA1`, `SAML_METADATA_REFRESH`,
//! `SAML_ATTRIBUTE_EMAIL`, `SAML_ATTRIBUTE_NAME`, `SAML_ATTRIBUTE_ROLES`,
//! `SAML_ATTRIBUTE_SUBJECT`.

pub use super::saml_source::{AttributeNames, MetadataSource};
use super::{boolean, err, optional, ConfigError, Env};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SamlSettings {
    /// `entra_id` or `saml`: the path segment of `/auth/<provider>/...`.
    pub provider: &'static str,
    pub display_name: &'static str,
    pub metadata: MetadataSource,
    /// Default `{public}/auth/<provider>/metadata`.
    pub sp_entity_id: Option<String>,
    /// The SP key pair; generated into the data directory when not given.
    pub sp_key_file: Option<PathBuf>,
    pub sp_cert_file: Option<PathBuf>,
    pub allow_idp_initiated: bool,
    pub allow_sha1: bool,
    pub metadata_refresh: Duration,
    pub attributes: AttributeNames,
    pub require_role: bool,
}

fn list(env: &Env, var: &str) -> Option<Vec<String>> {
    optional(env, var).map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
}

impl SamlSettings {
    /// Settings for `provider` (`entra_id` or `saml`).
    pub fn from_env(provider: &'static str, env: &Env) -> Result<SamlSettings, ConfigError> {
        let super::saml_source::SamlDefaults { metadata, display_name, mut attributes, require_role: require_default } = super::vendors::saml_defaults(provider, env)?;
        if let Some(v) = list(env, "SAML_ATTRIBUTE_EMAIL") {
            attributes.email = v;
        }
        if let Some(v) = list(env, "SAML_ATTRIBUTE_NAME") {
            attributes.name = v;
        }
        if let Some(v) = list(env, "SAML_ATTRIBUTE_ROLES") {
            attributes.roles = v;
        }
        if let Some(v) = optional(env, "SAML_ATTRIBUTE_SUBJECT") {
            attributes.subject = Some(v);
        }
        let (key, cert) = (optional(env, "SAML_SP_KEY_FILE"), optional(env, "SAML_SP_CERT_FILE"));
        if key.is_some() != cert.is_some() {
            return Err(err(
                if key.is_some() { "SAML_SP_CERT_FILE" } else { "SAML_SP_KEY_FILE" },
                "is missing: give both the SP's private key and its certificate (PEM), or neither to have them generated into the data directory",
                "/run/secrets/saml-sp.pem",
            ));
        }
        let metadata_refresh = super::duration(env, "SAML_METADATA_REFRESH", Duration::from_secs(3600), "1h")?;
        let require_role = boolean(env, "PORTCULLIS_REQUIRE_ROLE", require_default)?;
        Ok(SamlSettings {
            provider,
            display_name,
            metadata,
            sp_entity_id: optional(env, "SAML_SP_ENTITY_ID"),
            sp_key_file: key.map(PathBuf::from),
            sp_cert_file: cert.map(PathBuf::from),
            allow_idp_initiated: boolean(env, "SAML_ALLOW_IDP_INITIATED", false)?,
            allow_sha1: boolean(env, "SAML_ALLOW_SHA1", false)?,
            metadata_refresh,
            attributes,
            require_role,
        })
    }
}
