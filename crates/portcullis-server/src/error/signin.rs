//! Sign-in failures as answers: a page for browsers that says what went
//! wrong and how to fix it, in the words of the platform's troubleshooting
//! guide, or JSON for API clients. The page shows the cause and the fix; the
//! detail (what the IdP said, the claim values) goes to the log line, under
//! the request id the page shows. No token, code or secret is ever part of
//! either. A failure of Portcullis's own storage is a 500, never blamed on
//! the identity provider.

use super::Status;
use crate::request_id;
use crate::idp::error::SignInError;
use axum::http::HeaderMap;
use axum::response::Response;

impl SignInError {
    fn parts(&self, callback: &str) -> (Status, &'static str, &'static str, String, String) {
        use SignInError::*;
        let restart = "Start again from the sign-in page.".to_owned();
        match self {
            BadState(why) => (
                Status::BadRequest,
                "invalid_state",
                "Sign-in could not be completed",
                format!("This sign-in response does not belong to a sign-in started in this browser ({why})."),
                "Start again from the sign-in page, in the same browser, within 10 minutes. Cookies must be enabled for this site.".into(),
            ),
            IssuerMixUp { got, expected } => (
                Status::BadRequest,
                "issuer_mismatch",
                "Sign-in refused",
                format!("The sign-in response says it comes from `{got}`, but this sign-in was sent to `{expected}` (RFC 9207 issuer check)."),
                restart,
            ),
            IdpError { error, description } => (
                Status::BadRequest,
                "idp_error",
                "The identity provider refused the sign-in",
                format!("The identity provider answered `{error}`{}.", if description.is_empty() { String::new() } else { format!(": {description}") }),
                "If this persists, ask your administrator to check the application's configuration in the identity provider.".into(),
            ),
            Vendor { cause, fix } => (Status::Forbidden, "idp_error", "The identity provider refused the sign-in", cause.clone(), fix.clone()),
            RedirectUriMismatch => (
                Status::BadRequest,
                "redirect_uri_mismatch",
                "Invalid redirect URI",
                "The identity provider reports a redirect URI mismatch.".into(),
                format!("Make the redirect URI registered in your IdP exactly match the callback URL: {callback}"),
            ),
            GroupOverage { cause, fix, .. } => (Status::FailedDependency, "group_overage", "Your groups could not be read", cause.clone(), fix.clone()),
            Unreachable(_) => (
                Status::FailedDependency,
                "idp_unreachable",
                "The identity provider cannot be reached",
                "Portcullis could not reach the identity provider.".into(),
                "Try again in a minute. If it persists, an administrator should check /readyz and the provider's URL variables.".into(),
            ),
            CodeRefused(_) => (
                Status::BadRequest,
                "code_refused",
                "Sign-in could not be completed",
                "The identity provider refused to redeem the sign-in code (it expired or was already used).".into(),
                restart,
            ),
            SignatureFailed { kid, alg, hint } => (
                Status::Unauthorized,
                "invalid_token",
                "Invalid token: Signature verification failed",
                format!(
                    "The ID token's signature did not verify (alg {alg}, kid {}).",
                    kid.as_deref().map(|k| format!("`{k}`")).unwrap_or_else(|| "none".into())
                ),
                (*hint).to_owned(),
            ),
            AudienceMismatch { got, expected } => (
                Status::Unauthorized,
                "invalid_token",
                "Invalid token: audience mismatch",
                format!("The ID token is for {} but Portcullis expects `{expected}`.", if got.is_empty() { "no audience".into() } else { got.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ") }),
                "Check that the provider's client id variable holds this application's client id.".into(),
            ),
            WrongIssuer { got, expected } => (
                Status::Unauthorized,
                "invalid_token",
                "Invalid token: wrong issuer",
                format!("The ID token was issued by `{got}`, not by the configured issuer `{expected}`."),
                "Check the provider's URL variables (site, realm, tenant or domain).".into(),
            ),
            Expired => (
                Status::Unauthorized,
                "invalid_token",
                "Invalid token: expired",
                "The ID token has expired.".into(),
                "Start again; if it persists, check that this server's clock is right.".into(),
            ),
            BadNonce => (
                Status::Unauthorized,
                "invalid_token",
                "Invalid token: nonce mismatch",
                "The ID token does not belong to this sign-in (its nonce is missing or wrong).".into(),
                restart,
            ),
            Malformed(_) => (
                Status::BadGateway,
                "invalid_token",
                "Invalid token",
                "The identity provider's answer is not a valid OpenID Connect response.".into(),
                "An administrator should check the provider's configuration; the log line has the detail.".into(),
            ),
            UserinfoSubjectMismatch => (
                Status::Unauthorized,
                "invalid_token",
                "Sign-in refused",
                "The identity provider's user information is for a different user than the ID token.".into(),
                restart,
            ),
            NotAssigned { provider } => (
                Status::Forbidden,
                "not_assigned",
                "403 Forbidden: you are not assigned to this application",
                format!("You signed in to {provider}, but your account has neither the member nor the factory-admin role for this application."),
                "Ask your administrator to assign you to the application in your IdP with a role (Member or Factory Admin). For Okta, the user or their group must be assigned under the app's Assignments tab.".into(),
            ),
            NoRoleRule { orgs, seen, hint } => (
                Status::Forbidden,
                "no_matching_group_rule",
                "403 Forbidden: no group rule gives you a role",
                format!(
                    "You signed in, but the group-to-role rules of {} match none of your groups{}, and say to refuse when nothing matches.",
                    orgs.join(", "),
                    if seen.is_empty() { " (the identity provider sent none)".to_owned() } else { format!(" ({})", seen.iter().take(20).cloned().collect::<Vec<_>>().join(", ")) }
                ),
                hint.clone().unwrap_or_else(|| {
                    "Ask your administrator to add you to a group the rules name, in the identity provider, or to add a rule for one of your groups (Check access shows which rules match).".into()
                }),
            ),
            Disabled => (
                Status::Forbidden,
                "account_disabled",
                "Account disabled",
                "Your Portcullis account has been disabled.".into(),
                "Ask an administrator of your organization to enable it.".into(),
            ),
            Deprovisioned => (
                Status::Forbidden,
                "deprovisioned",
                "Account deactivated by your directory",
                "Your organization's identity provider has deactivated your account in Portcullis (SCIM provisioning), so you can no longer sign in.".into(),
                "Ask your IT administrator to assign you to the application again in the identity provider; the next provisioning cycle reactivates your account.".into(),
            ),
            Saml { check, cause, fix } | SamlLogout { check, cause, fix } => {
                let (code, title) = if matches!(self, SamlLogout { .. }) { ("saml_logout_refused", "SAML sign-out refused") } else { ("saml_refused", "SAML sign-in refused") };
                let status = if *check == "unreachable" { Status::Unavailable } else { Status::BadRequest };
                (status, code, title, format!("Check `{check}` failed: {cause}"), fix.clone())
            }
            Internal(_) => (
                Status::Internal,
                "internal",
                "Sign-in could not be completed",
                "Something went wrong on Portcullis's side while signing you in.".into(),
                "Try again in a moment. If it persists, give the request id below to your administrator; the server log has the detail.".into(),
            ),
            UnknownProvider(p) => (
                Status::NotFound,
                "unknown_provider",
                "Unknown sign-in provider",
                format!("`{p}` is not a sign-in provider of this server."),
                "Use the sign-in page.".into(),
            ),
        }
    }

    /// The troubleshooting code (`invalid_state`, `idp_unreachable`, ...),
    /// as the JSON answer gives it; the `cause` label of the sign-in metric.
    pub fn code(&self) -> &'static str {
        self.parts("").1
    }

    /// The failure in the troubleshooting guide's words: its title, its
    /// cause and its fix (what the page says; no token, code or secret).
    pub fn explain(&self, callback: &str) -> (&'static str, String, String) {
        let (_, _, title, cause, fix) = self.parts(callback);
        (title, cause, fix)
    }

    /// A page for browsers, JSON for API clients; logged with the request id.
    pub fn respond(&self, provider: &str, callback: &str, headers: &HeaderMap) -> Response {
        let (status, code, title, cause, fix) = self.parts(callback);
        let rid = request_id::current();
        if status.http().is_server_error() {
            tracing::error!(provider, code, detail = %self.detail(), "sign-in failed");
        } else {
            tracing::warn!(provider, code, detail = %self.detail(), "refused");
        }
        if crate::error::wants_json(headers) {
            let body = serde_json::json!({ "error": code, "message": format!("{cause} {fix}"), "request_id": rid });
            return status.with(axum::Json(body));
        }
        let body = format!(
            "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><strong>How to fix it:</strong> {}</p>\
             <p><a href=\"/auth/login\">Back to sign-in</a></p><p class=\"note\">Request id: <code>{}</code> (give it to your administrator; the server log has the detail under it)</p>",
            html_escape::encode_text(title),
            html_escape::encode_text(&cause),
            html_escape::encode_text(&fix),
            html_escape::encode_text(&rid),
        );
        crate::pages::page(status, title, &body)
    }
}
