//! Browser single sign-on through OpenID providers (OpenID Connect Core 1.0,
//! authorization code flow with PKCE, RFC 7636).
//!
//! What is the same for every provider lives here; each vendor's quirks
//! (URL layout, where roles are, its error codes) are in `crate::providers`.
//! The protocol work is done by the `openidconnect` crate (an OpenID
//! Foundation-listed RP library): authorization URLs, the code exchange and
//! the ID token checks. `jsonwebtoken` verifies the tokens `openidconnect`
//! does not know (back-channel logout tokens).
//!
//! - [`discovery`]: reading each provider's metadata at start, with retries.
//! - [`jwks`]: the providers' signing keys, refetched on rotation.
//! - [`flow`]: `/auth/{provider}/login` and `/auth/{provider}/callback`.
//! - [`identity`]: the ID token and userinfo checks.
//! - [`provision`]: just-in-time accounts and role mapping.
//! - [`logout`]: RP-initiated and back-channel logout.
//! - [`error`]: failures as pages a person can act on.

pub mod discovery;
pub mod error;
pub mod flow;
pub mod identity;
pub mod jwks;
pub mod jwt;
pub mod logout;
pub mod provision;

use crate::config::Config;
use crate::providers::OidcSettings;
use std::sync::Arc;
use std::time::Duration;

pub use discovery::{Discovered, Provider};

/// The configured external providers.
pub struct Registry {
    providers: Vec<Arc<Provider>>,
    /// SAML 2.0 providers (`crate::saml`).
    saml: Vec<Arc<crate::saml::SamlProvider>>,
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
            let sp = crate::saml::sp::ServiceProviderIdentity::load(s, &|p: &str| config.public(p), &config.data_dir)?;
            saml.push(Arc::new(crate::saml::SamlProvider::new(s.clone(), sp)));
        }
        Ok(Self { providers, saml, http })
    }

    pub fn saml(&self, name: &str) -> Option<Arc<crate::saml::SamlProvider>> {
        self.saml.iter().find(|p| p.settings.provider == name).cloned()
    }

    pub fn all_saml(&self) -> &[Arc<crate::saml::SamlProvider>] {
        &self.saml
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

#[derive(serde::Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
}

/// `GET /auth/login`: the way in. With one way of signing in it goes there
/// directly (the platform's single-provider behaviour); with several
/// (`PORTCULLIS_AUTH_PROVIDERS`) it offers a choice.
pub async fn sign_in_page(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let rt = portcullis_domain::validation::safe_return_to(q.return_to.as_deref(), &state.config.public_origin());
    let query = if rt == "/" { String::new() } else { format!("?{}", serde_urlencoded::to_string([("return_to", rt.as_str())]).unwrap_or_default()) };
    let mut ways: Vec<(String, String)> =
        state.sso.all().iter().map(|p| (format!("/auth/{}/login{query}", p.settings.provider), format!("Sign in with {}", p.settings.vendor().display_name()))).collect();
    ways.extend(state.sso.all_saml().iter().map(|p| (format!("/auth/{}/login{query}", p.settings.provider), format!("Sign in with {}", p.settings.display_name))));
    if state.config.sso.local {
        ways.push((format!("/auth/local/login{query}"), "Sign in with a Portcullis password".into()));
    }
    if crate::auth::local::wants_json(&headers) {
        let list: Vec<_> = ways.iter().map(|(url, label)| serde_json::json!({ "url": url, "label": label })).collect();
        return axum::Json(serde_json::json!({ "ways": list })).into_response();
    }
    if ways.len() == 1 {
        return axum::response::Redirect::to(&ways[0].0).into_response();
    }
    let items: String = ways
        .iter()
        .map(|(url, label)| {
            format!("<p><a class=\"way\" href=\"{}\">{}</a></p>", html_escape::encode_double_quoted_attribute(url), html_escape::encode_text(label))
        })
        .collect();
    crate::pages::page(crate::error::Status::Ok, "Sign in", &format!("<h1>Sign in to Portcullis</h1>{items}"))
}

/// `GET /auth/parameters`: what a CLI needs to configure its device login
/// (the CLI wire contract, §1), from this server's environment: the external
/// provider's device client, or this server's own authorization server when
/// `local` is a provider. Without either, 404 naming the variable to set.
pub async fn cli_parameters(axum::extract::State(state): axum::extract::State<crate::state::AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let not_found = |message: String| crate::error::ApiError::new(crate::error::Status::NotFound, "device_login_not_configured", message).into_response();
    let external = state.config.sso.providers.first();
    // An external provider with a device client comes first; otherwise the
    // `local` provider's own authorization server, in the WorkOS layout
    // (wire contract §2: `https://{domain}/oauth2/...`, issuer `https://{domain}`).
    if state.config.sso.local && external.is_none_or(|p| p.device_client_id.is_none()) {
        let issuer = crate::oauth::issuer(&state);
        let domain = issuer.split_once("://").map(|(_, rest)| rest.to_owned()).unwrap_or(issuer);
        return axum::Json(serde_json::json!({
            "provider": "workos",
            "domain": domain,
            "device_authorization_client_id": state.config.local_auth.client_id,
            "audience": crate::oauth::audience(&state),
            "extra": {},
        }))
        .into_response();
    }
    let Some(p) = external else {
        return not_found("no way of signing in is configured".into());
    };
    let var = format!("{}_DEVICE_AUTHORIZATION_CLIENT_ID", p.provider.to_ascii_uppercase());
    let Some(client_id) = &p.device_client_id else {
        return not_found(format!(
            "CLI login is not configured: set {var} on the server to the public client that has the Device Authorization Grant enabled in {} (for Okta a Native Application, for Entra ID with \"Allow public client flows\", for Keycloak with Client authentication off)",
            p.vendor().display_name()
        ));
    };
    if p.provider == "entra_id" && p.cli_extra["scope"].as_str().unwrap_or_default().is_empty() {
        return not_found("CLI login is not configured: set ENTRA_ID_CUSTOM_OPENID_SCOPE to the scope from \"Expose an API\" (e.g. api://crewai-cli/read)".into());
    }
    axum::Json(serde_json::json!({
        "provider": p.provider,
        "domain": p.cli_domain,
        "device_authorization_client_id": client_id,
        "audience": p.audience,
        "extra": p.cli_extra,
    }))
    .into_response()
}
