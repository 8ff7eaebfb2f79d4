//! `AUTH_PROVIDER=saml`: any SAML 2.0 IdP (ADFS, Okta SAML apps, Shibboleth,
//! Keycloak SAML clients), with the attribute names they commonly use.

use super::super::saml_source::{metadata_source, AttributeNames, SamlDefaults};
use super::super::{ConfigError, Env};
use super::entra_id::claims;

/// `SAML_IDP_METADATA_URL` or `SAML_IDP_METADATA_FILE`, and the common names
/// (LDAP's OIDs, Microsoft's claim URIs as ADFS sends them).
pub fn saml(env: &Env) -> Result<SamlDefaults, ConfigError> {
    Ok(SamlDefaults {
        metadata: metadata_source(env, "SAML_IDP_METADATA_URL", "SAML_IDP_METADATA_FILE", "your IdP's SAML 2.0 metadata (its URL, or the XML downloaded to a file)")?,
        display_name: "your SAML identity provider",
        attributes: AttributeNames {
            email: vec!["email".into(), "mail".into(), "urn:oid:0.9.2342.19200300.100.1.3".into(), claims::EMAIL.into()],
            name: vec!["displayName".into(), "urn:oid:2.16.840.1.113730.3.1.241".into(), "name".into(), "cn".into()],
            roles: vec!["role".into(), "roles".into(), "groups".into(), claims::ROLE.into()],
            subject: None,
        },
        require_role: false,
    })
}
