//! Each identity provider vendor's quirks at sign-in, one file per vendor:
//! where roles live, which claim names a token's client, how an ID token is
//! marked, its error codes explained, where to look when signatures fail.
//! The vendor's variables are read by `crate::config::vendors`, into plain
//! [`OidcSettings`].

mod auth0;
mod entra_id;
pub mod entra_id_overage;
mod keycloak;
mod okta;
mod workos;

pub use crate::config::oidc::{OidcSettings, VendorKind};

/// A vendor's quirks. Everything that is the same for every OpenID provider
/// (discovery, PKCE, ID token checks) lives in `crate::idp`; what differs per
/// vendor is here, one implementation per file.
pub trait Vendor: Send + Sync + 'static {
    /// `AUTH_PROVIDER` value and callback path segment.
    fn name(&self) -> &'static str;
    /// The human name, for pages.
    fn display_name(&self) -> &'static str;
    /// Scopes asked for at browser sign-in.
    fn scopes(&self) -> &'static [&'static str] {
        &["openid", "email", "profile"]
    }
    /// Roles and groups from the verified claims (ID token merged with userinfo).
    fn roles(&self, settings: &OidcSettings, claims: &serde_json::Value) -> Vec<String> {
        claim_strings(claims, &settings.roles_claim)
    }
    /// A vendor error code in an authorization or token error, explained in
    /// the troubleshooting guide's terms.
    fn explain_error(&self, _error: &str, _description: &str) -> Option<crate::idp::error::SignInError> {
        None
    }
    /// Where to look when ID token signatures do not verify.
    fn signature_hint(&self) -> &'static str {
        "Check that the provider's issuer variables point at the authorization server that signs the tokens."
    }
    /// The claims, in order, in which this vendor's access tokens name the
    /// OAuth client they were issued to: RFC 9068 §2.2 `client_id` unless
    /// the vendor spells it otherwise (`azp`, `cid`, `appid`). A bearer token
    /// must name one of this installation's clients there, because the
    /// audience alone is shared by every client of a realm or tenant.
    fn client_claims(&self) -> &'static [&'static str] {
        &["client_id"]
    }
    /// The variable that gives this vendor's access tokens their audience
    /// (named when it is missing and bearer tokens cannot be checked).
    fn audience_variable(&self) -> &'static str;
    /// Why the CLI's device login cannot work with these settings yet, when
    /// the vendor needs more than the device client (`/auth/parameters`).
    fn cli_not_ready(&self, _settings: &OidcSettings) -> Option<String> {
        None
    }
    /// Whether the vendor marks these verified claims as an ID token in its
    /// own way (beyond `nonce` and `at_hash`, which every vendor's ID tokens
    /// may carry and no access token does).
    fn marks_id_token(&self, _claims: &serde_json::Value) -> bool {
        false
    }
}

/// The vendor of a provider's settings, and what follows from it.
pub trait VendorOf {
    fn vendor(&self) -> &'static dyn Vendor;
    /// The OAuth clients of this installation at the provider: the browser
    /// client and, when configured, the CLI's device client.
    fn own_clients(&self) -> Vec<&str>;
    /// The client a verified access token was issued to, read from the
    /// vendor's own claim, with the claim's name.
    fn issued_to<'c>(&self, claims: &'c serde_json::Value) -> Option<(&'static str, &'c str)>;
}

impl VendorOf for OidcSettings {
    fn vendor(&self) -> &'static dyn Vendor {
        match self.vendor {
            VendorKind::Okta => &okta::Okta,
            VendorKind::EntraId => &entra_id::EntraId,
            VendorKind::Keycloak => &keycloak::Keycloak,
            VendorKind::Auth0 => &auth0::Auth0,
            VendorKind::WorkOs => &workos::WorkOs,
        }
    }

    /// The OAuth clients of this installation at the provider: the browser
    /// client and, when configured, the CLI's device client.
    fn own_clients(&self) -> Vec<&str> {
        let mut v = vec![self.client_id.as_str()];
        if let Some(d) = self.device_client_id.as_ref().filter(|d| **d != self.client_id).map(|d| d.as_str()) {
            v.push(d);
        }
        v
    }

    /// The client a verified access token was issued to, read from the
    /// vendor's own claim, with the claim's name.
    fn issued_to<'c>(&self, claims: &'c serde_json::Value) -> Option<(&'static str, &'c str)> {
        self.vendor().client_claims().iter().find_map(|name| claims.get(*name).and_then(|v| v.as_str()).map(|v| (*name, v)))
    }
}

/// The strings at a dotted claim path (`realm_access.roles`): an array of
/// strings, a single string, or a space-separated string. A claim name that
/// itself contains dots (`https://portcullis/roles`) is found whole first.
pub fn claim_strings(claims: &serde_json::Value, path: &str) -> Vec<String> {
    fn strings(v: &serde_json::Value) -> Vec<String> {
        match v {
            serde_json::Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).map(str::to_owned).collect(),
            _ => vec![],
        }
    }
    if let Some(v) = claims.get(path) {
        return strings(v);
    }
    let mut cur = claims;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return vec![],
        }
    }
    strings(cur)
}

#[cfg(test)]
mod tests;
