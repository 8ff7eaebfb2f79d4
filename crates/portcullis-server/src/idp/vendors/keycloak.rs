//! Keycloak: `{site}{base}/realms/{realm}` (`KEYCLOAK_BASE_URL` is `/auth`
//! for installations migrated from before v17); roles from
//! `realm_access.roles` (and `resource_access.<client>.roles`).

use super::OidcSettings;
use super::Vendor;

pub struct Keycloak;

impl Vendor for Keycloak {
    fn name(&self) -> &'static str {
        "keycloak"
    }
    fn display_name(&self) -> &'static str {
        "Keycloak"
    }
    fn audience_variable(&self) -> &'static str {
        "KEYCLOAK_AUDIENCE"
    }

    fn roles(&self, settings: &OidcSettings, claims: &serde_json::Value) -> Vec<String> {
        // Realm roles, plus the client's own roles, which Keycloak keeps
        // under resource_access.<client id>.roles.
        let mut roles = super::claim_strings(claims, &settings.roles_claim);
        if let Some(client) = claims.get("resource_access").and_then(|r| r.get(settings.client_id.as_str())) {
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

}
