//! Auth0: issuer `https://{domain}/` (with the trailing slash Auth0 puts
//! in its tokens); roles from a namespaced custom claim set by an Action.

use super::Vendor;

pub struct Auth0;

impl Vendor for Auth0 {
    fn name(&self) -> &'static str {
        "auth0"
    }
    fn display_name(&self) -> &'static str {
        "Auth0"
    }
    fn audience_variable(&self) -> &'static str {
        "AUTH0_AUDIENCE"
    }

    fn signature_hint(&self) -> &'static str {
        "Check AUTH0_DOMAIN, and that the application signs tokens with RS256 (Auth0 Dashboard → Applications → your app → Advanced Settings → OAuth)."
    }
    /// Auth0's access tokens name the application in `azp`.
    fn client_claims(&self) -> &'static [&'static str] {
        &["azp"]
    }

}
