//! Keycloak: `{site}{base}/realms/{realm}` (`KEYCLOAK_BASE_URL` is `/auth`
//! for installations migrated from before v17); roles from
//! `realm_access.roles` (and `resource_access.<client>.roles`).

use super::{bare, base_url, discovery, join, optional, required, required_secret, OidcSettings};
use super::Vendor;
use crate::config::{ConfigError, Env};

pub struct Keycloak;

impl Vendor for Keycloak {
    fn name(&self) -> &'static str {
        "keycloak"
    }
    fn display_name(&self) -> &'static str {
        "Keycloak"
    }

    fn roles(&self, settings: &OidcSettings, claims: &serde_json::Value) -> Vec<String> {
        // Realm roles, plus the client's own roles, which Keycloak keeps
        // under resource_access.<client id>.roles.
        let mut roles = super::claim_strings(claims, &settings.roles_claim);
        if let Some(client) = claims.get("resource_access").and_then(|r| r.get(&settings.client_id)) {
            roles.extend(super::claim_strings(client, "roles"));
        }
        roles.sort();
        roles.dedup();
        roles
    }
    fn signature_hint(&self) -> &'static str {
        "Check KEYCLOAK_SITE, KEYCLOAK_REALM and KEYCLOAK_BASE_URL (/auth for installations from before Keycloak 17), and that KEYCLOAK_AUDIENCE matches the audience in your tokens (default: account)."
    }
    /// Keycloak names the client in `azp`; its default audience `account`
    /// is in the tokens of every client of the realm, so `azp` is what
    /// tells this installation's tokens from the others'.
    fn client_claims(&self) -> &'static [&'static str] {
        &["azp"]
    }
    /// Keycloak types its tokens in a `typ` claim: `Bearer` for access
    /// tokens, `ID` for ID tokens.
    fn marks_id_token(&self, claims: &serde_json::Value) -> bool {
        claims.get("typ").and_then(|v| v.as_str()).is_some_and(|t| t.eq_ignore_ascii_case("ID"))
    }

    fn settings(&self, env: &Env) -> Result<OidcSettings, ConfigError> {
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
            discovery_url: discovery(&issuer),
            issuer,
            client_id,
            client_secret: Some(client_secret),
            audience: Some(audience),
            device_client_id: optional(env, "KEYCLOAK_DEVICE_AUTHORIZATION_CLIENT_ID"),
            roles_claim: "realm_access.roles".into(),
            cli_domain: domain,
            require_role: false,
            cli_extra: serde_json::json!({ "realm": realm }),
        })
    }
}
