//! The OAuth 2.0 Device Authorization Grant (RFC 8628) as a client does it,
//! at the identity provider that `/auth/parameters` names (the CLI wire
//! contract): the provider's issuer from the stored settings, discovery,
//! the device authorization request, polling, and the access token checked
//! (signature against the provider's keys, `iss`, `aud`) before it is
//! handed back. Shared by the `portcullis` CLI and the tests.
//!
//! Unlike the platform's CLI it follows RFC 8628 fully: it polls until the
//! device code's `expires_in` is over, adds 5 s on every `slow_down`
//! (§3.5), backs off on network errors, and keeps the refresh token.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// What went wrong, by what the person can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Nothing to do with the network (an HTTP client could not start).
    Local,
    /// A setting is missing or wrong; the message names it.
    Settings,
    /// The identity provider could not be reached.
    Unreachable,
    /// The identity provider answered, but refused or with something unusable.
    Refused,
}

/// A failure, with a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What kind of failure (and so which exit code).
    pub kind: FailureKind,
    /// What went wrong and what to do.
    pub message: String,
}

fn fail(kind: FailureKind, message: impl Into<String>) -> Failure {
    Failure { kind, message: message.into() }
}

/// What a login leaves behind.
#[derive(Serialize, Deserialize, Clone)]
pub struct Tokens {
    /// The access token (a bearer token for the API).
    pub access_token: String,
    /// The refresh token, when the IdP issued one.
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// The issuer the tokens come from.
    pub issuer: String,
    /// Where the tokens are refreshed.
    pub token_endpoint: String,
    /// Where they are revoked at logout (RFC 7009), if the IdP has that.
    pub revocation_endpoint: Option<String>,
    /// The IdP's signing keys.
    pub jwks_uri: String,
    /// The device client the tokens were issued to.
    pub client_id: String,
    /// The audience the access token is for.
    pub audience: String,
    /// The server these tokens are for.
    pub base_url: String,
}

// Tokens never reach Debug output.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("issuer", &self.issuer).field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// The IdP's endpoints, from its discovery document.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The issuer, as discovery named it.
    pub issuer: String,
    /// The device authorization endpoint (RFC 8628 §3.1).
    pub device_authorization: String,
    /// The token endpoint.
    pub token: String,
    /// The signing keys.
    pub jwks_uri: String,
    /// The revocation endpoint (RFC 7009), if any.
    pub revocation: Option<String>,
}

fn setting<'a>(s: &'a Map<String, Value>, key: &str) -> Result<&'a str, Failure> {
    s.get(key).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).ok_or_else(|| {
        fail(FailureKind::Settings, format!("{key} is not set; run `portcullis enterprise configure <your Portcullis URL>` (or `portcullis config set {key} VALUE`)"))
    })
}

/// `https://` as the platform's CLI builds it, or `http://` for a loopback domain.
fn origin(domain: &str) -> String {
    let d = domain.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    let host = d.split('/').next().unwrap_or_default();
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host).trim_matches(['[', ']']);
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    format!("{}://{d}", if loopback { "http" } else { "https" })
}

/// The issuer the provider settings describe (the CLI wire contract §2).
pub fn issuer(s: &Map<String, Value>) -> Result<String, Failure> {
    let provider = setting(s, "oauth2_provider")?;
    let domain = setting(s, "oauth2_domain")?;
    let extra = s.get("oauth2_extra").cloned().unwrap_or(Value::Object(Map::new()));
    let ex = |k: &str| extra.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(match provider {
        "okta" if extra.get("using_org_auth_server").and_then(|v| v.as_bool()) == Some(true) => origin(domain),
        "okta" => format!("{}/oauth2/{}", origin(domain), ex("authorization_server_name").unwrap_or_else(|| "default".into())),
        "entra_id" => format!("{}/{domain}/v2.0", ex("authority_host").unwrap_or_else(|| "https://login.microsoftonline.com".into()).trim_end_matches('/')),
        "keycloak" => format!(
            "{}/realms/{}",
            origin(domain),
            ex("realm").ok_or_else(|| fail(FailureKind::Settings, "oauth2_extra has no realm; run `portcullis enterprise configure` again"))?
        ),
        "auth0" => format!("{}/", origin(domain)),
        "workos" => origin(domain),
        other => return Err(fail(FailureKind::Settings, format!("oauth2_provider `{other}` is not one of workos, okta, auth0, entra_id, keycloak"))),
    })
}

fn http_client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portcullis-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(FailureKind::Local, format!("cannot start an HTTP client: {e}")))
}

/// Reads the provider's discovery document (OpenID Connect Discovery §4).
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Endpoints, Failure> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let resp = http.get(&url).send().await.map_err(|e| {
        fail(FailureKind::Unreachable, format!("cannot reach the identity provider at {url}: {e}; check oauth2_domain (`portcullis config list`) and your network"))
    })?;
    if !resp.status().is_success() {
        return Err(fail(FailureKind::Refused, format!("{url} answered {}; check oauth2_domain and oauth2_extra (`portcullis config list`)", resp.status())));
    }
    let d: Value = resp.json().await.map_err(|e| fail(FailureKind::Refused, format!("{url} is not a discovery document: {e}")))?;
    let field = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    if field("issuer").as_deref() != Some(issuer) {
        return Err(fail(FailureKind::Refused, format!("{url} names issuer {:?}, not {issuer}; check oauth2_domain", field("issuer"))));
    }
    let refused = |m: String| fail(FailureKind::Refused, m);
    Ok(Endpoints {
        issuer: issuer.to_owned(),
        device_authorization: field("device_authorization_endpoint").ok_or_else(|| {
            refused("the identity provider does not offer the Device Authorization Grant: enable it for the CLI's client (Okta: a Native Application with Device Authorization; Entra ID: Allow public client flows; Keycloak: the OAuth 2.0 Device Authorization Grant on a public client)".into())
        })?,
        token: field("token_endpoint").ok_or_else(|| refused(format!("{url} has no token_endpoint")))?,
        jwks_uri: field("jwks_uri").ok_or_else(|| refused(format!("{url} has no jwks_uri")))?,
        revocation: field("revocation_endpoint"),
    })
}

/// Checks the access token as the server will: signature against the
/// provider's keys (never HMAC, never a key from the token), `iss`, `aud`,
/// `exp`, `sub` (RFC 7519 §7.2).
pub async fn verify_access_token(http: &reqwest::Client, e: &Endpoints, token: &str, audience: &str) -> Result<Value, Failure> {
    let refused = |m: String| fail(FailureKind::Refused, m);
    let header = jsonwebtoken::decode_header(token)
        .map_err(|err| refused(format!("the access token is not a signed JWT ({err}); the identity provider must issue JWT access tokens for audience {audience}")))?;
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(&e.jwks_uri)
        .send()
        .await
        .map_err(|err| fail(FailureKind::Unreachable, format!("cannot fetch the identity provider's keys at {}: {err}", e.jwks_uri)))?
        .json()
        .await
        .map_err(|err| refused(format!("{} is not a key set: {err}", e.jwks_uri)))?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| refused("Invalid token: Signature verification failed (no published key matches the token)".into()))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|err| refused(format!("unusable key: {err}")))?;
    if matches!(header.alg, jsonwebtoken::Algorithm::HS256 | jsonwebtoken::Algorithm::HS384 | jsonwebtoken::Algorithm::HS512) {
        return Err(refused("Invalid token: Signature verification failed (HMAC-signed access tokens are refused)".into()));
    }
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[&e.issuer]);
    v.set_audience(&[audience]);
    v.leeway = 60;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims).map_err(|err| match err.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAudience => refused(format!(
            "Invalid token: audience mismatch: the token is not for `{audience}`. The server's audience variable and the IdP's API must agree (`portcullis config get oauth2_audience`); nothing was stored"
        )),
        jsonwebtoken::errors::ErrorKind::InvalidIssuer => refused(format!("Invalid token: wrong issuer (expected {}); nothing was stored", e.issuer)),
        _ => refused(format!("Invalid token: {err}; nothing was stored")),
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64
}

/// What the person must confirm (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct UserCode {
    /// The code to type.
    pub user_code: String,
    /// `verification_uri_complete` when given, else `verification_uri`.
    pub verification: String,
}

/// A device login under way: asked for, waiting for the person.
pub struct DeviceLogin {
    http: reqwest::Client,
    endpoints: Endpoints,
    client_id: String,
    audience: String,
    base_url: String,
    device_code: String,
    interval: u64,
    deadline: Instant,
    /// What to show the person.
    pub code: UserCode,
}

impl DeviceLogin {
    /// §3.1–3.2: the device authorization request, with the settings of
    /// `portcullis enterprise configure` (the wire contract's keys).
    pub async fn start(settings: &Map<String, Value>) -> Result<DeviceLogin, Failure> {
        let base_url = setting(settings, "enterprise_base_url")?.to_owned();
        let client_id = setting(settings, "oauth2_client_id")?.to_owned();
        let provider = setting(settings, "oauth2_provider")?.to_owned();
        let audience = settings.get("oauth2_audience").and_then(|v| v.as_str()).map(str::to_owned).unwrap_or_else(|| client_id.clone());
        let http = http_client()?;
        let endpoints = discover(&http, &issuer(settings)?).await?;
        let mut scope = "openid profile email offline_access".to_owned();
        if provider == "entra_id" {
            if let Some(extra) = settings.get("oauth2_extra").and_then(|x| x.get("scope")).and_then(|v| v.as_str()) {
                scope = format!("{scope} {extra}");
            }
        }
        let mut form = vec![("client_id", client_id.clone()), ("scope", scope)];
        if provider == "auth0" {
            form.push(("audience", audience.clone()));
        }
        let resp = http
            .post(&endpoints.device_authorization)
            .form(&form)
            .send()
            .await
            .map_err(|err| fail(FailureKind::Unreachable, format!("cannot reach {}: {err}", endpoints.device_authorization)))?;
        let status = resp.status();
        let auth: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(fail(
                FailureKind::Refused,
                format!(
                    "the identity provider refused the device login ({}: {}). Verify that the Device Authorization Grant is enabled for client `{client_id}` in your IdP",
                    auth.get("error").and_then(|v| v.as_str()).unwrap_or("no error code"),
                    auth.get("error_description").and_then(|v| v.as_str()).unwrap_or("")
                ),
            ));
        }
        let field = |k: &str| auth.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let missing = |what: &str| fail(FailureKind::Refused, format!("the device authorization response has no {what}"));
        let device_code = field("device_code").ok_or_else(|| missing("device_code"))?;
        let user_code = field("user_code").ok_or_else(|| missing("user_code"))?;
        let verification = field("verification_uri_complete").or_else(|| field("verification_uri")).ok_or_else(|| missing("verification_uri"))?;
        let expires_in = auth.get("expires_in").and_then(|v| v.as_u64()).unwrap_or(600);
        let interval = auth.get("interval").and_then(|v| v.as_u64()).unwrap_or(5).max(1);
        Ok(DeviceLogin {
            http,
            endpoints,
            client_id,
            audience,
            base_url,
            device_code,
            interval,
            deadline: Instant::now() + Duration::from_secs(expires_in),
            code: UserCode { user_code, verification },
        })
    }

    /// §3.4–3.5: polls until the person approves, denies or the code runs
    /// out; `waiting` is called before each poll (a spinner). Returns the
    /// tokens, the access token checked, and its claims.
    pub async fn finish(self, mut waiting: impl FnMut()) -> Result<(Tokens, Value), Failure> {
        let refused = |m: String| fail(FailureKind::Refused, m);
        let mut interval = self.interval;
        let mut backoff = 0u64;
        let token: Value = loop {
            tokio::time::sleep(Duration::from_secs(interval + backoff)).await;
            if Instant::now() >= self.deadline {
                return Err(refused("the code expired before the sign-in was confirmed; run `portcullis login` again".into()));
            }
            waiting();
            let polled = self
                .http
                .post(&self.endpoints.token)
                .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", &self.device_code), ("client_id", &self.client_id)])
                .send()
                .await;
            let resp = match polled {
                Ok(r) => r,
                Err(_) => {
                    // Network trouble: back off (doubling, up to a minute) and keep going.
                    backoff = (backoff * 2).clamp(interval, 60);
                    continue;
                }
            };
            backoff = 0;
            let ok = resp.status().is_success();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if ok {
                break body;
            }
            match body.get("error").and_then(|v| v.as_str()).unwrap_or("") {
                "authorization_pending" => {}
                "slow_down" => interval += 5,
                "access_denied" => return Err(refused("the sign-in was denied at the identity provider".into())),
                "expired_token" => return Err(refused("the code expired before the sign-in was confirmed; run `portcullis login` again".into())),
                other => return Err(refused(format!("the identity provider refused: {other} {}", body.get("error_description").and_then(|v| v.as_str()).unwrap_or("")))),
            }
        };
        let access = token.get("access_token").and_then(|v| v.as_str()).ok_or_else(|| refused("the token response has no access_token".into()))?.to_owned();
        let claims = verify_access_token(&self.http, &self.endpoints, &access, &self.audience).await?;
        let expires_at = claims.get("exp").and_then(|v| v.as_i64()).unwrap_or_else(|| now_secs() + token.get("expires_in").and_then(|v| v.as_i64()).unwrap_or(300));
        let e = self.endpoints;
        let t = Tokens {
            access_token: access,
            refresh_token: token.get("refresh_token").and_then(|v| v.as_str()).map(str::to_owned),
            expires_at,
            issuer: e.issuer,
            token_endpoint: e.token,
            revocation_endpoint: e.revocation,
            jwks_uri: e.jwks_uri,
            client_id: self.client_id,
            audience: self.audience,
            base_url: self.base_url,
        };
        Ok((t, claims))
    }
}

/// A valid access token: the stored one, or a new one from the refresh
/// token when it expires within 30 s (RFC 6749 §6; refresh tokens rotate:
/// the new one is kept). The `bool` says whether it was renewed.
pub async fn fresh(mut t: Tokens) -> Result<(Tokens, bool), Failure> {
    if t.expires_at > now_secs() + 30 {
        return Ok((t, false));
    }
    let refused = |m: String| fail(FailureKind::Refused, m);
    let Some(refresh) = t.refresh_token.clone() else {
        return Err(refused("the access token expired and there is no refresh token; run `portcullis login`".into()));
    };
    let http = http_client()?;
    let resp = http
        .post(&t.token_endpoint)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &t.client_id)])
        .send()
        .await
        .map_err(|e| fail(FailureKind::Unreachable, format!("cannot reach {}: {e}", t.token_endpoint)))?;
    let ok = resp.status().is_success();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !ok {
        return Err(refused(format!("the refresh was refused ({}); run `portcullis login`", body.get("error").and_then(|v| v.as_str()).unwrap_or("no error code"))));
    }
    let access = body.get("access_token").and_then(|v| v.as_str()).ok_or_else(|| refused("the refresh answer has no access_token".into()))?.to_owned();
    let e = Endpoints { issuer: t.issuer.clone(), device_authorization: String::new(), token: t.token_endpoint.clone(), jwks_uri: t.jwks_uri.clone(), revocation: t.revocation_endpoint.clone() };
    let claims = verify_access_token(&http, &e, &access, &t.audience).await?;
    t.expires_at = claims.get("exp").and_then(|v| v.as_i64()).unwrap_or_else(|| now_secs() + 300);
    t.access_token = access;
    if let Some(r) = body.get("refresh_token").and_then(|v| v.as_str()) {
        t.refresh_token = Some(r.to_owned());
    }
    Ok((t, true))
}

/// RFC 7009: revokes the refresh token (or the access token) where the IdP
/// can; `false` when it has no revocation endpoint.
pub async fn revoke(t: &Tokens) -> Result<bool, String> {
    let Some(endpoint) = &t.revocation_endpoint else { return Ok(false) };
    let (token, hint) = match &t.refresh_token {
        Some(r) => (r.as_str(), "refresh_token"),
        None => (t.access_token.as_str(), "access_token"),
    };
    let http = http_client().map_err(|e| e.message)?;
    let resp = http
        .post(endpoint)
        .form(&[("token", token), ("token_type_hint", hint), ("client_id", &t.client_id)])
        .send()
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    if resp.status().is_success() {
        Ok(true)
    } else {
        Err(format!("{endpoint} answered {}", resp.status()))
    }
}
