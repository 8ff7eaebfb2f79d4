//! Microsoft Entra ID: v2.0 endpoints under `ENTRA_ID_AUTHORITY_HOST`
//! (default `https://login.microsoftonline.com`, other hosts for sovereign
//! clouds); app roles in the `roles` claim.

use super::{OidcSettings, Vendor};
use crate::idp::error::SignInError;

pub struct EntraId;

impl Vendor for EntraId {
    fn name(&self) -> &'static str {
        "entra_id"
    }
    fn display_name(&self) -> &'static str {
        "Microsoft Entra ID"
    }
    fn audience_variable(&self) -> &'static str {
        "ENTRA_ID_CUSTOM_OPENID_SCOPE"
    }
    fn cli_not_ready(&self, settings: &OidcSettings) -> Option<String> {
        settings.cli_extra["scope"].as_str().unwrap_or_default().is_empty().then(|| {
            "CLI login is not configured: set ENTRA_ID_CUSTOM_OPENID_SCOPE to the scope from \"Expose an API\" (e.g. api://crewai-cli/read)".to_owned()
        })
    }

    fn explain_error(&self, _error: &str, description: &str) -> Option<SignInError> {
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
            "AADSTS50011" => return Some(SignInError::RedirectUriMismatch),
            "AADSTS7000215" => (
                "Microsoft Entra ID refused the client secret (AADSTS7000215).".into(),
                "Create a new client secret under Certificates & Secrets and set ENTRA_ID_CLIENT_SECRET to its value (not its id).".into(),
            ),
            _ => return None,
        };
        Some(SignInError::Vendor { cause, fix })
    }
    fn signature_hint(&self) -> &'static str {
        "Check ENTRA_ID_TENANT_ID, and that accessTokenAcceptedVersion is set to 2 in the app manifest."
    }
    /// v2.0 access tokens name the client application in `azp`, v1.0 ones in `appid`.
    fn client_claims(&self) -> &'static [&'static str] {
        &["azp", "appid"]
    }

}
