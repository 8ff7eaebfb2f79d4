//! The IdP's SAML metadata: where to send AuthnRequests, and the
//! certificates its signatures must verify against. Read at start and every
//! `SAML_METADATA_REFRESH`; during a certificate rollover the metadata lists
//! both certificates, and either verifies. Certificates come only from
//! here, never from a message's `KeyInfo`.

use crate::config::saml::{MetadataSource, SamlSettings};
use super::precheck;
use super::sp::ServiceProviderIdentity;
use openssl::pkey::{PKey, Public};
use samael::metadata::EntityDescriptor;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use sha2::{Digest, Sha256};
use std::str::FromStr;

/// Metadata larger than this is refused (Entra's is about 10 KB).
const MAX_METADATA: usize = 1024 * 1024;
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

pub struct IdpMetadata {
    pub entity_id: String,
    /// The SingleSignOnService with the HTTP-Redirect binding.
    pub sso_url: String,
    /// The SingleLogoutService with the HTTP-Redirect binding: where
    /// LogoutRequests go, and (unless it names a `ResponseLocation`)
    /// LogoutResponses.
    pub slo: Option<LogoutEndpoint>,
    pub want_signed_requests: bool,
    /// SHA-256 fingerprints (hex) of the signing certificates.
    pub fingerprints: Vec<String>,
    /// When each of those certificates expires (Unix ms, same order).
    pub not_after: Vec<Option<i64>>,
    /// The public keys of those certificates, for signatures over
    /// HTTP-Redirect query strings (single logout).
    pub signing_keys: Vec<PKey<Public>>,
    /// `samael`'s service provider, holding the pinned certificates and our key.
    pub sp: ServiceProvider,
}

/// The IdP's single logout endpoint (SAML 2.0 Metadata §2.2.2).
#[derive(Clone, Debug)]
pub struct LogoutEndpoint {
    pub location: String,
    pub response_location: String,
}

/// An endpoint from the metadata, where browsers are sent: https, or http
/// on loopback (testing). Anything else (`javascript:`, plain http to
/// another host) is refused with the metadata.
fn endpoint(what: &str, location: &str) -> Result<String, String> {
    let url = url::Url::parse(location).map_err(|_| format!("the metadata's {what} `{location}` is not a URL"))?;
    let loopback = url.host_str().is_some_and(crate::config::loopback);
    if url.scheme() == "https" || (url.scheme() == "http" && loopback) {
        Ok(location.to_owned())
    } else {
        Err(format!("the metadata's {what} `{location}` is not an https URL (http is accepted only on loopback, for testing); correct the IdP's endpoint and its metadata"))
    }
}

/// The SHA-256 fingerprint of a DER certificate, as administrators see it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

async fn fetch(source: &MetadataSource, http: &reqwest::Client) -> Result<String, String> {
    match source {
        MetadataSource::File(path) => std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display())),
        MetadataSource::Url(url) => {
            let resp = http.get(url.clone()).send().await.map_err(|e| format!("{url}: {}", crate::outbound::describe(&e)))?;
            if !resp.status().is_success() {
                return Err(format!("{url} answered {}", resp.status()));
            }
            let bytes = crate::outbound::read_capped(resp, MAX_METADATA).await.map_err(|e| format!("{url}: metadata: {e}"))?;
            String::from_utf8(bytes).map_err(|_| format!("{url}: metadata is not UTF-8"))
        }
    }
}

/// Reads and checks the IdP's metadata.
pub async fn load(settings: &SamlSettings, sp: &ServiceProviderIdentity, http: &reqwest::Client) -> Result<IdpMetadata, String> {
    let text = fetch(&settings.metadata, http).await?;
    parse(settings, sp, &text)
}

/// Checks metadata text and builds the service provider around it.
pub fn parse(settings: &SamlSettings, sp: &ServiceProviderIdentity, text: &str) -> Result<IdpMetadata, String> {
    // The same XML rules as for messages: no DOCTYPE, no entities.
    let doc = precheck::parse(text).map_err(|r| r.cause)?;
    if doc.root_element().tag_name().name() != "EntityDescriptor" {
        return Err(format!("the metadata's root is <{}>, not one EntityDescriptor of the IdP", doc.root_element().tag_name().name()));
    }
    let descriptor = EntityDescriptor::from_str(text).map_err(|e| format!("not SAML metadata: {e}"))?;
    let entity_id = descriptor.entity_id.clone().filter(|e| !e.is_empty()).ok_or("the metadata has no entityID")?;
    let idp = descriptor.idp_sso_descriptors.as_ref().and_then(|d| d.first()).ok_or("the metadata has no IDPSSODescriptor: it is not an identity provider's")?;
    let sso_url = idp
        .single_sign_on_services
        .iter()
        .find(|e| e.binding == REDIRECT)
        .map(|e| endpoint("SingleSignOnService", &e.location))
        .ok_or("the IdP offers no SingleSignOnService with the HTTP-Redirect binding")??;
    let slo = match idp.single_logout_services.iter().find(|e| e.binding == REDIRECT) {
        None => None,
        Some(e) => {
            let location = endpoint("SingleLogoutService", &e.location)?;
            let response_location = match e.response_location.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => endpoint("SingleLogoutService ResponseLocation", r)?,
                None => location.clone(),
            };
            Some(LogoutEndpoint { location, response_location })
        }
    };
    let mut certs = Vec::new();
    let mut keys = Vec::new();
    let mut not_after = Vec::new();
    for kd in &idp.key_descriptors {
        if kd.key_use.as_deref().is_some_and(|u| u != "signing" && !u.is_empty()) {
            continue;
        }
        for c in kd.key_info.x509_data.iter().flat_map(|x| x.certificates.iter()) {
            use base64::Engine;
            let compact: String = c.chars().filter(|ch| !ch.is_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| "a signing certificate in the metadata is not base64")?;
            let x509 = openssl::x509::X509::from_der(&der).map_err(|_| "a signing certificate in the metadata is not an X.509 certificate")?;
            keys.push(x509.public_key().map_err(|_| "a signing certificate in the metadata holds no usable public key")?);
            not_after.push(super::sp::not_after_ms(&x509));
            certs.push(der);
        }
    }
    if certs.is_empty() {
        return Err("the metadata names no signing certificate, so no assertion could be verified".into());
    }
    // samael has no SHA-1 entry: with SAML_ALLOW_SHA1 it checks no list,
    // and the precheck keeps the algorithms closed.
    let allowed = (!settings.allow_sha1).then(|| {
        use samael::crypto::AllowedSignatureAlgorithm::*;
        vec![RsaSha256, RsaSha384, RsaSha512]
    });
    let built = ServiceProviderBuilder::default()
        .entity_id(sp.entity_id.clone())
        .key(sp.key.clone())
        .certificate(samael::crypto::CertificateDer::from(sp.cert_der.clone()))
        .acs_url(sp.acs_url.clone())
        .metadata_url(sp.metadata_url.clone())
        .slo_url(None::<String>)
        .idp_metadata(descriptor.clone())
        .allow_idp_initiated(settings.allow_idp_initiated)
        .max_clock_skew(chrono::Duration::seconds(180))
        .max_issue_delay(chrono::Duration::seconds(180))
        .allowed_signature_algorithms(allowed)
        .build()
        .map_err(|e| format!("building the service provider: {e}"))?;
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        slo,
        want_signed_requests: idp.want_authn_requests_signed.unwrap_or(false),
        fingerprints: certs.iter().map(|c| fingerprint(c)).collect(),
        not_after,
        signing_keys: keys,
        sp: built,
    })
}
