//! SCIM tokens (`/api/v1/scim/tokens`): what an identity provider
//! provisions an organization with, at `/scim/v2`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /api/v1/scim/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// What the token is for ("Okta", "Entra ID production").
    pub name: String,
}

/// A SCIM token as listed (never the token itself).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScimTokenInfo {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was last used, if ever.
    pub last_used_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// The answer to `POST /api/v1/scim/tokens`: the only time the token is shown.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreatedScimToken {
    /// The token as listed.
    #[serde(flatten)]
    pub info: ScimTokenInfo,
    /// The token: set it in the identity provider as the bearer token. It is
    /// stored hashed and cannot be shown again.
    pub token: String,
    /// The SCIM base URL to give the identity provider (the "Tenant URL" in
    /// Entra ID, the "SCIM connector base URL" in Okta).
    pub base_url: String,
}
