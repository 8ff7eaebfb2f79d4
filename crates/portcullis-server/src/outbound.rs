//! Calls Portcullis makes to other servers (identity providers and
//! automations): one way to build their HTTP clients, so that every one
//! trusts the same certificate authorities; one way to read an answer under
//! a size cap; one way to say what went wrong.
//!
//! Trust: the web's roots compiled in (webpki-roots), the operating system's
//! store (rustls-native-certs, which reads `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` when they are set), and the PEM bundle named by
//! `PORTCULLIS_CA_BUNDLE`, for identity providers and automations behind a
//! company certificate authority (a self-hosted Keycloak, say).

use std::path::{Path, PathBuf};

/// The certificate authorities outbound calls trust beyond the built-in ones.
#[derive(Clone, Debug, Default)]
pub struct TrustConfig {
    /// `PORTCULLIS_CA_BUNDLE`: PEM certificates, read and checked at start.
    pub ca_bundle: Option<PathBuf>,
    /// The bundle as read (checked to hold certificates).
    pem: Vec<u8>,
}

impl TrustConfig {
    /// Reads and checks the bundle at `path` (one or more PEM certificates).
    pub fn with_bundle(path: &Path) -> Result<Self, String> {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| format!("{} is not a PEM certificate bundle: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display()));
        }
        Ok(Self { ca_bundle: Some(path.to_owned()), pem })
    }
}

impl TrustConfig {
    /// The same trust as [`builder`]'s, for a rustls client of our own
    /// (`upstream_client`): the built-in roots, the system's and the bundle's.
    pub fn root_store(&self) -> rustls::RootCertStore {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        // Checked when the configuration was read.
        roots.add_parsable_certificates(CertificateDer::pem_slice_iter(&self.pem).filter_map(Result::ok));
        roots
    }
}

/// A client builder trusting the built-in roots, the system's and the
/// configured bundle's. Callers add their own timeouts and redirect policy.
pub fn builder(trust: &TrustConfig) -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder().use_rustls_tls().tls_built_in_webpki_certs(true).tls_built_in_native_certs(true);
    // Checked when the configuration was read.
    for c in reqwest::Certificate::from_pem_bundle(&trust.pem).unwrap_or_default() {
        b = b.add_root_certificate(c);
    }
    b
}

/// Why a body was not read.
#[derive(Debug)]
pub enum ReadError {
    TooLarge(usize),
    Transport(reqwest::Error),
}

/// Reads a response body, stopping as soon as it passes `max` bytes (a
/// `Content-Length` over the cap is refused before anything is read), so a
/// hostile or broken server cannot make Portcullis buffer more.
pub async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge(max));
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Transport)? {
        if buf.len() + chunk.len() > max {
            return Err(ReadError::TooLarge(max));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge(max) => write!(f, "the answer is larger than {max} bytes"),
            ReadError::Transport(e) => f.write_str(&describe(e)),
        }
    }
}

/// Whether the TLS handshake failed because the server's certificate does
/// not chain to a trusted authority (or is otherwise not acceptable).
fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(rustls::Error::InvalidCertificate(c)) = err.downcast_ref::<rustls::Error>() {
            return Some(format!("{c:?}"));
        }
        // io::Error hides its payload from `source()` (hyper wraps the TLS
        // error in two of them): look inside first.
        let inner = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|i| i as &(dyn std::error::Error + 'static));
        cur = inner.or_else(|| err.source());
    }
    None
}

/// A failed call in words an operator can act on: timeouts, refused
/// connections, and above all an untrusted certificate with the setting
/// that fixes it. Never includes a token or a body.
pub fn describe(e: &reqwest::Error) -> String {
    let url = e.url().map(|u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default()) + &u.port().map(|p| format!(":{p}")).unwrap_or_default());
    let at = url.map(|u| format!(" {u}")).unwrap_or_default();
    if let Some(why) = certificate_problem(e) {
        let kind = if why.contains("UnknownIssuer") { "is not signed by a certificate authority this server trusts" } else { "was refused" };
        return format!(
            "the TLS certificate of{at} {kind} ({why}); if it comes from your company's certificate authority, give that CA's PEM file as PORTCULLIS_CA_BUNDLE (or add it to the system store or SSL_CERT_FILE)"
        );
    }
    if e.is_timeout() {
        format!("{at} did not answer in time").trim_start().to_owned()
    } else if e.is_connect() {
        format!("cannot connect to{at} (nothing listens there, or a firewall blocks it)")
    } else {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        msg
    }
}

/// At most 300 characters of an error description, for an answer.
pub fn short(s: &str) -> String {
    s.chars().take(300).collect()
}
