//! OpenID Connect as an [`IdentityProvider`]: the authorization code flow
//! with PKCE (OpenID Connect Core §3.1, RFC 7636 S256), RFC 9207 `iss`, and
//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2).
//!
//! `state`, `nonce` and the PKCE verifier travel in the pending transaction
//! (a cookie sealed by the session layer, bound to the provider, named after
//! a hash of `state` so that sign-ins in two tabs do not clobber each other).
//! `state` is also spent in the database at the callback, so a response is
//! accepted once, on any replica.

use super::discovery::Provider;
use crate::idp::error::SignInError;
use crate::idp::identity;
use crate::idp::provider::{Answer, Exchange, Finished, IdentityProvider, Pending, PendingCookie, Protocol, Started};
use crate::idp::session_link::{id_token_aad, NameAtIdp};
use crate::idp::vendors::{OidcSettings, VendorOf};
use crate::keys::{random_token, token_hash};
use async_trait::async_trait;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, Scope};
use portcullis_domain::{SessionId, Timestamp, UserId};
use portcullis_storage::OnceKind;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a sign-in may take at the IdP.
pub const TRANSACTION_LIFETIME: Duration = Duration::from_secs(600);

/// What the callback needs to finish the sign-in it started.
#[derive(Serialize, Deserialize)]
struct Transaction {
    provider: String,
    state: String,
    nonce: String,
    pkce_verifier: String,
    return_to: String,
    expires_at: i64,
}

/// Named after `state`, so that sign-ins in two tabs keep a cookie each;
/// the IdP comes back with a top-level GET.
fn pending_cookie(oauth_state: &str, provider: &str) -> PendingCookie {
    PendingCookie {
        name: format!("portcullis_sso_{}", &token_hash(oauth_state).as_str()[..16]),
        aad: format!("sso-transaction:{provider}"),
        returns_by_post: false,
    }
}

#[async_trait]
impl IdentityProvider for Provider {
    fn name(&self) -> &'static str {
        self.settings.provider
    }
    fn display_name(&self) -> &'static str {
        self.settings.vendor().display_name()
    }
    fn protocol(&self) -> Protocol {
        Protocol::OpenIdConnect
    }
    fn callback_url(&self) -> &str {
        &self.callback_url
    }
    fn require_role(&self) -> bool {
        self.settings.require_role
    }

    async fn start_sign_in(&self, x: Exchange<'_>, return_to: String) -> Result<Started, SignInError> {
        let d = self.ready(x.http).await.map_err(SignInError::Unreachable)?;
        let oauth_state = random_token();
        let nonce = random_token();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = d.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            {
                let s = oauth_state.clone();
                move || CsrfToken::new(s)
            },
            {
                let n = nonce.clone();
                move || Nonce::new(n)
            },
        );
        for scope in self.settings.vendor().scopes().iter().filter(|s| **s != "openid") {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let (url, _, _) = request.set_pkce_challenge(challenge).url();
        let tx = Transaction {
            provider: self.settings.provider.to_owned(),
            state: oauth_state.clone(),
            nonce,
            pkce_verifier: verifier.secret().to_owned(),
            return_to,
            expires_at: x.clock.now().plus(TRANSACTION_LIFETIME).0,
        };
        let pending = Pending {
            cookie: pending_cookie(&oauth_state, self.settings.provider),
            lifetime: TRANSACTION_LIFETIME,
            value: serde_json::to_vec(&tx).expect("serializable"),
        };
        Ok(Started { redirect_to: url.to_string(), pending: Some(pending) })
    }

    fn pending_for(&self, answer: &Answer<'_>) -> Option<PendingCookie> {
        match answer {
            Answer::Callback { state: Some(s), .. } if !s.is_empty() => Some(pending_cookie(s, self.settings.provider)),
            _ => None,
        }
    }

    async fn finish_sign_in(&self, x: Exchange<'_>, answer: Answer<'_>, pending: Option<Vec<u8>>) -> Result<Finished, SignInError> {
        let Answer::Callback { code, state, iss, error, error_description } = answer else {
            return Err(SignInError::Malformed("an OpenID provider answers at its callback with a redirect, not a form post".into()));
        };
        let s = &self.settings;
        let now = x.clock.now();
        // 1. The response must answer a sign-in this browser started, once.
        let oauth_state = state.filter(|v| !v.is_empty()).ok_or(SignInError::BadState("the response has no state"))?;
        let Some(sealed) = pending else {
            return Err(SignInError::BadState("no sign-in with this state is in progress in this browser"));
        };
        let tx: Transaction = serde_json::from_slice(&sealed).map_err(|_| SignInError::BadState("the sign-in cookie is not valid"))?;
        use subtle::ConstantTimeEq;
        if tx.provider != s.provider || !bool::from(tx.state.as_bytes().ct_eq(oauth_state.as_bytes())) {
            return Err(SignInError::BadState("the state does not match"));
        }
        if tx.expires_at <= now.0 {
            return Err(SignInError::BadState("the sign-in took longer than 10 minutes"));
        }
        let fresh = x.store.consume_once(OnceKind::SsoState, &token_hash(oauth_state), Timestamp(tx.expires_at)).await.map_err(SignInError::from)?;
        if !fresh {
            return Err(SignInError::BadState("this sign-in response was already used"));
        }
        let d = self.ready(x.http).await.map_err(SignInError::Unreachable)?;
        // 2. RFC 9207: the response names the issuer it came from; a provider
        //    that says it does so must do so.
        match iss {
            Some(iss) if iss != s.issuer => return Err(SignInError::IssuerMixUp { got: iss.chars().take(200).collect(), expected: s.issuer.to_string() }),
            None if d.iss_parameter_supported => return Err(SignInError::IssuerMixUp { got: "(no iss parameter)".into(), expected: s.issuer.to_string() }),
            _ => {}
        }
        // 3. An error from the IdP.
        if let Some(error) = error {
            return Err(explain(s, error, error_description.unwrap_or_default()));
        }
        let code = code.filter(|c| !c.is_empty()).ok_or_else(|| SignInError::IdpError { error: "invalid_request".into(), description: "the response has neither a code nor an error".into() })?;
        // 4. The code, redeemed only at this provider's token endpoint, with the PKCE verifier.
        let token = d
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignInError::Malformed(format!("{e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(tx.pkce_verifier))
            .request_async(x.http)
            .await
            .map_err(|e| token_error(s, e))?;
        // 5. The ID token, and userinfo for what it lacks.
        let id_token = token.extra_fields().id_token().ok_or_else(|| SignInError::Malformed("the token response has no id_token (is the openid scope allowed?)".into()))?;
        let mut claims = identity::verify_id_token(s, &d, x.http, id_token, &Nonce::new(tx.nonce), now).await?;
        if identity::needs_userinfo(s, &claims) {
            let subject = claims.get("sub").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let info = identity::userinfo(&d.client, x.http, token.access_token().clone(), &subject).await?;
            claims = identity::merge(claims, info);
        }
        let mut identity = identity::identity(s, &claims, id_token.to_string())?;
        if crate::idp::vendors::entra_id_overage::left_out(&claims, crate::idp::vendors::entra_id_overage::GROUPS) {
            identity.group_overage = self.group_overage.clone();
        }
        let name_at_idp = NameAtIdp::OpenId { sid: identity.sid.clone(), id_token: identity.id_token.clone() };
        let access_token = Some(crate::idp::provider::AccessToken(token.access_token().secret().clone()));
        Ok(Finished { identity, issuer: s.issuer.to_string(), return_to: tx.return_to, name_at_idp: Some(name_at_idp), access_token })
    }

    /// The IdP's end-session endpoint with `id_token_hint`, `client_id` and
    /// `post_logout_redirect_uri` (RP-Initiated Logout §2), or `None` when
    /// the IdP has none.
    async fn start_sign_out(&self, x: Exchange<'_>, session: SessionId, user: UserId) -> Option<Started> {
        let d = self.discovered()?;
        let mut url = d.end_session_endpoint.clone()?;
        let hint = x
            .store
            .get_session_id_token(session)
            .await
            .ok()
            .flatten()
            .and_then(|sealed| x.sealer.open(&sealed, &id_token_aad(&user)).ok())
            .and_then(|b| String::from_utf8(b).ok());
        {
            let mut q = url.query_pairs_mut();
            if let Some(h) = &hint {
                q.append_pair("id_token_hint", h);
            }
            q.append_pair("client_id", self.settings.client_id.as_str());
            q.append_pair("post_logout_redirect_uri", &x.logged_out_url);
        }
        Some(Started { redirect_to: url.to_string(), pending: None })
    }
}

/// An error and its causes, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cur = c.source();
    }
    text
}

/// An authorization or token error in the troubleshooting guide's terms.
fn explain(s: &OidcSettings, error: &str, description: &str) -> SignInError {
    if let Some(e) = s.vendor().explain_error(error, description) {
        return e;
    }
    let lower = description.to_ascii_lowercase();
    if lower.contains("redirect_uri") || lower.contains("redirect uri") {
        return SignInError::RedirectUriMismatch;
    }
    if error == "consent_required" {
        return SignInError::Vendor {
            cause: "The application needs consent that has not been granted.".into(),
            fix: "Ask an administrator to grant consent for the application in the identity provider.".into(),
        };
    }
    SignInError::IdpError { error: error.chars().take(64).collect(), description: description.chars().take(300).collect() }
}

type TokenError = openidconnect::RequestTokenError<
    openidconnect::HttpClientError<reqwest::Error>,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
>;

fn token_error(s: &OidcSettings, e: TokenError) -> SignInError {
    use openidconnect::RequestTokenError::*;
    match e {
        ServerResponse(r) => {
            let error = r.error().to_string();
            let description = r.error_description().cloned().unwrap_or_default();
            match explain(s, &error, &description) {
                SignInError::IdpError { error, description } if error == "invalid_grant" => SignInError::CodeRefused(format!("{error}: {description}")),
                other => other,
            }
        }
        Request(e) => SignInError::Unreachable(format!("token endpoint: {}", chain(&e))),
        // Only where parsing failed and why: serde's message can quote the
        // offending value, and the body may hold tokens.
        Parse(e, _body) => {
            let why = e.inner().to_string();
            let why = if why.starts_with("missing field") { why.split(" at line").next().unwrap_or_default().to_owned() } else { format!("{:?}", e.inner().classify()) };
            SignInError::Malformed(format!("token response: at `{}`: {why}", e.path()))
        }
        Other(e) => SignInError::Malformed(format!("token response: {e}")),
    }
}
