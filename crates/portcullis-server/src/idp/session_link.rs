//! What a session started through an identity provider keeps, so that it
//! can be ended there too (OpenID RP-initiated and back-channel logout, SAML
//! single logout).

use portcullis_domain::UserId;

/// What a session started through an IdP keeps for logout: the IdP's
/// session id (OIDC `sid`, SAML `SessionIndex`) and, sealed, what names the
/// session to the IdP (the OIDC ID token, the SAML NameID).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct IdpSessionInfo {
    pub sid: Option<String>,
    pub id_token_sealed: String,
    /// SAML: what the IdP's LogoutRequests name the session by.
    pub name_id_hash: Option<String>,
}

/// Associated data sealing a session's ID token to its user.
pub fn id_token_aad(user: &UserId) -> String {
    format!("session-id-token:{user}")
}
