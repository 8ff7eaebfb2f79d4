//! Why a sign-in failed, with no HTTP in it: what `crate::error::signin`
//! turns into a page (or JSON) in the words of the platform's
//! troubleshooting guide. It lives with the identity providers because they
//! are what produce most of it (a vendor explains its own error codes), and
//! every layer above, the sign-in pipeline and the error layer, reads it.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// `state` missing, unknown, expired or already used.
    BadState(&'static str),
    /// RFC 9207 `iss` of the authorization response names another issuer.
    IssuerMixUp { got: String, expected: String },
    /// The IdP sent the user back with an error.
    IdpError { error: String, description: String },
    /// The IdP explained by the vendor adapter (consent, assignment, redirect URI).
    Vendor { cause: String, fix: String },
    RedirectUriMismatch,
    Unreachable(String),
    /// The token endpoint refused the code (expired, replayed, PKCE mismatch).
    CodeRefused(String),
    SignatureFailed { kid: Option<String>, alg: String, hint: &'static str },
    AudienceMismatch { got: Vec<String>, expected: String },
    WrongIssuer { got: String, expected: String },
    Expired,
    BadNonce,
    /// The ID token or userinfo answer does not hold what OpenID Connect requires.
    Malformed(String),
    UserinfoSubjectMismatch,
    NotAssigned { provider: String },
    Disabled,
    /// The organization's directory deactivated the person over SCIM (and
    /// no other membership is left).
    Deprovisioned,
    /// The group-to-role rules gave the person no role in any organization.
    NoRoleRule {
        /// The organizations whose rules refused, by name.
        orgs: Vec<String>,
        /// The groups the rules saw.
        seen: Vec<String>,
        /// What to configure at the IdP, when the cause is known (Okta's capped or missing `groups`).
        hint: Option<String>,
    },
    UnknownProvider(String),
    /// The provider left the person's groups out of the token for size
    /// (Entra ID's group overage), and listing them elsewhere failed.
    GroupOverage { cause: String, fix: String, detail: String },
    /// Portcullis failed on its own side (storage, a worker task, building a
    /// message), not the IdP: a 500 with the request id, the detail logged.
    Internal(String),
    /// A SAML check failed: which one, what was sent and expected, the fix.
    Saml { check: &'static str, cause: String, fix: String },
    /// A SAML single-logout message was refused (same parts as `Saml`).
    SamlLogout { check: &'static str, cause: String, fix: String },
}

impl SignInError {
    /// The detail for the log line (never tokens or codes).
    pub fn detail(&self) -> String {
        match self {
            SignInError::Unreachable(d) | SignInError::CodeRefused(d) | SignInError::Malformed(d) | SignInError::Internal(d) => d.clone(),
            SignInError::GroupOverage { cause, detail, .. } => format!("{cause} ({detail})"),
            other => format!("{other:?}"),
        }
    }

}

impl From<portcullis_storage::StoreError> for SignInError {
    fn from(e: portcullis_storage::StoreError) -> Self {
        SignInError::Internal(format!("database: {e}"))
    }
}
