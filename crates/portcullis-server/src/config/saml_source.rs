//! The parts of a SAML provider's settings that each vendor supplies: where
//! the IdP's metadata comes from and which attributes its assertions use
//! (`super::vendors::entra_id`, `super::vendors::saml` for any other IdP).

use super::{err, optional, ConfigError, Env};
use std::path::PathBuf;
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

/// The metadata source from `url_var` or `file_var` (exactly one), https
/// unless on loopback: the metadata pins the keys that sign assertions.
pub fn metadata_source(env: &Env, url_var: &str, file_var: &str, where_to_find: &str) -> Result<MetadataSource, ConfigError> {
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

/// What a vendor gives a SAML provider before the shared `SAML_*` variables.
pub struct SamlDefaults {
    pub metadata: MetadataSource,
    pub display_name: &'static str,
    pub attributes: AttributeNames,
    /// The default of `PORTCULLIS_REQUIRE_ROLE`.
    pub require_role: bool,
}
