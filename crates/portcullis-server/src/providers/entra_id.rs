//! Microsoft Entra ID: v2.0 endpoints under `ENTRA_ID_AUTHORITY_HOST`
//! (default `https://login.microsoftonline.com`, other hosts for sovereign
//! clouds); app roles in the `roles` claim.

use super::{bare, base_url, discovery, join, optional, required, required_secret, OidcSettings};
use super::Vendor;
use crate::sso::error::SsoError;
use crate::config::{ConfigError, Env};

pub struct EntraId;

impl Vendor for EntraId {
    fn name(&self) -> &'static str {
        "entra_id"
    }
    fn display_name(&self) -> &'static str {
        "Microsoft Entra ID"
    }

    fn require_role_default(&self) -> bool {
        true
    }
    fn explain_error(&self, _error: &str, description: &str) -> Option<SsoError> {
        // Entra ID puts its own code (AADSTSnnnnn) at the start of the description.
        let code = description.split(':').next().unwrap_or_default().trim();
        let (cause, fix): (String, String) = match code {
            "AADSTS65001" | "AADSTS90094" => (
                "Admin consent has not been granted for this application (AADSTS65001: \"needs admin approval\").".into(),
                "In the Azure portal go to Enterprise applications → your app → Permissions → Grant admin consent, and make sure User.Read is granted for Microsoft Graph.".into(),
            ),
            "AADSTS50105" => (
                "You are not assigned to this application in Microsoft Entra ID (AADSTS50105).".into(),
                "Ask an administrator to assign you a role (Member or Factory Admin) under Enterprise applications → your app → Users and groups.".into(),
            ),
            "AADSTS50011" => return Some(SsoError::RedirectUriMismatch),
            "AADSTS7000215" => (
                "Microsoft Entra ID refused the client secret (AADSTS7000215).".into(),
                "Create a new client secret under Certificates & Secrets and set ENTRA_ID_CLIENT_SECRET to its value (not its id).".into(),
            ),
            _ => return None,
        };
        Some(SsoError::Vendor { cause, fix })
    }
    fn signature_hint(&self) -> &'static str {
        "Check ENTRA_ID_TENANT_ID, and that accessTokenAcceptedVersion is set to 2 in the app manifest."
    }
    /// v2.0 access tokens name the client application in `azp`, v1.0 ones in `appid`.
    fn client_claims(&self) -> &'static [&'static str] {
        &["azp", "appid"]
    }

    fn settings(&self, env: &Env) -> Result<OidcSettings, ConfigError> {
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
        // The API audience is the application ID URI in front of the scope name
        // (`api://crewai-cli/read` → `api://crewai-cli`).
        let audience = scope.as_ref().map(|s| s.rsplit_once('/').map(|(a, _)| a.to_owned()).unwrap_or_else(|| s.clone()));
        Ok(OidcSettings {
            provider: "entra_id",
            discovery_url: discovery(&issuer),
            issuer,
            client_id,
            client_secret: Some(client_secret),
            audience,
            device_client_id: optional(env, "ENTRA_ID_DEVICE_AUTHORIZATION_CLIENT_ID"),
            roles_claim: "roles".into(),
            cli_domain: tenant,
            require_role: false,
            // A sovereign cloud's authority host rides along in `extra` (the
            // platform CLI ignores it and assumes the public cloud).
            cli_extra: if optional(env, "ENTRA_ID_AUTHORITY_HOST").is_some() {
                serde_json::json!({ "scope": scope.unwrap_or_default(), "authority_host": bare(&authority) })
            } else {
                serde_json::json!({ "scope": scope.unwrap_or_default() })
            },
        })
    }
}
