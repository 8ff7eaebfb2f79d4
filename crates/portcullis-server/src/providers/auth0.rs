//! Auth0: issuer `https://{domain}/` (with the trailing slash Auth0 puts
//! in its tokens); roles from a namespaced custom claim set by an Action.

use super::{base_url, discovery, optional, required, required_secret, OidcSettings};
use super::Vendor;
use crate::config::{ConfigError, Env};

pub struct Auth0;

impl Vendor for Auth0 {
    fn name(&self) -> &'static str {
        "auth0"
    }
    fn display_name(&self) -> &'static str {
        "Auth0"
    }

    fn signature_hint(&self) -> &'static str {
        "Check AUTH0_DOMAIN, and that the application signs tokens with RS256 (Auth0 Dashboard → Applications → your app → Advanced Settings → OAuth)."
    }
    /// Auth0's access tokens name the application in `azp`.
    fn client_claims(&self) -> &'static [&'static str] {
        &["azp"]
    }

    fn settings(&self, env: &Env) -> Result<OidcSettings, ConfigError> {
        let client_id = required(env, "AUTH0_CLIENT_ID", "the Client ID of the Regular Web Application (Auth0 Dashboard → Applications)", "abc123")?;
        let client_secret = required_secret(env, "AUTH0_CLIENT_SECRET", "the Client Secret of the Regular Web Application")?;
        let domain_raw = required(env, "AUTH0_DOMAIN", "the Domain of the application (Auth0 Dashboard → Applications → your app)", "your-tenant.auth0.com")?;
        let base = base_url("AUTH0_DOMAIN", &domain_raw, "your-tenant.auth0.com")?;
        // Auth0 writes its issuer with a trailing slash.
        let issuer = format!("{}/", super::bare(&base));
        Ok(OidcSettings {
            provider: "auth0",
            discovery_url: discovery(&issuer),
            issuer,
            client_id,
            client_secret: Some(client_secret),
            audience: optional(env, "AUTH0_AUDIENCE"),
            device_client_id: optional(env, "AUTH0_DEVICE_AUTHORIZATION_CLIENT_ID"),
            roles_claim: "https://portcullis/roles".into(),
            cli_domain: base.host_str().unwrap_or_default().to_owned() + &base.port().map(|p| format!(":{p}")).unwrap_or_default(),
            require_role: false,
            cli_extra: serde_json::json!({}),
        })
    }
}
