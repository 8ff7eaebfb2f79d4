//! Sign-in through SAML 2.0 identity providers (Entra ID's SAML apps, ADFS,
//! Okta SAML apps, Shibboleth, Keycloak SAML clients): SP-initiated Web
//! Browser SSO (SAML 2.0 Profiles §4.1), AuthnRequest over HTTP-Redirect,
//! the Response over HTTP-POST to `/auth/<provider>/callback`.
//!
//! XML signatures are verified by libxmlsec1, the reference XML-DSig
//! implementation, through `samael` (which binds it, pins the IdP's
//! certificates from metadata, and keeps only the nodes a signature
//! covered). The pure-Rust XML-DSig crates are younger and less proven;
//! libxmlsec1 is what SimpleSAMLphp's peers, Shibboleth's C++ SP and
//! python3-saml rely on. [`precheck`] refuses wrapping and parser attacks
//! before xmlsec sees the message.
//!
//! - the variables: `crate::config::saml`.
//! - [`sp`]: this server as a service provider: key pair, entity id, metadata.
//! - [`idp`]: the IdP's metadata, fetched and refreshed; its certificates pinned.
//! - [`precheck`]: size, DTD, comment, structure and algorithm checks.
//! - [`flow`]: `/auth/<p>/login`, the ACS, `/auth/<p>/metadata`.
//! - [`complete`]: `/auth/<p>/complete`, where the session starts (and the browser's old one ends).
//! - [`logout`]: single logout at `/auth/<p>/slo`, SP- and IdP-initiated.
//! - [`redirect`]: the HTTP-Redirect binding and its query-string signatures.

pub mod metadata;
pub mod precheck;
pub mod redirect;
pub mod session_name;
pub mod sign_in;
pub mod sp;

pub use crate::config::saml::SamlSettings;

use crate::idp::error::SignInError;
use precheck::Refusal;
use rand::RngCore;
use std::time::Duration;
use std::sync::{Arc, RwLock};

/// A fresh ID for a message of ours (AuthnRequest, LogoutRequest,
/// LogoutResponse): 160 random bits, hex, after `_` because an `xs:ID`
/// must not start with a digit.
pub fn new_message_id() -> String {
    let mut raw = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!("_{}", hex::encode(raw))
}

/// One configured SAML provider, with its SP identity and the IdP's
/// metadata as last read.
pub struct SamlProvider {
    pub settings: SamlSettings,
    pub sp: sp::ServiceProviderIdentity,
    idp: RwLock<Option<Arc<metadata::IdpMetadata>>>,
    problem: RwLock<Option<String>>,
}

impl SamlProvider {
    pub fn new(settings: SamlSettings, sp: sp::ServiceProviderIdentity) -> Self {
        Self { settings, sp, idp: RwLock::new(None), problem: RwLock::new(Some("metadata not read yet".into())) }
    }

    /// The IdP's metadata, once read.
    pub fn idp(&self) -> Option<Arc<metadata::IdpMetadata>> {
        self.idp.read().expect("metadata lock").clone()
    }

    /// Why the provider cannot be used now (for `/readyz`).
    pub fn problem(&self) -> Option<String> {
        self.problem.read().expect("metadata lock").clone()
    }

    fn set(&self, m: Result<metadata::IdpMetadata, String>) {
        match m {
            Ok(m) => {
                *self.idp.write().expect("metadata lock") = Some(Arc::new(m));
                *self.problem.write().expect("metadata lock") = None;
            }
            Err(e) => {
                // Keep serving with the metadata we have: a failed refresh
                // must not take sign-in down (the certificates stay pinned).
                if self.idp().is_none() {
                    *self.problem.write().expect("metadata lock") = Some(e);
                }
            }
        }
    }

    /// Reads the metadata now (at start, then every `SAML_METADATA_REFRESH`,
    /// retrying sooner while it has never been read).
    pub async fn run(self: Arc<Self>, http: reqwest::Client) {
        let mut backoff = std::time::Duration::from_secs(1);
        loop {
            let result = metadata::load(&self.settings, &self.sp, &http).await;
            let ok = result.is_ok();
            if let Err(e) = &result {
                tracing::warn!(provider = self.settings.provider, error = %e, "SAML metadata could not be read");
            } else {
                tracing::info!(provider = self.settings.provider, acs = %self.sp.acs_url, "SAML metadata read; register the ACS URL and entity id at the IdP");
            }
            self.set(result);
            let wait = if ok || self.idp().is_some() { self.settings.metadata_refresh } else { backoff };
            backoff = (backoff * 2).min(std::time::Duration::from_secs(60));
            tokio::time::sleep(wait).await;
        }
    }
}

/// Clock skew tolerated on assertion and message times (3 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(180);

/// A failed check, as the sign-in error it is.
pub fn refused(r: Refusal) -> SignInError {
    SignInError::Saml { check: r.check, cause: r.cause, fix: r.fix }
}

/// The IdP's metadata has not been read yet, so nothing can be checked.
pub fn unavailable(p: &SamlProvider) -> SignInError {
    SignInError::Saml {
        check: "unreachable",
        cause: format!("the identity provider's SAML metadata has not been read ({})", p.problem().unwrap_or_else(|| "not yet".into())),
        fix: "Try again in a minute; an administrator should check /readyz and the metadata URL variable.".into(),
    }
}
