//! This server as a SAML service provider: its entity id, endpoints and key
//! pair (which signs AuthnRequests when the IdP wants them and decrypts
//! encrypted assertions), and the SP metadata served at
//! `/auth/<provider>/metadata`.
//!
//! The key pair comes from `SAML_SP_KEY_FILE` + `SAML_SP_CERT_FILE`, or is
//! generated once into the data directory (RSA 3072, a self-signed
//! certificate valid 10 years: SAML trusts the certificate through metadata,
//! not through a CA). `openssl` does this because libxmlsec1, through
//! `samael`, uses OpenSSL keys anyway.

use openssl::pkey::{PKey, Private};
use std::path::Path;

pub struct ServiceProviderIdentity {
    pub entity_id: String,
    pub acs_url: String,
    /// Single logout, HTTP-Redirect binding: `/auth/<provider>/slo`.
    pub slo_url: String,
    pub metadata_url: String,
    pub key: PKey<Private>,
    pub cert_der: Vec<u8>,
}

// The private key never reaches Debug output.
impl std::fmt::Debug for ServiceProviderIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProviderIdentity").field("entity_id", &self.entity_id).field("acs_url", &self.acs_url).finish_non_exhaustive()
    }
}

impl ServiceProviderIdentity {
    /// The SP of `provider`, its keys read or created.
    pub fn load(settings: &super::SamlSettings, public: &dyn Fn(&str) -> String, data_dir: &Path) -> Result<Self, String> {
        let p = settings.provider;
        let (key, cert_der) = match (&settings.sp_key_file, &settings.sp_cert_file) {
            (Some(k), Some(c)) => read_pair(k, c)?,
            _ => load_or_generate(&data_dir.join(format!("saml-sp-{p}.key")), &data_dir.join(format!("saml-sp-{p}.crt")), &public(""))?,
        };
        let metadata_url = public(&format!("/auth/{p}/metadata"));
        Ok(Self {
            entity_id: settings.sp_entity_id.clone().unwrap_or_else(|| metadata_url.clone()),
            acs_url: public(&format!("/auth/{p}/callback")),
            slo_url: public(&format!("/auth/{p}/slo")),
            metadata_url,
            key,
            cert_der,
        })
    }

    /// The base64 DER certificate, as metadata and KeyInfo carry it.
    pub fn cert_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.cert_der)
    }

    /// SP metadata (SAML 2.0 Metadata §2.4.4): the ACS (HTTP-POST), single
    /// logout (HTTP-Redirect), the certificate for signing and for
    /// encryption, signed requests and signed assertions wanted.
    pub fn metadata_xml(&self) -> String {
        use html_escape::encode_double_quoted_attribute as attr;
        let cert = self.cert_base64();
        let key = |usage: &str| {
            format!(
                "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            )
        };
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">\
             <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
             {signing}{encryption}\
             <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{slo}\"/>\
             <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\
             <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\
             </md:SPSSODescriptor></md:EntityDescriptor>\n",
            entity = attr(&self.entity_id),
            signing = key("signing"),
            encryption = key("encryption"),
            acs = attr(&self.acs_url),
            slo = attr(&self.slo_url),
        )
    }
}

fn read_pair(key: &Path, cert: &Path) -> Result<(PKey<Private>, Vec<u8>), String> {
    let k = std::fs::read(key).map_err(|e| format!("SAML_SP_KEY_FILE {}: {e}", key.display()))?;
    let c = std::fs::read(cert).map_err(|e| format!("SAML_SP_CERT_FILE {}: {e}", cert.display()))?;
    let key = PKey::private_key_from_pem(&k).map_err(|_| format!("SAML_SP_KEY_FILE {} is not a PEM private key", key.display()))?;
    let x509 = openssl::x509::X509::from_pem(&c).map_err(|_| format!("SAML_SP_CERT_FILE {} is not a PEM certificate", cert.display()))?;
    let matches = x509.public_key().map(|p| p.public_eq(&key)).unwrap_or(false);
    if !matches {
        return Err("SAML_SP_CERT_FILE does not belong to SAML_SP_KEY_FILE (their public keys differ)".into());
    }
    Ok((key, x509.to_der().map_err(|e| e.to_string())?))
}

fn load_or_generate(key_path: &Path, cert_path: &Path, public: &str) -> Result<(PKey<Private>, Vec<u8>), String> {
    if key_path.exists() && cert_path.exists() {
        return read_pair(key_path, cert_path).map_err(|e| e.replace("SAML_SP_KEY_FILE", "the generated SP key").replace("SAML_SP_CERT_FILE", "the generated SP certificate"));
    }
    let (key, cert) = generate(public).map_err(|e| format!("generating the SAML SP key pair: {e}"))?;
    write_private(key_path, &key.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?)?;
    write_private(cert_path, &cert.to_pem().map_err(|e| e.to_string())?)?;
    tracing::info!(key = %key_path.display(), "generated the SAML service provider's key pair");
    Ok((key, cert.to_der().map_err(|e| e.to_string())?))
}

fn generate(public: &str) -> Result<(PKey<Private>, openssl::x509::X509), openssl::error::ErrorStack> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::x509::{X509NameBuilder, X509};
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(3072)?)?;
    let host = url::Url::parse(public).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "portcullis".into());
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", &format!("Portcullis SAML SP {host}"))?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(128, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
    b.set_not_before(&from)?;
    b.set_not_after(&until)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((key, b.build()))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// When `cert` expires, in Unix milliseconds (for the expiry warnings).
pub fn not_after_ms(cert: &openssl::x509::X509Ref) -> Option<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(cert.not_after()).ok()?;
    Some((d.days as i64 * 86_400 + d.secs as i64) * 1000)
}

impl ServiceProviderIdentity {
    /// When this service provider's own certificate expires (Unix ms).
    pub fn cert_not_after_ms(&self) -> Option<i64> {
        let cert = openssl::x509::X509::from_der(&self.cert_der).ok()?;
        not_after_ms(&cert)
    }
}
