//! WorkOS AuthKit: issuer `https://{authkit domain}`; a public client (PKCE,
//! no secret), also used for the device grant.

use super::{base_url, discovery, required, OidcSettings};
use super::Vendor;
use crate::config::{ConfigError, Env};

pub struct WorkOs;

impl Vendor for WorkOs {
    fn name(&self) -> &'static str {
        "workos"
    }
    fn display_name(&self) -> &'static str {
        "WorkOS"
    }
    /// AuthKit's OAuth access tokens name the requesting application in
    /// `client_id` (RFC 9068). Their audience is the same client id as the
    /// ID tokens', so this claim is also what tells the two apart.
    fn client_claims(&self) -> &'static [&'static str] {
        &["client_id"]
    }

    fn settings(&self, env: &Env) -> Result<OidcSettings, ConfigError> {
        let client_id = required(env, "WORKOS_CLIENT_ID", "the Client ID of the application (WorkOS Dashboard)", "client_01H...")?;
        let domain_raw = required(env, "WORKOS_AUTHKIT_DOMAIN", "the AuthKit domain (WorkOS Dashboard)", "your-domain.authkit.com")?;
        let base = base_url("WORKOS_AUTHKIT_DOMAIN", &domain_raw, "your-domain.authkit.com")?;
        let issuer = super::bare(&base);
        Ok(OidcSettings {
            provider: "workos",
            discovery_url: discovery(&issuer),
            cli_domain: base.host_str().unwrap_or_default().to_owned() + &base.port().map(|p| format!(":{p}")).unwrap_or_default(),
            issuer,
            audience: Some(client_id.clone()),
            device_client_id: Some(client_id.clone()),
            client_id,
            client_secret: None,
            roles_claim: "role".into(),
            require_role: false,
            cli_extra: serde_json::json!({}),
        })
    }
}
