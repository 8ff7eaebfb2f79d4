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

use super::{boolean, err, optional, ConfigError, Env};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Where the IdP's metadata comes from.
#[derive(Clone, Debug)]
pub enum MetadataSource {
    Url(Url),
    File(PathBuf),
}

/// The attribute names a provider's assertions use.
#[derive(Clone, Debug)]
pub struct AttributeNames {
    /// Tried in order; the NameID is used when none is present and it looks
    /// like an e-mail address.
    pub email: Vec<String>,
    pub name: Vec<String>,
    pub roles: Vec<String>,
    /// A stable identifier to key the account on instead of the NameID
    /// (Entra's object id: the NameID may be the changeable UPN).
    pub subject: Option<String>,
}

/// The Entra ID claim URIs (Microsoft's SAML token reference).
pub mod entra_claims {
    pub const ROLE: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
    pub const EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
    pub const UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
    pub const DISPLAY_NAME: &str = "http://schemas.microsoft.com/identity/claims/displayname";
    pub const OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
}

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

fn metadata_source(env: &Env, url_var: &str, file_var: &str, where_to_find: &str) -> Result<MetadataSource, ConfigError> {
    match (optional(env, url_var), optional(env, file_var)) {
        (Some(_), Some(_)) => Err(err(url_var, format!("is set together with {file_var}; set only one of them"), "https://login.microsoftonline.com/<tenant>/federationmetadata/2007-06/federationmetadata.xml?appid=<app id>")),
        (Some(u), None) => {
            let url = Url::parse(&u).map_err(|e| err(url_var, format!("`{u}` is not a URL ({e})"), "https://idp.example.com/metadata.xml"))?;
            let loopback = url.host_str().is_some_and(super::loopback);
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                return Err(err(url_var, format!("`{u}` must be https (metadata pins the keys that sign assertions)"), "https://idp.example.com/metadata.xml"));
            }
            Ok(MetadataSource::Url(url))
        }
        (None, Some(f)) => Ok(MetadataSource::File(PathBuf::from(f))),
        (None, None) => Err(err(url_var, format!("is required for SAML sign-in (or {file_var}): {where_to_find}"), "https://idp.example.com/metadata.xml")),
    }
}

impl SamlSettings {
    /// Settings for `provider` (`entra_id` or `saml`).
    pub fn from_env(provider: &'static str, env: &Env) -> Result<SamlSettings, ConfigError> {
        let (metadata, display_name, attributes, require_default) = match provider {
            "entra_id" => (
                metadata_source(
                    env,
                    "ENTRA_ID_SAML_METADATA_URL",
                    "ENTRA_ID_SAML_METADATA_FILE",
                    "the App Federation Metadata Url on the app's Single sign-on page in the Entra admin center",
                )?,
                "Microsoft Entra ID",
                AttributeNames {
                    email: vec![entra_claims::EMAIL.into(), entra_claims::UPN.into()],
                    name: vec![entra_claims::DISPLAY_NAME.into()],
                    roles: vec![entra_claims::ROLE.into()],
                    subject: Some(entra_claims::OBJECT_ID.into()),
                },
                // "Assignment required? Yes", as for Entra over OpenID Connect.
                true,
            ),
            _ => (
                metadata_source(env, "SAML_IDP_METADATA_URL", "SAML_IDP_METADATA_FILE", "your IdP's SAML 2.0 metadata (its URL, or the XML downloaded to a file)")?,
                "your SAML identity provider",
                AttributeNames {
                    email: vec!["email".into(), "mail".into(), "urn:oid:0.9.2342.19200300.100.1.3".into(), entra_claims::EMAIL.into()],
                    name: vec!["displayName".into(), "urn:oid:2.16.840.1.113730.3.1.241".into(), "name".into(), "cn".into()],
                    roles: vec!["role".into(), "roles".into(), "groups".into(), entra_claims::ROLE.into()],
                    subject: None,
                },
                false,
            ),
        };
        let mut attributes = attributes;
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

/// Whether `entra_id` is configured for SAML (`ENTRA_ID_PROTOCOL=saml`).
pub fn entra_uses_saml(env: &Env) -> Result<bool, ConfigError> {
    match optional(env, "ENTRA_ID_PROTOCOL").map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("oidc") => Ok(false),
        Some("saml") => Ok(true),
        Some(other) => Err(err("ENTRA_ID_PROTOCOL", format!("`{other}` is not oidc or saml"), "saml")),
    }
}
