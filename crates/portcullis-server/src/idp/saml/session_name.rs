//! How a SAML session names itself to its IdP at single logout (Core
//! §3.7.1): the NameID as the IdP sent it, and the SessionIndex; kept sealed
//! to the user, and hashed for matching the IdP's LogoutRequests.

use crate::crypto::Sealer;
use crate::idp::session_link::IdpSessionInfo;
use crate::keys::token_hash;
use portcullis_domain::UserId;
use samael::schema::Assertion;
use serde::{Deserialize, Serialize};

/// What a SAML session keeps, sealed, to name itself in a LogoutRequest
/// (Core §3.7.1: the NameID as the IdP sent it, and the SessionIndex).
#[derive(Serialize, Deserialize)]
pub struct SessionName {
    pub name_id: String,
    pub format: Option<String>,
    pub session_index: Option<String>,
}

pub fn name_aad(user: &UserId) -> String {
    format!("saml-session-name:{user}")
}

/// Names are equal when their IdP, format and value are (Core §8.3; an
/// absent format is `unspecified`). Kept hashed: the session table needs
/// to compare NameIDs, not to read them.
pub fn name_id_hash(idp_entity_id: &str, format: Option<&str>, value: &str) -> String {
    let format = format.unwrap_or("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
    token_hash(&format!("{idp_entity_id}\n{format}\n{value}")).as_str().to_owned()
}

/// The logout details of a session started by `assertion`: its
/// SessionIndex and a hash of its NameID (matched against the IdP's
/// LogoutRequests), and the NameID sealed to the user (for ours).
pub fn session_info(sealer: &Sealer, user: &UserId, idp_entity_id: &str, assertion: &Assertion) -> Option<IdpSessionInfo> {
    let name_id = assertion.subject.as_ref()?.name_id.as_ref()?;
    let session_index = assertion.authn_statements.iter().flatten().find_map(|s| s.session_index.clone());
    let name = SessionName { name_id: name_id.value.trim().to_owned(), format: name_id.format.clone(), session_index: session_index.clone() };
    let sealed = sealer.seal(&serde_json::to_vec(&name).expect("serializable"), &name_aad(user));
    Some(IdpSessionInfo { sid: session_index, id_token_sealed: sealed, name_id_hash: Some(name_id_hash(idp_entity_id, name.format.as_deref(), &name.name_id)) })
}
