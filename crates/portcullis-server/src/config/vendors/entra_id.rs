//! Microsoft Entra ID: v2.0 endpoints under `ENTRA_ID_AUTHORITY_HOST`
//! (default `https://login.microsoftonline.com`, other hosts for sovereign
//! clouds); app roles in the `roles` claim.
//!
//! Only the variables, read into plain settings: the vendor's behaviour
//! at sign-in is `crate::idp::vendors::entra_id`.

use super::super::oidc::{Audience, ClientId, GraphSettings, Issuer, OidcSettings, VendorKind};
use super::super::saml_source::{metadata_source, AttributeNames, SamlDefaults};
use super::super::err;
use super::super::{base_url, bare, discovery, join, optional, required, required_secret, ConfigError, Env};

pub fn settings(env: &Env) -> Result<OidcSettings, ConfigError> {
    let client_id = required(env, "ENTRA_ID_CLIENT_ID", "the Application (client) ID on the app's overview page (portal.azure.com → Microsoft Entra ID → App registrations)", "00000000-0000-0000-0000-000000000000")?;
    let client_secret = required_secret(env, "ENTRA_ID_CLIENT_SECRET", "the value of a client secret (App registrations → your app → Certificates & Secrets)")?;
    let tenant = required(env, "ENTRA_ID_TENANT_ID", "the Directory (tenant) ID on the app's overview page", "00000000-0000-0000-0000-000000000000")?;
    if !tenant.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
        return Err(ConfigError { var: "ENTRA_ID_TENANT_ID".into(), problem: format!("`{tenant}` is not a tenant id"), example: "00000000-0000-0000-0000-000000000000".into() });
    }
    let host = optional(env, "ENTRA_ID_AUTHORITY_HOST").unwrap_or_else(|| "https://login.microsoftonline.com".into());
    let authority = base_url("ENTRA_ID_AUTHORITY_HOST", &host, "https://login.microsoftonline.us")?;
    let issuer = bare(&join(&authority, &format!("{tenant}/v2.0")));
    let scope = optional(env, "ENTRA_ID_CUSTOM_OPENID_SCOPE");
    // Group overage is resolved at the national cloud's Graph, with a token
    // from the same authority host as sign-in.
    let graph = optional(env, "ENTRA_ID_GRAPH_HOST").unwrap_or_else(|| "https://graph.microsoft.com".into());
    let group_overage = GraphSettings {
        graph_url: base_url("ENTRA_ID_GRAPH_HOST", &graph, "https://graph.microsoft.us")?,
        token_url: join(&authority, &format!("{tenant}/oauth2/v2.0/token")),
    };
    // The API audience is the application ID URI in front of the scope name
    // (`api://crewai-cli/read` → `api://crewai-cli`).
    let audience = scope.as_ref().map(|s| s.rsplit_once('/').map(|(a, _)| a.to_owned()).unwrap_or_else(|| s.clone()));
    Ok(OidcSettings {
        provider: "entra_id",
        vendor: VendorKind::EntraId,
        discovery_url: discovery(&issuer),
        issuer: Issuer::new(issuer),
        client_id: ClientId::new(client_id),
        client_secret: Some(client_secret),
        audience: audience.map(Audience::new),
        device_client_id: optional(env, "ENTRA_ID_DEVICE_AUTHORIZATION_CLIENT_ID").map(ClientId::new),
        roles_claim: "roles".into(),
        cli_domain: tenant,
        // "Assignment required? Yes": users without a role are refused.
        require_role: true,
        group_overage: Some(group_overage),
        // A sovereign cloud's authority host rides along in `extra` (the
        // platform CLI ignores it and assumes the public cloud).
        cli_extra: if optional(env, "ENTRA_ID_AUTHORITY_HOST").is_some() {
            serde_json::json!({ "scope": scope.unwrap_or_default(), "authority_host": bare(&authority) })
        } else {
            serde_json::json!({ "scope": scope.unwrap_or_default() })
        },
    })
}

/// The Entra ID claim URIs (Microsoft's SAML token reference).
pub mod claims {
    pub const ROLE: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
    pub const EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
    pub const UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
    pub const DISPLAY_NAME: &str = "http://schemas.microsoft.com/identity/claims/displayname";
    pub const OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
}


/// Entra ID through its SAML app (`ENTRA_ID_PROTOCOL=saml`): the app's
/// federation metadata, Microsoft's claim URIs, and "Assignment required?
/// Yes", as for Entra over OpenID Connect.
pub fn saml(env: &Env) -> Result<SamlDefaults, ConfigError> {
    Ok(SamlDefaults {
        metadata: metadata_source(
            env,
            "ENTRA_ID_SAML_METADATA_URL",
            "ENTRA_ID_SAML_METADATA_FILE",
            "the App Federation Metadata Url on the app's Single sign-on page in the Entra admin center",
        )?,
        display_name: "Microsoft Entra ID",
        attributes: AttributeNames {
            email: vec![claims::EMAIL.into(), claims::UPN.into()],
            name: vec![claims::DISPLAY_NAME.into()],
            roles: vec![claims::ROLE.into()],
            subject: Some(claims::OBJECT_ID.into()),
        },
        require_role: true,
    })
}

/// Whether `entra_id` is configured for SAML (`ENTRA_ID_PROTOCOL=saml`).
pub fn uses_saml(env: &Env) -> Result<bool, ConfigError> {
    match optional(env, "ENTRA_ID_PROTOCOL").map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("oidc") => Ok(false),
        Some("saml") => Ok(true),
        Some(other) => Err(err("ENTRA_ID_PROTOCOL", format!("`{other}` is not oidc or saml"), "saml")),
    }
}
