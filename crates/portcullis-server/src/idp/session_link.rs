//! What a session started through an identity provider keeps, so that it
//! can be ended there too (OpenID RP-initiated and back-channel logout, SAML
//! single logout).

use crate::crypto::Sealer;
use portcullis_domain::UserId;
use serde::{Deserialize, Serialize};

/// What a session started through an IdP keeps for logout: the IdP's
/// session id (OIDC `sid`, SAML `SessionIndex`) and, sealed, what names the
/// session to the IdP (the OIDC ID token, the SAML NameID).
#[derive(Serialize, Deserialize)]
pub struct IdpSessionInfo {
    pub sid: Option<String>,
    pub id_token_sealed: String,
    /// SAML: what the IdP's LogoutRequests name the session by.
    pub name_id_hash: Option<String>,
}

/// What a SAML session keeps, sealed, to name itself in a LogoutRequest
/// (Core §3.7.1: the NameID as the IdP sent it, and the SessionIndex).
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionName {
    pub name_id: String,
    pub format: Option<String>,
    pub session_index: Option<String>,
}

/// How a session is named at its IdP, before it is sealed to its account.
pub enum NameAtIdp {
    /// OpenID: the IdP's session id and the ID token (`id_token_hint`).
    OpenId { sid: Option<String>, id_token: String },
    /// SAML: the NameID and SessionIndex, and the hash the IdP's
    /// LogoutRequests are matched by.
    Saml { name: SessionName, name_id_hash: String },
}

impl NameAtIdp {
    /// What the session record keeps: the name sealed to `user`, so that
    /// one account's stored name cannot be opened as another's.
    pub fn seal(&self, sealer: &Sealer, user: &UserId) -> IdpSessionInfo {
        match self {
            NameAtIdp::OpenId { sid, id_token } => {
                IdpSessionInfo { sid: sid.clone(), id_token_sealed: sealer.seal(id_token.as_bytes(), &id_token_aad(user)), name_id_hash: None }
            }
            NameAtIdp::Saml { name, name_id_hash } => IdpSessionInfo {
                sid: name.session_index.clone(),
                id_token_sealed: sealer.seal(&serde_json::to_vec(name).expect("serializable"), &name_aad(user)),
                name_id_hash: Some(name_id_hash.clone()),
            },
        }
    }
}

/// Associated data sealing a session's ID token to its user.
pub fn id_token_aad(user: &UserId) -> String {
    format!("session-id-token:{user}")
}

/// Associated data sealing a SAML session's name to its user.
pub fn name_aad(user: &UserId) -> String {
    format!("saml-session-name:{user}")
}
