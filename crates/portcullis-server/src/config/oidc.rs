//! One OpenID provider's settings, as plain data: what every vendor's
//! variables are read into (`super::vendors`), and what the sign-in code
//! reads (the vendor's behaviour at sign-in is `crate::idp::vendors`).

use secrecy::SecretString;
use std::fmt;
use url::Url;

/// A protocol string with a type of its own, so that one kind cannot be
/// passed where another is expected (an audience where a client id goes)
/// and comparisons say what they compare.
macro_rules! protocol_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The value as configured or received.
            pub fn new(v: impl Into<String>) -> Self {
                Self(v.into())
            }
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

protocol_string!(
    /// An OpenID issuer identifier, compared exactly, as a string (OpenID
    /// Connect Core §3.1.3.7): `https://host` and `https://host/` differ.
    Issuer
);
protocol_string!(
    /// An OAuth 2.0 client identifier (RFC 6749 §2.2).
    ClientId
);
protocol_string!(
    /// The audience access tokens must carry (RFC 7519 §4.1.3).
    Audience
);

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
    pub issuer: Issuer,
    pub discovery_url: Url,
    pub client_id: ClientId,
    /// `None` for public clients (WorkOS AuthKit uses PKCE only).
    pub client_secret: Option<SecretString>,
    /// The audience access tokens must carry (bearer tokens, the CLI).
    pub audience: Option<Audience>,
    /// The public client for the device grant (`*_DEVICE_AUTHORIZATION_CLIENT_ID`).
    pub device_client_id: Option<ClientId>,
    /// Dotted path of the claim with roles (or groups); `PORTCULLIS_ROLES_CLAIM` overrides.
    pub roles_claim: String,
    /// The CLI contract's `domain` and `extra` (§1).
    pub cli_domain: String,
    pub cli_extra: serde_json::Value,
    /// Refuse users with neither `member` nor `factory-admin` (403).
    /// `PORTCULLIS_REQUIRE_ROLE`; the default is the vendor's (on for Entra ID,
    /// matching "Assignment required? Yes").
    pub require_role: bool,
    /// Where a token's missing groups are fetched when the provider left
    /// them out for size (Entra ID's group overage); `None` for vendors
    /// that have none.
    pub group_overage: Option<GraphSettings>,
}

/// Microsoft Graph, for Entra ID's group overage: with more than 200
/// groups (150 in SAML), Entra ID leaves `groups` out of the token and
/// names it in `_claim_names`/`_claim_sources` instead (OpenID Connect Core
/// §5.6.2, distributed claims). The groups are then listed from Graph with
/// the application's own credentials (OAuth 2.0 client credentials,
/// RFC 6749 §4.4), never from the endpoint the token names.
#[derive(Clone, Debug)]
pub struct GraphSettings {
    /// `https://graph.microsoft.com` unless `ENTRA_ID_GRAPH_HOST` names a
    /// national cloud's (`https://graph.microsoft.us`).
    pub graph_url: Url,
    /// The tenant's v2.0 token endpoint, for the client credentials grant.
    pub token_url: Url,
}
