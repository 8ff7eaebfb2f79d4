//! The browser flow: `GET /auth/{provider}/login` sends the browser to the
//! IdP; `GET /auth/{provider}/callback` (the exact URL registered at the IdP)
//! takes it back, checks everything, and starts a session.
//!
//! `state`, `nonce` and the PKCE verifier (RFC 7636, S256) live in a
//! short-lived cookie sealed with the server key (AES-256-GCM, bound to the
//! provider by the associated data), named after a hash of `state` so that
//! sign-ins in two tabs do not clobber each other. `state` is also spent in
//! the database at the callback, so a response is accepted once, on any
//! replica.

use crate::idp::vendors::VendorOf;
use crate::idp::error::SignInError;
use crate::idp::identity;
use crate::idp::Provider;
use crate::audit::{self, Entry};
use super::complete::Success;
use crate::session::cookies::cookie_name;
use crate::session::transaction::{open_transaction, seal_transaction};
use crate::session::{ClientIp, IdpSessionInfo};
use crate::session::{cookie, set_cookie};
use crate::keys::{random_token, token_hash};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, Scope};
use portcullis_domain::validation::safe_return_to;
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

fn tx_cookie_name(state: &AppState, oauth_state: &str) -> String {
    cookie_name(state, &format!("portcullis_sso_{}", &token_hash(oauth_state).as_str()[..16]))
}

fn tx_aad(provider: &str) -> String {
    format!("sso-transaction:{provider}")
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /auth/{provider}/login?return_to=/path` for an OpenID provider
/// (the route is shared with SAML: `crate::signin::saml::login_route`).
pub async fn login_oidc(state: AppState, provider: String, headers: HeaderMap, return_to: Option<String>) -> Response {
    let q = LoginQuery { return_to };
    let Some(p) = state.sso.get(&provider).cloned() else {
        return SignInError::UnknownProvider(provider.chars().take(40).collect()).respond(&provider, "", &headers);
    };
    let d = match p.ready(&state.sso.http).await {
        Ok(d) => d,
        Err(e) => return SignInError::Unreachable(e).respond(&provider, &p.callback_url, &headers),
    };
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
    for scope in p.settings.vendor().scopes().iter().filter(|s| **s != "openid") {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, _, _) = request.set_pkce_challenge(challenge).url();
    let tx = Transaction {
        provider: provider.clone(),
        state: oauth_state.clone(),
        nonce,
        pkce_verifier: verifier.secret().to_owned(),
        return_to: safe_return_to(q.return_to.as_deref(), &state.config.public_origin()),
        expires_at: state.clock.now().plus(TRANSACTION_LIFETIME).0,
    };
    let sealed = seal_transaction(&state, &tx, &tx_aad(&provider));
    let mut resp = Redirect::to(url.as_str()).into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(&state, &tx_cookie_name(&state, &oauth_state), &sealed, TRANSACTION_LIFETIME.as_secs())) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/{provider}/callback`.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(p) = state.sso.get(&provider).cloned() else {
        return SignInError::UnknownProvider(provider.chars().take(40).collect()).respond(&provider, "", &headers);
    };
    // The transaction cookie is spent whatever happens next.
    let clear = q.state.as_deref().map(|s| crate::session::clear_cookie(&state, &tx_cookie_name(&state, s)));
    let result = finish(&state, &p, ip.clone(), &headers, q).await;
    let mut resp = match result {
        Ok(resp) => resp,
        Err(e) => {
            audit::record(
                &state,
                Entry::new("login", false).ip(ip).detail(serde_json::json!({ "provider": provider, "reason": format!("{e:?}").chars().take(300).collect::<String>() })),
            )
            .await;
            super::complete::record_attempt(&state, None, &provider, false).await;
            e.respond(&provider, &p.callback_url, &headers)
        }
    };
    if let Some(v) = clear.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn finish(state: &AppState, p: &Provider, ip: Option<String>, headers: &HeaderMap, q: CallbackQuery) -> Result<Response, SignInError> {
    let s = &p.settings;
    let now = state.clock.now();
    // 1. The response must answer a sign-in this browser started, once.
    let oauth_state = q.state.as_deref().filter(|v| !v.is_empty()).ok_or(SignInError::BadState("the response has no state"))?;
    let name = tx_cookie_name(state, oauth_state);
    if cookie(headers, &name).is_none() {
        return Err(SignInError::BadState("no sign-in with this state is in progress in this browser"));
    }
    let tx: Transaction = open_transaction(state, headers, &name, &tx_aad(s.provider)).ok_or(SignInError::BadState("the sign-in cookie is not valid"))?;
    use subtle::ConstantTimeEq;
    if tx.provider != s.provider || !bool::from(tx.state.as_bytes().ct_eq(oauth_state.as_bytes())) {
        return Err(SignInError::BadState("the state does not match"));
    }
    if tx.expires_at <= now.0 {
        return Err(SignInError::BadState("the sign-in took longer than 10 minutes"));
    }
    let fresh = state
        .store
        .consume_once(portcullis_storage::OnceKind::SsoState, &token_hash(oauth_state), portcullis_domain::Timestamp(tx.expires_at))
        .await
        .map_err(SignInError::from)?;
    if !fresh {
        return Err(SignInError::BadState("this sign-in response was already used"));
    }
    let d = p.ready(&state.sso.http).await.map_err(SignInError::Unreachable)?;
    // 2. RFC 9207: the response names the issuer it came from; a provider
    //    that says it does so must do so.
    match q.iss.as_deref() {
        Some(iss) if iss != s.issuer => return Err(SignInError::IssuerMixUp { got: iss.chars().take(200).collect(), expected: s.issuer.clone() }),
        None if d.iss_parameter_supported => {
            return Err(SignInError::IssuerMixUp { got: "(no iss parameter)".into(), expected: s.issuer.clone() })
        }
        _ => {}
    }
    // 3. An error from the IdP.
    if let Some(error) = q.error {
        let description = q.error_description.unwrap_or_default();
        return Err(explain(s, &error, &description));
    }
    let code = q.code.filter(|c| !c.is_empty()).ok_or_else(|| SignInError::IdpError { error: "invalid_request".into(), description: "the response has neither a code nor an error".into() })?;
    // 4. The code, redeemed only at this provider's token endpoint, with the PKCE verifier.
    let token = d
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| SignInError::Malformed(format!("{e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(tx.pkce_verifier))
        .request_async(&state.sso.http)
        .await
        .map_err(|e| token_error(s, e))?;
    // 5. The ID token.
    let id_token = token.extra_fields().id_token().ok_or_else(|| SignInError::Malformed("the token response has no id_token (is the openid scope allowed?)".into()))?;
    let mut claims = identity::verify_id_token(s, &d, &state.sso.http, id_token, &Nonce::new(tx.nonce), now).await?;
    if identity::needs_userinfo(s, &claims) {
        let subject = claims.get("sub").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let info = identity::userinfo(&d.client, &state.sso.http, token.access_token().clone(), &subject).await?;
        claims = identity::merge(claims, info);
    }
    let ident = identity::identity(s, &claims, id_token.to_string())?;
    // 6. The account, its roles, and a new session.
    let user = super::provision::sign_in(state, s.into(), &ident).await?;
    let idp_session = IdpSessionInfo {
        sid: ident.sid.clone(),
        id_token_sealed: state.sealer.seal(ident.id_token.as_bytes(), &crate::idp::session_link::id_token_aad(&user.id)),
        name_id_hash: None,
    };
    super::complete::complete(
        state,
        headers,
        Success {
            user: &user,
            provider: s.provider,
            ip,
            idp_session: Some(idp_session),
            login_audit: Some(Entry::new("login", true).detail(serde_json::json!({ "provider": s.provider, "roles": ident.roles }))),
            return_to: &tx.return_to,
            also_set: vec![],
        },
    )
    .await
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
fn explain(s: &crate::idp::vendors::OidcSettings, error: &str, description: &str) -> SignInError {
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

fn token_error(s: &crate::idp::vendors::OidcSettings, e: TokenError) -> SignInError {
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
