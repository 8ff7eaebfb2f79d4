//! Okta: a custom authorization server (`https://{site}/oauth2/{name}`) or,
//! with `OKTA_AUTHORIZATION_SERVER=org`, the org authorization server
//! (issuer `https://{site}`). Roles come from the `groups` claim by default.

use super::Vendor;

pub struct Okta;

impl Vendor for Okta {
    fn name(&self) -> &'static str {
        "okta"
    }
    fn display_name(&self) -> &'static str {
        "Okta"
    }
    fn audience_variable(&self) -> &'static str {
        "OKTA_AUDIENCE"
    }

    fn signature_hint(&self) -> &'static str {
        "Check that OKTA_AUTHORIZATION_SERVER and OKTA_AUDIENCE match the authorization server's Name and Audience exactly (Okta Admin Console → Security → API)."
    }
    /// Okta's access tokens name their client in `cid` (its ID tokens in `aud` only).
    fn client_claims(&self) -> &'static [&'static str] {
        &["cid"]
    }

}
