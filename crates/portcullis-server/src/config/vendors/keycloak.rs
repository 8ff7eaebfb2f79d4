//! Keycloak: `{site}{base}/realms/{realm}` (`KEYCLOAK_BASE_URL` is `/auth`
//! for installations migrated from before v17); roles from
//! `realm_access.roles` (and `resource_access.<client>.roles`).
//!
//! Only the variables, read into plain settings: the vendor's behaviour
//! at sign-in is `crate::idp::vendors::keycloak`.

use super::super::oidc::{Audience, ClientId, Issuer, OidcSettings, VendorKind};
use super::super::{base_url, bare, discovery, join, optional, required, required_secret, ConfigError, Env};

pub fn settings(env: &Env) -> Result<OidcSettings, ConfigError> {
    let client_id = required(env, "KEYCLOAK_CLIENT_ID", "the Client ID of the client (Keycloak Admin Console → your realm → Clients)", "crewai-factory")?;
    let client_secret = required_secret(env, "KEYCLOAK_CLIENT_SECRET", "the Client secret on the client's Credentials tab")?;
    let site_raw = required(env, "KEYCLOAK_SITE", "the Keycloak server URL", "https://keycloak.yourdomain.com")?;
    let site = base_url("KEYCLOAK_SITE", &site_raw, "https://keycloak.yourdomain.com")?;
    let realm = required(env, "KEYCLOAK_REALM", "the realm name (Keycloak Admin Console, top left)", "factory")?;
    if realm.contains(['/', '?', '#', ' ']) {
        return Err(ConfigError { var: "KEYCLOAK_REALM".into(), problem: format!("`{realm}` is not a realm name"), example: "factory".into() });
    }
    let base_path = optional(env, "KEYCLOAK_BASE_URL").unwrap_or_default();
    if !base_path.is_empty() && (!base_path.starts_with('/') || base_path.contains(['?', '#', ' '])) {
        return Err(ConfigError { var: "KEYCLOAK_BASE_URL".into(), problem: format!("`{base_path}` must be a path starting with /"), example: "/auth".into() });
    }
    let root = if base_path.is_empty() { site.clone() } else { join(&site, &base_path) };
    let issuer = bare(&join(&root, &format!("realms/{realm}")));
    let audience = optional(env, "KEYCLOAK_AUDIENCE").unwrap_or_else(|| "account".into());
    let domain = format!("{}{}", root.host_str().unwrap_or_default(), root.port().map(|p| format!(":{p}")).unwrap_or_default())
        + root.path().trim_end_matches('/');
    Ok(OidcSettings {
        provider: "keycloak",
        vendor: VendorKind::Keycloak,
        discovery_url: discovery(&issuer),
        issuer: Issuer::new(issuer),
        client_id: ClientId::new(client_id),
        client_secret: Some(client_secret),
        audience: Some(Audience::new(audience)),
        device_client_id: optional(env, "KEYCLOAK_DEVICE_AUTHORIZATION_CLIENT_ID").map(ClientId::new),
        roles_claim: "realm_access.roles".into(),
        cli_domain: domain,
        require_role: false,
        group_overage: None,
        cli_extra: serde_json::json!({ "realm": realm }),
    })
}
