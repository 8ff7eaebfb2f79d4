//! WorkOS AuthKit: issuer `https://{authkit domain}`; a public client (PKCE,
//! no secret), also used for the device grant.

use super::Vendor;

pub struct WorkOs;

impl Vendor for WorkOs {
    fn name(&self) -> &'static str {
        "workos"
    }
    fn display_name(&self) -> &'static str {
        "WorkOS"
    }
    fn audience_variable(&self) -> &'static str {
        "WORKOS_CLIENT_ID"
    }
    /// AuthKit's OAuth access tokens name the requesting application in
    /// `client_id` (RFC 9068). Their audience is the same client id as the
    /// ID tokens', so this claim is also what tells the two apart.
    fn client_claims(&self) -> &'static [&'static str] {
        &["client_id"]
    }

}
