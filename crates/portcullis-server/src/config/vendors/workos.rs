//! WorkOS AuthKit: issuer `https://{authkit domain}`; a public client (PKCE,
//! no secret), also used for the device grant.
//!
//! Only the variables, read into plain settings: the vendor's behaviour
//! at sign-in is `crate::idp::vendors::workos`.

use super::super::oidc::{Audience, ClientId, Issuer, OidcSettings, VendorKind};
use super::super::{base_url, bare, discovery, required, ConfigError, Env};

pub fn settings(env: &Env) -> Result<OidcSettings, ConfigError> {
    let client_id = required(env, "WORKOS_CLIENT_ID", "the Client ID of the application (WorkOS Dashboard)", "client_01H...")?;
    let domain_raw = required(env, "WORKOS_AUTHKIT_DOMAIN", "the AuthKit domain (WorkOS Dashboard)", "your-domain.authkit.com")?;
    let base = base_url("WORKOS_AUTHKIT_DOMAIN", &domain_raw, "your-domain.authkit.com")?;
    let issuer = bare(&base);
    Ok(OidcSettings {
        provider: "workos",
        vendor: VendorKind::WorkOs,
        discovery_url: discovery(&issuer),
        cli_domain: base.host_str().unwrap_or_default().to_owned() + &base.port().map(|p| format!(":{p}")).unwrap_or_default(),
        issuer: Issuer::new(issuer),
        audience: Some(Audience::new(client_id.clone())),
        device_client_id: Some(ClientId::new(client_id.clone())),
        client_id: ClientId::new(client_id),
        client_secret: None,
        roles_claim: "role".into(),
        require_role: false,
        group_overage: None,
        cli_extra: serde_json::json!({}),
    })
}
