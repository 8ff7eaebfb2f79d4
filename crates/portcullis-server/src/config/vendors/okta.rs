//! Okta: a custom authorization server (`https://{site}/oauth2/{name}`) or,
//! with `OKTA_AUTHORIZATION_SERVER=org`, the org authorization server
//! (issuer `https://{site}`). Roles come from the `groups` claim by default.
//!
//! Only the variables, read into plain settings: the vendor's behaviour
//! at sign-in is `crate::idp::vendors::okta`.

use super::super::oidc::{Audience, ClientId, Issuer, OidcSettings, VendorKind};
use super::super::{base_url, bare, discovery, join, optional, required, required_secret, ConfigError, Env};

pub fn settings(env: &Env) -> Result<OidcSettings, ConfigError> {
    let client_id = required(env, "OKTA_CLIENT_ID", "the Client ID of the Okta Web Application (Okta Admin Console → Applications → your app)", "0oaqnwji7pGW7VT6T697")?;
    let client_secret = required_secret(env, "OKTA_CLIENT_SECRET", "the Client Secret of the Okta Web Application (Okta Admin Console → Applications → your app)")?;
    let site_raw = required(env, "OKTA_SITE", "the Okta URL shown at the top right of the Okta Admin Console, under your username", "https://your-domain.okta.com")?;
    let site = base_url("OKTA_SITE", &site_raw, "https://your-domain.okta.com")?;
    let server = required(env, "OKTA_AUTHORIZATION_SERVER", "the Name of the authorization server (Okta Admin Console → Security → API), e.g. default; `org` for the org authorization server", "default")?;
    if server.contains(['/', '?', '#', ' ']) {
        return Err(ConfigError { var: "OKTA_AUTHORIZATION_SERVER".into(), problem: format!("`{server}` is not an authorization server name"), example: "default".into() });
    }
    let audience = required(env, "OKTA_AUDIENCE", "the Audience of the authorization server (Okta Admin Console → Security → API); it must match exactly", "api://default")?;
    let org_server = server == "org";
    let issuer = if org_server { bare(&site) } else { bare(&join(&site, &format!("oauth2/{server}"))) };
    Ok(OidcSettings {
        provider: "okta",
        vendor: VendorKind::Okta,
        discovery_url: discovery(&issuer),
        issuer: Issuer::new(issuer),
        client_id: ClientId::new(client_id),
        client_secret: Some(client_secret),
        audience: Some(Audience::new(audience)),
        device_client_id: optional(env, "OKTA_DEVICE_AUTHORIZATION_CLIENT_ID").map(ClientId::new),
        roles_claim: "groups".into(),
        cli_domain: site.host_str().unwrap_or_default().to_owned() + &site.port().map(|p| format!(":{p}")).unwrap_or_default(),
        require_role: false,
        group_overage: None,
        cli_extra: serde_json::json!({
            "authorization_server_name": if org_server { serde_json::Value::Null } else { server.clone().into() },
            "using_org_auth_server": org_server,
        }),
    })
}
