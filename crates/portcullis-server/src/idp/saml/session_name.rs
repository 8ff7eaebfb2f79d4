//! How a SAML session names itself to its IdP at single logout (Core
//! §3.7.1): the NameID as the IdP sent it, and the SessionIndex; kept sealed
//! to the user (`crate::idp::session_link`), and hashed for matching the
//! IdP's LogoutRequests.

use crate::idp::session_link::{NameAtIdp, SessionName};
use crate::keys::token_hash;
use samael::schema::Assertion;

/// Names are equal when their IdP, format and value are (Core §8.3; an
/// absent format is `unspecified`). Kept hashed: the session table needs
/// to compare NameIDs, not to read them.
pub fn name_id_hash(idp_entity_id: &str, format: Option<&str>, value: &str) -> String {
    let format = format.unwrap_or("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
    token_hash(&format!("{idp_entity_id}\n{format}\n{value}")).as_str().to_owned()
}

/// How the session `assertion` starts is named at the IdP: its NameID and
/// SessionIndex (`None` without a NameID: such a session ends only here).
pub fn name_of(idp_entity_id: &str, assertion: &Assertion) -> Option<NameAtIdp> {
    let name_id = assertion.subject.as_ref()?.name_id.as_ref()?;
    let session_index = assertion.authn_statements.iter().flatten().find_map(|s| s.session_index.clone());
    let name = SessionName { name_id: name_id.value.trim().to_owned(), format: name_id.format.clone(), session_index };
    let name_id_hash = name_id_hash(idp_entity_id, name.format.as_deref(), &name.name_id);
    Some(NameAtIdp::Saml { name, name_id_hash })
}
