//! One OpenID provider's settings, as plain data: what every vendor's
//! variables are read into (`super::vendors`), and what the sign-in code
//! reads (the vendor's behaviour at sign-in is `crate::idp::vendors`).

use secrecy::SecretString;
use url::Url;

/// The OpenID vendors Portcullis knows, each with its quirks in
/// `crate::idp::vendors` (matched exhaustively there: no vendor is looked
/// up again by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VendorKind {
    Okta,
    EntraId,
    Keycloak,
    Auth0,
    WorkOs,
}

/// What one OpenID provider needs.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// `okta`, `entra_id`, `keycloak`, `auth0` or `workos`: also the path
    /// segment of the callback, `/auth/<provider>/callback`.
    pub provider: &'static str,
    /// Whose quirks apply (the same vendor `provider` names).
    pub vendor: VendorKind,
    /// Compared exactly with `iss` (OpenID Connect Core §3.1.3.7), so kept as
    /// a string: `https://host` and `https://host/` are different issuers.
    pub issuer: String,
    pub discovery_url: Url,
    pub client_id: String,
    /// `None` for public clients (WorkOS AuthKit uses PKCE only).
    pub client_secret: Option<SecretString>,
    /// The audience access tokens must carry (bearer tokens, the CLI).
    pub audience: Option<String>,
    /// The public client for the device grant (`*_DEVICE_AUTHORIZATION_CLIENT_ID`).
    pub device_client_id: Option<String>,
    /// Dotted path of the claim with roles (or groups); `PORTCULLIS_ROLES_CLAIM` overrides.
    pub roles_claim: String,
    /// The CLI contract's `domain` and `extra` (§1).
    pub cli_domain: String,
    pub cli_extra: serde_json::Value,
    /// Refuse users with neither `member` nor `factory-admin` (403).
    /// `PORTCULLIS_REQUIRE_ROLE`; the default is the vendor's (on for Entra ID,
    /// matching "Assignment required? Yes").
    pub require_role: bool,
}
