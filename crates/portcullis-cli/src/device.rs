//! `portcullis login`: the OAuth 2.0 Device Authorization Grant (RFC 8628)
//! at the identity provider the settings name, then the access token
//! checked (signature against the provider's keys, `iss`, `aud`) before
//! anything is stored. Unlike the platform's CLI it follows RFC 8628 fully:
//! it polls until the device code's `expires_in` is over (not 10 times),
//! adds 5 s on every `slow_down` (§3.5), backs off on network errors, and
//! keeps the refresh token so that `portcullis token` can renew.

use crate::credentials::Tokens;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// A failure with its exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure { code, message: message.into() }
}

/// The IdP's endpoints, from its discovery document.
pub struct Endpoints {
    pub issuer: String,
    pub device_authorization: String,
    pub token: String,
    pub jwks_uri: String,
    pub revocation: Option<String>,
}

fn setting<'a>(s: &'a Map<String, Value>, key: &str) -> Result<&'a str, Failure> {
    s.get(key).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).ok_or_else(|| {
        fail(2, format!("{key} is not set; run `portcullis enterprise configure <your Portcullis URL>` (or `portcullis config set {key} VALUE`)"))
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
        "keycloak" => format!("{}/realms/{}", origin(domain), ex("realm").ok_or_else(|| fail(2, "oauth2_extra has no realm; run `portcullis enterprise configure` again"))?),
        "auth0" => format!("{}/", origin(domain)),
        "workos" => origin(domain),
        other => return Err(fail(2, format!("oauth2_provider `{other}` is not one of workos, okta, auth0, entra_id, keycloak"))),
    })
}

pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Endpoints, Failure> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let resp = http.get(&url).send().await.map_err(|e| fail(3, format!("cannot reach the identity provider at {url}: {e}; check oauth2_domain (`portcullis config list`) and your network")))?;
    if !resp.status().is_success() {
        return Err(fail(4, format!("{url} answered {}; check oauth2_domain and oauth2_extra (`portcullis config list`)", resp.status())));
    }
    let d: Value = resp.json().await.map_err(|e| fail(4, format!("{url} is not a discovery document: {e}")))?;
    let field = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    if field("issuer").as_deref() != Some(issuer) {
        return Err(fail(4, format!("{url} names issuer {:?}, not {issuer}; check oauth2_domain", field("issuer"))));
    }
    Ok(Endpoints {
        issuer: issuer.to_owned(),
        device_authorization: field("device_authorization_endpoint").ok_or_else(|| {
            fail(4, "the identity provider does not offer the Device Authorization Grant: enable it for the CLI's client (Okta: a Native Application with Device Authorization; Entra ID: Allow public client flows; Keycloak: the OAuth 2.0 Device Authorization Grant on a public client)")
        })?,
        token: field("token_endpoint").ok_or_else(|| fail(4, format!("{url} has no token_endpoint")))?,
        jwks_uri: field("jwks_uri").ok_or_else(|| fail(4, format!("{url} has no jwks_uri")))?,
        revocation: field("revocation_endpoint"),
    })
}

/// Checks the access token as the server will: signature against the
/// provider's keys, `iss`, `aud`, `exp`, `sub`.
pub async fn verify_access_token(http: &reqwest::Client, e: &Endpoints, token: &str, audience: &str) -> Result<Value, Failure> {
    let header = jsonwebtoken::decode_header(token).map_err(|err| fail(4, format!("the access token is not a signed JWT ({err}); the identity provider must issue JWT access tokens for audience {audience}")))?;
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(&e.jwks_uri)
        .send()
        .await
        .map_err(|err| fail(3, format!("cannot fetch the identity provider's keys at {}: {err}", e.jwks_uri)))?
        .json()
        .await
        .map_err(|err| fail(4, format!("{} is not a key set: {err}", e.jwks_uri)))?;
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| fail(4, "Invalid token: Signature verification failed (no published key matches the token)"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|err| fail(4, format!("unusable key: {err}")))?;
    if matches!(header.alg, jsonwebtoken::Algorithm::HS256 | jsonwebtoken::Algorithm::HS384 | jsonwebtoken::Algorithm::HS512) {
        return Err(fail(4, "Invalid token: Signature verification failed (HMAC-signed access tokens are refused)"));
    }
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[&e.issuer]);
    v.set_audience(&[audience]);
    v.leeway = 60;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims).map_err(|err| match err.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAudience => fail(
            4,
            format!("Invalid token: audience mismatch: the token is not for `{audience}`. The server's audience variable and the IdP's API must agree (`portcullis config get oauth2_audience`); nothing was stored"),
        ),
        jsonwebtoken::errors::ErrorKind::InvalidIssuer => fail(4, format!("Invalid token: wrong issuer (expected {}); nothing was stored", e.issuer)),
        _ => fail(4, format!("Invalid token: {err}; nothing was stored")),
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64
}

fn open_browser(url: &str) {
    // $BROWSER first (as most Unix tools), then the desktop's opener.
    let candidates: Vec<String> = std::env::var("BROWSER").ok().filter(|b| !b.is_empty()).into_iter().chain(["xdg-open".to_owned(), "open".to_owned()]).collect();
    for c in candidates {
        if std::process::Command::new(&c).arg(url).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().is_ok() {
            return;
        }
    }
}

/// The whole login: returns the stored tokens and who they are for.
pub async fn login(settings: &Map<String, Value>, no_browser: bool) -> Result<(Tokens, Value), Failure> {
    let base_url = setting(settings, "enterprise_base_url")?.to_owned();
    let client_id = setting(settings, "oauth2_client_id")?.to_owned();
    let provider = setting(settings, "oauth2_provider")?.to_owned();
    let audience = settings.get("oauth2_audience").and_then(|v| v.as_str()).map(str::to_owned).unwrap_or_else(|| client_id.clone());
    let issuer = issuer(settings)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portcullis-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(1, format!("cannot start an HTTP client: {e}")))?;
    let e = discover(&http, &issuer).await?;
    let mut scope = "openid profile email offline_access".to_owned();
    if provider == "entra_id" {
        if let Some(extra) = settings.get("oauth2_extra").and_then(|x| x.get("scope")).and_then(|v| v.as_str()) {
            scope = format!("{scope} {extra}");
        }
    }
    // §3.1-3.2: the device authorization request.
    let mut form = vec![("client_id", client_id.clone()), ("scope", scope)];
    if provider == "auth0" {
        form.push(("audience", audience.clone()));
    }
    let resp = http.post(&e.device_authorization).form(&form).send().await.map_err(|err| fail(3, format!("cannot reach {}: {err}", e.device_authorization)))?;
    let status = resp.status();
    let auth: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(fail(
            4,
            format!(
                "the identity provider refused the device login ({}: {}). Verify that the Device Authorization Grant is enabled for client `{client_id}` in your IdP",
                auth.get("error").and_then(|v| v.as_str()).unwrap_or("no error code"),
                auth.get("error_description").and_then(|v| v.as_str()).unwrap_or("")
            ),
        ));
    }
    let field = |k: &str| auth.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let device_code = field("device_code").ok_or_else(|| fail(4, "the device authorization response has no device_code"))?;
    let user_code = field("user_code").ok_or_else(|| fail(4, "the device authorization response has no user_code"))?;
    let verification = field("verification_uri_complete").or_else(|| field("verification_uri")).ok_or_else(|| fail(4, "the device authorization response has no verification_uri"))?;
    let expires_in = auth.get("expires_in").and_then(|v| v.as_u64()).unwrap_or(600);
    let mut interval = auth.get("interval").and_then(|v| v.as_u64()).unwrap_or(5).max(1);
    println!("To sign in, open {verification}");
    println!("and confirm the code {user_code}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if !no_browser {
        open_browser(&verification);
    }
    // §3.4-3.5: poll until approved, denied or expired.
    let deadline = Instant::now() + Duration::from_secs(expires_in);
    let spinner = ['|', '/', '-', '\\'];
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut backoff = 0u64;
    let mut turn = 0usize;
    let token: Value = loop {
        tokio::time::sleep(Duration::from_secs(interval + backoff)).await;
        if Instant::now() >= deadline {
            return Err(fail(4, "the code expired before the sign-in was confirmed; run `portcullis login` again"));
        }
        if tty {
            eprint!("\r{} waiting for the confirmation...", spinner[turn % 4]);
            turn += 1;
        }
        let polled = http
            .post(&e.token)
            .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", &device_code), ("client_id", &client_id)])
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
            "access_denied" => return Err(fail(4, "the sign-in was denied at the identity provider")),
            "expired_token" => return Err(fail(4, "the code expired before the sign-in was confirmed; run `portcullis login` again")),
            other => {
                return Err(fail(
                    4,
                    format!("the identity provider refused: {other} {}", body.get("error_description").and_then(|v| v.as_str()).unwrap_or("")),
                ))
            }
        }
    };
    if tty {
        eprintln!("\r                                   ");
    }
    let access = token.get("access_token").and_then(|v| v.as_str()).ok_or_else(|| fail(4, "the token response has no access_token"))?.to_owned();
    let claims = verify_access_token(&http, &e, &access, &audience).await?;
    let expires_at = claims.get("exp").and_then(|v| v.as_i64()).unwrap_or_else(|| now_secs() + token.get("expires_in").and_then(|v| v.as_i64()).unwrap_or(300));
    let t = Tokens {
        access_token: access,
        refresh_token: token.get("refresh_token").and_then(|v| v.as_str()).map(str::to_owned),
        expires_at,
        issuer: e.issuer.clone(),
        token_endpoint: e.token.clone(),
        revocation_endpoint: e.revocation.clone(),
        jwks_uri: e.jwks_uri.clone(),
        client_id,
        audience,
        base_url,
    };
    Ok((t, claims))
}

/// A valid access token: the stored one, or a new one from the refresh
/// token when it expires within 30 s (refresh tokens rotate: the new one is kept).
pub async fn fresh(mut t: Tokens) -> Result<(Tokens, bool), Failure> {
    if t.expires_at > now_secs() + 30 {
        return Ok((t, false));
    }
    let Some(refresh) = t.refresh_token.clone() else {
        return Err(fail(4, "the access token expired and there is no refresh token; run `portcullis login`"));
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().map_err(|e| fail(1, e.to_string()))?;
    let resp = http
        .post(&t.token_endpoint)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &t.client_id)])
        .send()
        .await
        .map_err(|e| fail(3, format!("cannot reach {}: {e}", t.token_endpoint)))?;
    let ok = resp.status().is_success();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !ok {
        return Err(fail(4, format!("the refresh was refused ({}); run `portcullis login`", body.get("error").and_then(|v| v.as_str()).unwrap_or("no error code"))));
    }
    let access = body.get("access_token").and_then(|v| v.as_str()).ok_or_else(|| fail(4, "the refresh answer has no access_token"))?.to_owned();
    let e = Endpoints { issuer: t.issuer.clone(), device_authorization: String::new(), token: t.token_endpoint.clone(), jwks_uri: t.jwks_uri.clone(), revocation: t.revocation_endpoint.clone() };
    let claims = verify_access_token(&http, &e, &access, &t.audience).await?;
    t.expires_at = claims.get("exp").and_then(|v| v.as_i64()).unwrap_or_else(|| now_secs() + 300);
    t.access_token = access;
    if let Some(r) = body.get("refresh_token").and_then(|v| v.as_str()) {
        t.refresh_token = Some(r.to_owned());
    }
    Ok((t, true))
}

/// RFC 7009: revokes the refresh token (or the access token) where the IdP can.
pub async fn revoke(t: &Tokens) -> Result<bool, String> {
    let Some(endpoint) = &t.revocation_endpoint else { return Ok(false) };
    let (token, hint) = match &t.refresh_token {
        Some(r) => (r.as_str(), "refresh_token"),
        None => (t.access_token.as_str(), "access_token"),
    };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().map_err(|e| e.to_string())?;
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
