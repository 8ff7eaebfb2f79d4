//! Reading a provider's metadata (OpenID Connect Discovery 1.0 §4) and
//! keeping it, with the provider's keys, for the life of the process.

use super::jwks::Jwks;
use crate::idp::{JWKS_MIN_REFETCH, JWKS_REFRESH};
use crate::idp::vendors::OidcSettings;
use openidconnect::core::{CoreClient, CoreClientAuthMethod, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, RedirectUrl};
use secrecy::ExposeSecret;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use url::Url;

/// Largest discovery document accepted.
const MAX_DISCOVERY_BYTES: usize = 256 * 1024;

/// An OpenID client built from discovery metadata.
pub type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A provider's metadata, read once.
pub struct Discovered {
    /// Built once here, not per sign-in.
    pub client: Client,
    /// OpenID Connect RP-Initiated Logout 1.0 §2.1.
    pub end_session_endpoint: Option<Url>,
    /// RFC 9207 §3: the provider puts `iss` in authorization responses, so
    /// one without it is refused.
    pub iss_parameter_supported: bool,
    pub jwks: Jwks,
}

/// One configured provider, with what was discovered about it.
pub struct Provider {
    pub settings: OidcSettings,
    /// `<public url>/auth/<provider>/callback`, exactly as registered at the IdP.
    pub callback_url: String,
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// Why the provider is not usable yet, while discovery keeps failing.
    problem: RwLock<Option<String>>,
    /// Makes discovery single-flight between the background task and sign-ins.
    discovering: tokio::sync::Mutex<()>,
    /// Lists the groups a token left out for size (Entra ID only).
    pub group_overage: Option<Arc<crate::idp::vendors::entra_id_overage::GroupOverage>>,
}

impl Provider {
    pub fn new(settings: OidcSettings, callback_url: String) -> Self {
        Self {
            problem: RwLock::new(Some("discovery has not finished yet".into())),
            group_overage: crate::idp::vendors::entra_id_overage::GroupOverage::new(&settings).map(Arc::new),
            settings,
            callback_url,
            discovered: RwLock::new(None),
            discovering: tokio::sync::Mutex::new(()),
        }
    }

    pub fn discovered(&self) -> Option<Arc<Discovered>> {
        self.discovered.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn problem(&self) -> Option<String> {
        self.problem.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The discovered provider, discovering it now if the background task
    /// has not managed to yet (so a provider that just came up is usable
    /// at once). `Err` says why it is unreachable.
    pub async fn ready(&self, http: &reqwest::Client) -> Result<Arc<Discovered>, String> {
        if let Some(d) = self.discovered() {
            return Ok(d);
        }
        let _one = self.discovering.lock().await;
        if let Some(d) = self.discovered() {
            return Ok(d);
        }
        self.discover_once(http).await
    }

    async fn discover_once(&self, http: &reqwest::Client) -> Result<Arc<Discovered>, String> {
        match discover(&self.settings, &self.callback_url, http).await {
            Ok(d) => {
                let d = Arc::new(d);
                *self.discovered.write().unwrap_or_else(|e| e.into_inner()) = Some(d.clone());
                *self.problem.write().unwrap_or_else(|e| e.into_inner()) = None;
                tracing::info!(provider = self.settings.provider, issuer = %self.settings.issuer, callback = %self.callback_url, "identity provider discovered");
                Ok(d)
            }
            Err(e) => {
                *self.problem.write().unwrap_or_else(|e| e.into_inner()) = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Background task: discover with backoff (1 s doubling to 60 s), then
    /// refresh the keys every [`JWKS_REFRESH`].
    pub async fn run(self: Arc<Self>, http: reqwest::Client) {
        let mut wait = Duration::from_secs(1);
        loop {
            let result = {
                let _one = self.discovering.lock().await;
                match self.discovered() {
                    Some(d) => Ok(d),
                    None => self.discover_once(&http).await,
                }
            };
            match result {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(provider = self.settings.provider, url = %self.settings.discovery_url, error = %e, retry_in = ?wait, "identity provider unreachable");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
            }
        }
        loop {
            tokio::time::sleep(JWKS_REFRESH).await;
            if let Some(d) = self.discovered() {
                if let Err(e) = d.jwks.fetch(&http).await {
                    tracing::warn!(provider = self.settings.provider, error = %e, "periodic refresh of signing keys failed; keeping the old ones");
                }
            }
        }
    }
}

async fn get_json(http: &reqwest::Client, url: &Url) -> Result<bytes::Bytes, String> {
    let resp = http.get(url.clone()).header("accept", "application/json").send().await.map_err(|e| format!("{url}: {}", crate::outbound::describe(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("{url} answered HTTP {}", resp.status()));
    }
    let body = crate::outbound::read_capped(resp, MAX_DISCOVERY_BYTES).await.map_err(|e| format!("{url}: {e}"))?;
    Ok(body.into())
}

/// Reads the discovery document, checks that it describes the configured
/// issuer (Discovery §4.3: the `issuer` must be identical to the one the
/// document was retrieved for) and that every endpoint is https (or
/// loopback http), then fetches the keys.
pub async fn discover(settings: &OidcSettings, callback_url: &str, http: &reqwest::Client) -> Result<Discovered, String> {
    let body = get_json(http, &settings.discovery_url).await?;
    let mut metadata: CoreProviderMetadata =
        serde_json::from_slice(&body).map_err(|e| format!("{} is not an OpenID discovery document: {e}", settings.discovery_url))?;
    let raw: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    if metadata.issuer().as_str() != settings.issuer {
        return Err(format!(
            "the discovery document at {} names issuer `{}`, but `{}` is configured; check the provider's variables",
            settings.discovery_url,
            metadata.issuer().as_str(),
            settings.issuer
        ));
    }
    let mut endpoints = vec![metadata.authorization_endpoint().url().clone(), metadata.jwks_uri().url().clone()];
    let token = metadata.token_endpoint().ok_or("the discovery document has no token_endpoint")?;
    endpoints.push(token.url().clone());
    if let Some(u) = metadata.userinfo_endpoint() {
        endpoints.push(u.url().clone());
    }
    let end_session_endpoint = raw.get("end_session_endpoint").and_then(|v| v.as_str()).map(Url::parse).transpose().map_err(|e| format!("end_session_endpoint: {e}"))?;
    endpoints.extend(end_session_endpoint.clone());
    for u in &endpoints {
        crate::config::base_url("discovery", u.as_str(), "https://idp.example.com").map_err(|e| format!("endpoint {u}: {}", e.problem))?;
    }
    let jwks = Jwks::new(settings.provider, metadata.jwks_uri().url().clone(), JWKS_MIN_REFETCH);
    let keys = jwks.fetch(http).await.map_err(|e| format!("signing keys at {}: {e}", metadata.jwks_uri().url()))?;
    metadata = metadata.set_jwks(keys.core.clone());
    let iss_parameter_supported = raw.get("authorization_response_iss_parameter_supported").and_then(|v| v.as_bool()).unwrap_or(false);
    // client_secret_basic unless the IdP offers only other methods.
    let post_only = metadata.token_endpoint_auth_methods_supported().is_some_and(|m| !m.contains(&CoreClientAuthMethod::ClientSecretBasic));
    let mut client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.to_string()),
        settings.client_secret.as_ref().map(|x| ClientSecret::new(x.expose_secret().to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(callback_url.to_owned()).map_err(|e| format!("callback URL {callback_url}: {e}"))?);
    if post_only {
        client = client.set_auth_type(openidconnect::AuthType::RequestBody);
    }
    Ok(Discovered { client, end_session_endpoint, iss_parameter_supported, jwks })
}
