//! Sign-in failures, as pages (or JSON) that say what went wrong and how to
//! fix it, in the words of the platform's troubleshooting guide.
//!
//! The page shows the cause and the fix; the detail (what the IdP said, the
//! claim values) goes to the log line, under the request id the page shows.
//! No token, code or secret is ever part of either.

use crate::pages;
use crate::request_id;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoError {
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
    UnknownProvider(String),
    /// A SAML check failed: which one, what was sent and expected, the fix.
    Saml { check: &'static str, cause: String, fix: String },
    /// A SAML single-logout message was refused (same parts as `Saml`).
    SamlLogout { check: &'static str, cause: String, fix: String },
}

impl SsoError {
    fn parts(&self, callback: &str) -> (StatusCode, &'static str, &'static str, String, String) {
        use SsoError::*;
        let restart = "Start again from the sign-in page.".to_owned();
        match self {
            BadState(why) => (
                StatusCode::BAD_REQUEST,
                "invalid_state",
                "Sign-in could not be completed",
                format!("This sign-in response does not belong to a sign-in started in this browser ({why})."),
                "Start again from the sign-in page, in the same browser, within 10 minutes. Cookies must be enabled for this site.".into(),
            ),
            IssuerMixUp { got, expected } => (
                StatusCode::BAD_REQUEST,
                "issuer_mismatch",
                "Sign-in refused",
                format!("The sign-in response says it comes from `{got}`, but this sign-in was sent to `{expected}` (RFC 9207 issuer check)."),
                restart,
            ),
            IdpError { error, description } => (
                StatusCode::BAD_REQUEST,
                "idp_error",
                "The identity provider refused the sign-in",
                format!("The identity provider answered `{error}`{}.", if description.is_empty() { String::new() } else { format!(": {description}") }),
                "If this persists, ask your administrator to check the application's configuration in the identity provider.".into(),
            ),
            Vendor { cause, fix } => (StatusCode::FORBIDDEN, "idp_error", "The identity provider refused the sign-in", cause.clone(), fix.clone()),
            RedirectUriMismatch => (
                StatusCode::BAD_REQUEST,
                "redirect_uri_mismatch",
                "Invalid redirect URI",
                "The identity provider reports a redirect URI mismatch.".into(),
                format!("Make the redirect URI registered in your IdP exactly match the callback URL: {callback}"),
            ),
            Unreachable(_) => (
                StatusCode::BAD_GATEWAY,
                "idp_unreachable",
                "The identity provider cannot be reached",
                "Portcullis could not reach the identity provider.".into(),
                "Try again in a minute. If it persists, an administrator should check /readyz and the provider's URL variables.".into(),
            ),
            CodeRefused(_) => (
                StatusCode::BAD_REQUEST,
                "code_refused",
                "Sign-in could not be completed",
                "The identity provider refused to redeem the sign-in code (it expired or was already used).".into(),
                restart,
            ),
            SignatureFailed { kid, alg, hint } => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Invalid token: Signature verification failed",
                format!(
                    "The ID token's signature did not verify (alg {alg}, kid {}).",
                    kid.as_deref().map(|k| format!("`{k}`")).unwrap_or_else(|| "none".into())
                ),
                (*hint).to_owned(),
            ),
            AudienceMismatch { got, expected } => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Invalid token: audience mismatch",
                format!("The ID token is for {} but Portcullis expects `{expected}`.", if got.is_empty() { "no audience".into() } else { got.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ") }),
                "Check that the provider's client id variable holds this application's client id.".into(),
            ),
            WrongIssuer { got, expected } => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Invalid token: wrong issuer",
                format!("The ID token was issued by `{got}`, not by the configured issuer `{expected}`."),
                "Check the provider's URL variables (site, realm, tenant or domain).".into(),
            ),
            Expired => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Invalid token: expired",
                "The ID token has expired.".into(),
                "Start again; if it persists, check that this server's clock is right.".into(),
            ),
            BadNonce => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Invalid token: nonce mismatch",
                "The ID token does not belong to this sign-in (its nonce is missing or wrong).".into(),
                restart,
            ),
            Malformed(_) => (
                StatusCode::BAD_GATEWAY,
                "invalid_token",
                "Invalid token",
                "The identity provider's answer is not a valid OpenID Connect response.".into(),
                "An administrator should check the provider's configuration; the log line has the detail.".into(),
            ),
            UserinfoSubjectMismatch => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Sign-in refused",
                "The identity provider's user information is for a different user than the ID token.".into(),
                restart,
            ),
            NotAssigned { provider } => (
                StatusCode::FORBIDDEN,
                "not_assigned",
                "403 Forbidden: you are not assigned to this application",
                format!("You signed in to {provider}, but your account has neither the member nor the factory-admin role for this application."),
                "Ask your administrator to assign you to the application in your IdP with a role (Member or Factory Admin). For Okta, the user or their group must be assigned under the app's Assignments tab.".into(),
            ),
            Disabled => (
                StatusCode::FORBIDDEN,
                "account_disabled",
                "Account disabled",
                "Your Portcullis account has been disabled.".into(),
                "Ask an administrator of your organization to enable it.".into(),
            ),
            Saml { check, cause, fix } | SamlLogout { check, cause, fix } => {
                let (code, title) = if matches!(self, SamlLogout { .. }) { ("saml_logout_refused", "SAML sign-out refused") } else { ("saml_refused", "SAML sign-in refused") };
                let status = if *check == "unreachable" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_REQUEST };
                (status, code, title, format!("Check `{check}` failed: {cause}"), fix.clone())
            }
            UnknownProvider(p) => (
                StatusCode::NOT_FOUND,
                "unknown_provider",
                "Unknown sign-in provider",
                format!("`{p}` is not a sign-in provider of this server."),
                "Use the sign-in page.".into(),
            ),
        }
    }

    /// The detail for the log line (never tokens or codes).
    pub fn detail(&self) -> String {
        match self {
            SsoError::Unreachable(d) | SsoError::CodeRefused(d) | SsoError::Malformed(d) => d.clone(),
            other => format!("{other:?}"),
        }
    }

    /// A page for browsers, JSON for API clients; logged with the request id.
    pub fn respond(&self, provider: &str, callback: &str, headers: &HeaderMap) -> Response {
        let (status, code, title, cause, fix) = self.parts(callback);
        let rid = request_id::current();
        if status.is_server_error() {
            tracing::error!(provider, code, detail = %self.detail(), "sign-in failed");
        } else {
            tracing::warn!(provider, code, detail = %self.detail(), "refused");
        }
        if crate::auth::local::wants_json(headers) {
            let body = serde_json::json!({ "error": code, "message": format!("{cause} {fix}"), "request_id": rid });
            return (status, axum::Json(body)).into_response();
        }
        let body = format!(
            "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><strong>How to fix it:</strong> {}</p>\
             <p><a href=\"/auth/login\">Back to sign-in</a></p><p class=\"note\">Request id: <code>{}</code> (give it to your administrator; the server log has the detail under it)</p>",
            html_escape::encode_text(title),
            html_escape::encode_text(&cause),
            html_escape::encode_text(&fix),
            html_escape::encode_text(&rid),
        );
        pages::page(status, title, &body)
    }
}
