//! The identity providers, as protocols: what this server knows of each
//! configured provider and how it checks what they send. No handler and no
//! server state lives here; the sign-in routes (`crate::signin`) use it.
//!
//! - [`oidc`]: OpenID Connect (Core 1.0): discovery, signing keys, JWTs.
//!   The protocol work is done by the `openidconnect` crate (an OpenID
//!   Foundation-listed RP library); `jsonwebtoken` verifies the tokens it does
//!   not know (access tokens, back-channel logout tokens).
//! - [`saml`]: SAML 2.0: this server as an SP, the IdP's metadata, the checks
//!   before libxmlsec1, the HTTP-Redirect binding.
//! - [`identity`]: an ID token's or userinfo's claims read into an [`identity::Identity`].
//! - [`vendors`]: each vendor's quirks, one file each.

pub mod error;
pub mod identity;
pub mod provider;
pub mod oidc;
pub mod saml;
pub mod session_link;
pub mod vendors;

use crate::config::Config;
use crate::idp::vendors::OidcSettings;
use std::sync::Arc;
use std::time::Duration;

pub use oidc::{Discovered, Provider};

/// The configured external providers.
pub struct Registry {
    providers: Vec<Arc<Provider>>,
    /// SAML 2.0 providers (`crate::idp::saml`).
    saml: Vec<Arc<crate::idp::saml::SamlProvider>>,
    /// For calls to the providers: no redirects (a token request must never
    /// be replayed to another host), bounded time.
    pub http: reqwest::Client,
}

/// How often signing keys are refetched even without an unknown `kid`.
pub const JWKS_REFRESH: Duration = Duration::from_secs(3600);
/// At most one unknown-`kid` refetch per provider this often.
pub const JWKS_MIN_REFETCH: Duration = Duration::from_secs(10);

impl Registry {
    /// The providers of `config`; fails when a SAML provider's SP key pair
    /// cannot be read or created.
    pub fn new(config: &Config) -> Result<Self, String> {
        let http = crate::outbound::builder(&config.trust)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let providers = config
            .sso
            .providers
            .iter()
            .map(|s: &OidcSettings| Arc::new(Provider::new(s.clone(), config.public(&format!("/auth/{}/callback", s.provider)))))
            .collect();
        let mut saml = Vec::new();
        for s in &config.sso.saml {
            let sp = crate::idp::saml::sp::ServiceProviderIdentity::load(s, &|p: &str| config.public(p), &config.data_dir)?;
            saml.push(Arc::new(crate::idp::saml::SamlProvider::new(s.clone(), sp)));
        }
        Ok(Self { providers, saml, http })
    }

    pub fn saml(&self, name: &str) -> Option<Arc<crate::idp::saml::SamlProvider>> {
        self.saml.iter().find(|p| p.settings.provider == name).cloned()
    }

    pub fn all_saml(&self) -> &[Arc<crate::idp::saml::SamlProvider>] {
        &self.saml
    }

    /// The provider `name`, OpenID or SAML, as the one trait both implement.
    pub fn provider(&self, name: &str) -> Option<Arc<dyn provider::IdentityProvider>> {
        if let Some(p) = self.get(name) {
            return Some(p.clone() as Arc<dyn provider::IdentityProvider>);
        }
        self.saml(name).map(|p| p as Arc<dyn provider::IdentityProvider>)
    }

    /// Every provider, OpenID ones first, in the order configured.
    pub fn providers(&self) -> Vec<Arc<dyn provider::IdentityProvider>> {
        let oidc = self.providers.iter().map(|p| p.clone() as Arc<dyn provider::IdentityProvider>);
        oidc.chain(self.saml.iter().map(|p| p.clone() as Arc<dyn provider::IdentityProvider>)).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.settings.provider == name)
    }

    pub fn all(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    /// Discovers every provider in the background (retrying with backoff)
    /// and keeps their keys fresh.
    pub fn spawn_discovery(self: &Arc<Self>) {
        for p in &self.providers {
            let p = p.clone();
            let http = self.http.clone();
            tokio::spawn(async move { p.run(http).await });
        }
        for p in &self.saml {
            let p = p.clone();
            let http = self.http.clone();
            tokio::spawn(async move { p.run(http).await });
        }
    }
}

