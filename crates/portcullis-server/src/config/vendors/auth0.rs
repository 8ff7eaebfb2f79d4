//! Auth0: issuer `https://{domain}/` (with the trailing slash Auth0 puts
//! in its tokens); roles from a namespaced custom claim set by an Action.
//!
//! Only the variables, read into plain settings: the vendor's behaviour
//! at sign-in is `crate::idp::vendors::auth0`.

use super::super::oidc::{Audience, ClientId, Issuer, OidcSettings, VendorKind};
use super::super::{base_url, bare, discovery, optional, required, required_secret, ConfigError, Env};

pub fn settings(env: &Env) -> Result<OidcSettings, ConfigError> {
    let client_id = required(env, "AUTH0_CLIENT_ID", "the Client ID of the Regular Web Application (Auth0 Dashboard → Applications)", "abc123")?;
    let client_secret = required_secret(env, "AUTH0_CLIENT_SECRET", "the Client Secret of the Regular Web Application")?;
    let domain_raw = required(env, "AUTH0_DOMAIN", "the Domain of the application (Auth0 Dashboard → Applications → your app)", "your-tenant.auth0.com")?;
    let base = base_url("AUTH0_DOMAIN", &domain_raw, "your-tenant.auth0.com")?;
    // Auth0 writes its issuer with a trailing slash.
    let issuer = format!("{}/", bare(&base));
    Ok(OidcSettings {
        provider: "auth0",
        vendor: VendorKind::Auth0,
        discovery_url: discovery(&issuer),
        issuer: Issuer::new(issuer),
        client_id: ClientId::new(client_id),
        client_secret: Some(client_secret),
        audience: optional(env, "AUTH0_AUDIENCE").map(Audience::new),
        device_client_id: optional(env, "AUTH0_DEVICE_AUTHORIZATION_CLIENT_ID").map(ClientId::new),
        roles_claim: "https://portcullis/roles".into(),
        cli_domain: base.host_str().unwrap_or_default().to_owned() + &base.port().map(|p| format!(":{p}")).unwrap_or_default(),
        require_role: false,
        group_overage: None,
        cli_extra: serde_json::json!({}),
    })
}
