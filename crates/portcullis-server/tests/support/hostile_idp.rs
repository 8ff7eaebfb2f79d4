//! An OpenID provider that misbehaves on request, for the hostile cases a
//! real provider never produces: forged and mis-addressed ID tokens, a
//! userinfo answer for another user, mix-up `iss` parameters, replayed codes.
//! In its `Good` mode it is a plain, correct provider (code flow with PKCE,
//! single-use codes), so each hostile test changes exactly one thing.
//!
//! It serves the Okta custom-authorization-server layout
//! (`/oauth2/default/...`), so the server under test is configured with the
//! documented `OKTA_*` variables.

#![allow(dead_code)]

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "portcullis-web";
pub const CLIENT_SECRET: &str = "hostile-secret";

/// What to get wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Good,
    /// Signed by a key that is not the one the `kid` names.
    BadSignature,
    AlgNone,
    /// HS256 with the provider's public key as the HMAC secret.
    Hs256WithPublicKey,
    WrongIss,
    WrongAud,
    NoAud,
    NoSub,
    NoIat,
    Expired,
    NoNonce,
    WrongNonce,
    /// userinfo describes another subject (the ID token lacks e-mail, so it is asked).
    UserinfoOtherSubject,
    /// The authorization response's `iss` names another provider (RFC 9207).
    IssParamOfOther,
    /// Codes may be redeemed again and PKCE is not checked (a sloppy IdP).
    Sloppy,
    /// The discovery document never ends (chunked, no Content-Length).
    EndlessDiscovery,
    /// The key set never ends (chunked, no Content-Length).
    EndlessJwks,
}

/// A body that streams spaces forever, without a Content-Length.
pub fn endless() -> axum::response::Response {
    let chunk = bytes::Bytes::from(vec![b' '; 16 * 1024]);
    let stream = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    axum::response::Response::builder().header("content-type", "application/json").body(axum::body::Body::from_stream(stream)).unwrap()
}

pub struct Keys {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub public_pem: String,
    pub jwk: Value,
}

fn load_keys() -> HashMap<String, Keys> {
    let raw: Value = serde_json::from_str(include_str!("../fixtures/hostile-idp-keys.json")).unwrap();
    raw.as_object()
        .unwrap()
        .iter()
        .map(|(kid, k)| {
            let pem = k["private_pem"].as_str().unwrap();
            let (alg, encoding) = match k["alg"].as_str().unwrap() {
                "RS256" => (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()),
                _ => (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()),
            };
            let mut jwk = k["jwk"].clone();
            jwk["kid"] = json!(kid);
            jwk["alg"] = json!(k["alg"]);
            jwk["use"] = json!("sig");
            (kid.clone(), Keys { kid: kid.clone(), alg, encoding, public_pem: k["public_pem"].as_str().unwrap().to_owned(), jwk })
        })
        .collect()
}

pub struct Behaviour {
    pub mode: Mode,
    /// Keys in the published JWKS.
    pub published: Vec<&'static str>,
    /// The key that signs.
    pub signing: &'static str,
    /// Publish and sign without `kid`.
    pub omit_kid: bool,
    pub subject: String,
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub sid: String,
}

struct Grant {
    nonce: Option<String>,
    challenge: Option<String>,
    used: bool,
}

pub struct IdpState {
    pub behaviour: Behaviour,
    pub jwks_fetches: usize,
    pub token_requests: usize,
    /// Time spent inside the token endpoint, per request (for benchmarks:
    /// the IdP's share of a callback).
    pub token_micros: Vec<u64>,
    grants: HashMap<String, Grant>,
}

#[derive(Clone)]
pub struct HostileIdp {
    /// `http://127.0.0.1:P` (the `OKTA_SITE`).
    pub site: String,
    pub issuer: String,
    pub state: Arc<Mutex<IdpState>>,
    keys: Arc<HashMap<String, Keys>>,
}

#[derive(Clone)]
struct Ctx {
    idp: HostileIdp,
}

impl HostileIdp {
    pub async fn start(mode: Mode) -> HostileIdp {
        // Before this IdP signs a token, which would settle jsonwebtoken's
        // provider: the servers under test run on the server's own.
        portcullis_server::jwt_crypto::install();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{site}/oauth2/default");
        let idp = HostileIdp {
            site,
            issuer,
            keys: Arc::new(load_keys()),
            state: Arc::new(Mutex::new(IdpState {
                behaviour: Behaviour {
                    mode,
                    published: vec!["k1"],
                    signing: "k1",
                    omit_kid: false,
                    subject: "hostile-user-1".into(),
                    email: Some("mallory@example.test".into()),
                    roles: vec!["member".into()],
                    sid: "idp-session-1".into(),
                },
                jwks_fetches: 0,
                token_requests: 0,
                token_micros: Vec::new(),
                grants: HashMap::new(),
            })),
        };
        let app = Router::new()
            .route("/oauth2/default/.well-known/openid-configuration", get(discovery))
            .route("/oauth2/default/v1/keys", get(jwks))
            .route("/oauth2/default/v1/authorize", get(authorize))
            .route("/oauth2/default/v1/token", post(token))
            .route("/oauth2/default/v1/userinfo", get(userinfo))
            .with_state(Ctx { idp: idp.clone() });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        idp
    }

    /// The server's environment for this provider.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AUTH_PROVIDER", "okta".into()),
            ("OKTA_SITE", self.site.clone()),
            ("OKTA_AUTHORIZATION_SERVER", "default".into()),
            ("OKTA_AUDIENCE", "api://default".into()),
            ("OKTA_CLIENT_ID", CLIENT_ID.into()),
            ("OKTA_CLIENT_SECRET", CLIENT_SECRET.into()),
        ]
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut IdpState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn key(&self, kid: &str) -> &Keys {
        &self.keys[kid]
    }

    /// A JWT signed with one of the provider's keys.
    pub fn sign(&self, kid: &str, omit_kid: bool, claims: &Value) -> String {
        let k = &self.keys[kid];
        let mut h = Header::new(k.alg);
        if !omit_kid {
            h.kid = Some(k.kid.clone());
        }
        jsonwebtoken::encode(&h, claims, &k.encoding).unwrap()
    }
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn discovery(State(c): State<Ctx>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if c.idp.state.lock().unwrap().behaviour.mode == Mode::EndlessDiscovery {
        return endless();
    }
    let i = &c.idp.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/v1/authorize"),
        "token_endpoint": format!("{i}/v1/token"),
        "userinfo_endpoint": format!("{i}/v1/userinfo"),
        "jwks_uri": format!("{i}/v1/keys"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

async fn jwks(State(c): State<Ctx>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut st = c.idp.state.lock().unwrap();
    st.jwks_fetches += 1;
    if st.behaviour.mode == Mode::EndlessJwks {
        return endless();
    }
    let keys: Vec<Value> = st
        .behaviour
        .published
        .iter()
        .map(|kid| {
            let mut j = c.idp.keys[*kid].jwk.clone();
            if st.behaviour.omit_kid {
                j.as_object_mut().unwrap().remove("kid");
            }
            j
        })
        .collect();
    Json(json!({ "keys": keys })).into_response()
}

async fn authorize(State(c): State<Ctx>, Query(q): Query<HashMap<String, String>>) -> Response {
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    let mode = {
        let mut st = c.idp.state.lock().unwrap();
        st.grants.insert(code.clone(), Grant { nonce: q.get("nonce").cloned(), challenge: q.get("code_challenge").cloned(), used: false });
        st.behaviour.mode
    };
    let iss = if mode == Mode::IssParamOfOther { "https://other-idp.example".to_owned() } else { c.idp.issuer.clone() };
    let mut url = url::Url::parse(&q["redirect_uri"]).unwrap();
    url.query_pairs_mut().append_pair("code", &code).append_pair("state", q.get("state").map(String::as_str).unwrap_or("")).append_pair("iss", &iss);
    Redirect::to(url.as_str()).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error, "error_description": description }))).into_response()
}

async fn token(State(c): State<Ctx>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let started = std::time::Instant::now();
    let resp = token_inner(&c, &headers, &f);
    c.idp.state.lock().unwrap().token_micros.push(started.elapsed().as_micros() as u64);
    resp
}

fn token_inner(c: &Ctx, headers: &HeaderMap, f: &HashMap<String, String>) -> Response {
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return oauth_error("invalid_client", "client authentication failed");
    }
    let mut st = c.idp.state.lock().unwrap();
    st.token_requests += 1;
    let mode = st.behaviour.mode;
    let code = f.get("code").cloned().unwrap_or_default();
    let Some(grant) = st.grants.get_mut(&code) else { return oauth_error("invalid_grant", "unknown code") };
    if mode != Mode::Sloppy {
        if grant.used {
            return oauth_error("invalid_grant", "the code was already used");
        }
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        if grant.challenge.as_deref() != Some(b64(&Sha256::digest(verifier.as_bytes())).as_str()) {
            return oauth_error("invalid_grant", "PKCE verification failed");
        }
    }
    grant.used = true;
    let nonce = grant.nonce.clone();
    let b = &st.behaviour;
    let now = now_secs();
    let mut claims = json!({
        "iss": c.idp.issuer, "sub": b.subject, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "sid": b.sid, "name": "Hostile Test User", "groups": b.roles,
    });
    if let Some(n) = &nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(e) = &b.email {
        if mode != Mode::UserinfoOtherSubject {
            claims["email"] = json!(e);
        }
    }
    let obj = claims.as_object_mut().unwrap();
    match mode {
        Mode::WrongIss => {
            obj.insert("iss".into(), json!("https://evil.example/oauth2/default"));
        }
        Mode::WrongAud => {
            obj.insert("aud".into(), json!("someone-else"));
        }
        Mode::NoAud => {
            obj.remove("aud");
        }
        Mode::NoSub => {
            obj.remove("sub");
        }
        Mode::NoIat => {
            obj.remove("iat");
        }
        Mode::Expired => {
            obj.insert("iat".into(), json!(now - 1200));
            obj.insert("exp".into(), json!(now - 600));
        }
        Mode::NoNonce => {
            obj.remove("nonce");
        }
        Mode::WrongNonce => {
            obj.insert("nonce".into(), json!("not-the-nonce"));
        }
        _ => {}
    }
    let id_token = match mode {
        Mode::AlgNone => format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims.to_string().as_bytes())),
        Mode::Hs256WithPublicKey => {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("k1".into());
            jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(c.idp.keys["k1"].public_pem.as_bytes()).unwrap()).unwrap()
        }
        Mode::BadSignature => {
            // Signed by k2 while claiming to be k1.
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("k1".into());
            jsonwebtoken::encode(&h, &claims, &c.idp.keys["k2"].encoding).unwrap()
        }
        _ => c.idp.sign(b.signing, b.omit_kid, &claims),
    };
    Json(json!({ "access_token": format!("at-{}", uuid::Uuid::new_v4().simple()), "token_type": "Bearer", "expires_in": 300, "id_token": id_token })).into_response()
}

async fn userinfo(State(c): State<Ctx>) -> Json<Value> {
    let st = c.idp.state.lock().unwrap();
    let b = &st.behaviour;
    let sub = if b.mode == Mode::UserinfoOtherSubject { "someone-else".to_owned() } else { b.subject.clone() };
    Json(json!({ "sub": sub, "email": b.email, "groups": b.roles }))
}
