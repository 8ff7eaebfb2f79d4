//! The CLI's side of the server: `/auth/parameters` (the wire contract §1)
//! and bearer access tokens from a device login (RFC 8628, RFC 6750) at a
//! real OpenID provider, for every vendor layout; hostile tokens refused.


use crate::support::hostile_idp::{HostileIdp, Mode};
use crate::support::oidc_peer::OidcPeer;
use crate::support::{Db, Options, TestServer};

const ALL: [(&str, &str); 5] = [("okta", "okta-cli"), ("keycloak", "keycloak-cli"), ("entra_id", "entra-cli"), ("auth0", "auth0-cli"), ("workos", "workos-client")];

async fn bearer_get(srv: &TestServer, path: &str, token: &str) -> (u16, Option<String>, serde_json::Value) {
    let resp = reqwest::Client::new().get(srv.url(path)).bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, resp.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_tokens_of_every_vendor_work_as_bearer_tokens() {
    for (provider, cli_client) in ALL {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = OidcPeer::start(&format!("http://{}", listener.local_addr().unwrap())).await;
        let mut env = vec![("AUTH_PROVIDER", provider.to_owned())];
        env.extend(peer.env(provider));
        if provider == "auth0" {
            env.push(("AUTH0_AUDIENCE", "https://portcullis.example/api".into()));
        }
        let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: env, listener: Some(listener) }).await.unwrap();

        // §1: what the CLI configures itself from.
        let params: serde_json::Value = reqwest::get(srv.url("/auth/parameters")).await.unwrap().json().await.unwrap();
        assert_eq!(params["provider"], provider);
        assert_eq!(params["device_authorization_client_id"], cli_client);
        let expected_extra = match provider {
            "okta" => serde_json::json!({"authorization_server_name": "default", "using_org_auth_server": false}),
            "keycloak" => serde_json::json!({"realm": "factory"}),
            "entra_id" => serde_json::json!({"scope": "api://portcullis-cli/read", "authority_host": format!("http://127.0.0.1:{}", peer.port("entra_id"))}),
            _ => serde_json::json!({}),
        };
        assert_eq!(params["extra"], expected_extra, "{provider}: {params}");
        let port = peer.port(provider);
        let expected_domain = if provider == "entra_id" { crate::support::oidc_peer::TENANT.to_owned() } else { format!("127.0.0.1:{port}") };
        assert_eq!(params["domain"], expected_domain.as_str(), "{provider}");

        // A device login at the IdP, then the API with the access token.
        let extra_scope = if provider == "entra_id" { "api://portcullis-cli/read" } else { "" };
        let token = peer.device_login(provider, cli_client, "alice", extra_scope).await;
        let access = token["access_token"].as_str().unwrap();
        let (status, _, me) = bearer_get(&srv, "/api/v1/me", access).await;
        assert_eq!(status, 200, "{provider}: {me}");
        assert_eq!(me["user"]["email"], "alice@example.test", "{provider}");
        assert_eq!(me["user"]["factory_admin"], true, "{provider}: roles from the access token");
        assert_eq!(me["session"]["provider"], provider);
        let (status, _, orgs) = bearer_get(&srv, "/crewai_plus/api/v1/me/organizations", access).await;
        assert_eq!(status, 200);
        assert_eq!(orgs[0]["name"], "Default", "{provider}: {orgs}");
        // A state change with a bearer token needs no CSRF token (no ambient credential).
        let resp = reqwest::Client::new()
            .post(srv.url("/api/v1/roles"))
            .bearer_auth(access)
            .json(&serde_json::json!({ "name": format!("Viewers {provider}"), "permissions": {} }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{provider}: {}", resp.text().await.unwrap());
        // A token with one byte changed is refused with an RFC 6750 challenge.
        let sig_start = access.rfind('.').unwrap() + 1;
        let mid = sig_start + (access.len() - sig_start) / 2;
        let flipped = if &access[mid..mid + 1] == "A" { "B" } else { "A" };
        let forged = format!("{}{flipped}{}", &access[..mid], &access[mid + 1..]);
        let (status, challenge, body) = bearer_get(&srv, "/api/v1/me", &forged).await;
        assert_eq!(status, 401, "{provider}");
        let challenge = challenge.unwrap();
        assert!(challenge.contains("error=\"invalid_token\"") && challenge.contains("Signature verification failed"), "{challenge}");
        assert!(body["message"].as_str().unwrap().contains("Invalid token: Signature verification failed"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_name_the_missing_variable() {
    // (With `local` a provider, the server's own authorization server
    // answers instead: tests/local_oauth.rs.)
    let idp = HostileIdp::start(Mode::Good).await;
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: idp.env(), listener: None }).await.unwrap();
    let resp = reqwest::get(srv.url("/auth/parameters")).await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("OKTA_DEVICE_AUTHORIZATION_CLIENT_ID"), "{body}");
}

/// Access tokens as the hostile provider signs them.
fn access_token(idp: &HostileIdp, kid: &str, f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut claims = serde_json::json!({
        "iss": idp.issuer, "aud": "api://default", "sub": "cli-user", "iat": now, "exp": now + 300,
        "email": "cli@example.test", "groups": ["member"], "cid": crate::support::hostile_idp::CLIENT_ID,
    });
    f(claims.as_object_mut().unwrap());
    idp.sign(kid, false, &claims)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bearer_tokens_are_refused_and_a_disabled_user_at_once() {
    use base64::Engine;
    let idp = HostileIdp::start(Mode::Good).await;
    let mut env = idp.env();
    env.push(("PORTCULLIS_AUTH_PROVIDERS", "okta,local".into()));
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: true, extra_env: env, listener: None }).await.unwrap();
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let cases: Vec<(&str, String, &str)> = vec![
        ("wrong audience", access_token(&idp, "k1", |c| { c.insert("aud".into(), "api://other".into()); }), "audience mismatch: got \"api://other\", expected `api://default`"),
        ("expired", access_token(&idp, "k1", |c| { c.insert("exp".into(), (now - 600).into()); }), "token expired"),
        ("not yet valid", access_token(&idp, "k1", |c| { c.insert("nbf".into(), (now + 600).into()); }), "not yet valid"),
        ("no exp", access_token(&idp, "k1", |c| { c.remove("exp"); }), "`exp`"),
        ("no iat", access_token(&idp, "k1", |c| { c.remove("iat"); }), "`iat`"),
        ("other issuer", access_token(&idp, "k1", |c| { c.insert("iss".into(), "https://evil.example".into()); }), "is not an identity provider of this server"),
        ("unpublished key", access_token(&idp, "k2", |_| {}), "Signature verification failed"),
        ("alg none", format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(serde_json::json!({"iss": idp.issuer, "aud": "api://default", "sub": "x", "exp": now + 300, "iat": now}).to_string().as_bytes())), "Signature verification failed"),
        ("not a JWT", "garbage".to_owned(), "Invalid token"),
        ("another client's", access_token(&idp, "k1", |c| { c.insert("cid".into(), "someone-elses-app".into()); }), "issued to client `someone-elses-app` (claim `cid`), not to this installation's `portcullis-web`"),
        ("no client named", access_token(&idp, "k1", |c| { c.remove("cid"); }), "names no client in `cid`"),
        ("ID token (nonce)", access_token(&idp, "k1", |c| { c.insert("nonce".into(), "n-0S6_WzA2Mj".into()); }), "this is an ID token (it carries `nonce`)"),
    ];
    for (what, token, expect) in cases {
        let (status, challenge, body) = bearer_get(&srv, "/api/v1/me", &token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(challenge.unwrap().contains("invalid_token"), "{what}");
        assert!(body["message"].as_str().unwrap().contains(expect), "{what}: {body}");
    }
    assert_eq!(srv.state.store.count_users().await.unwrap(), 1, "no account from a refused token");

    // A good token works, and keeps working from the cache...
    let good = access_token(&idp, "k1", |_| {});
    assert_eq!(bearer_get(&srv, "/api/v1/me", &good).await.0, 200);
    assert_eq!(bearer_get(&srv, "/api/v1/me", &good).await.0, 200);
    // ...until an owner disables the account: refused at once, cached token or not.
    let owner = srv.owner().await;
    let (_, _, me) = bearer_get(&srv, "/api/v1/me", &good).await;
    let user_id: uuid::Uuid = me["user"]["id"].as_str().unwrap().parse().unwrap();
    owner.update_member(user_id, &portcullis_api::UpdateMember { role_id: None, disabled: Some(true) }).await.unwrap();
    let (status, _, body) = bearer_get(&srv, "/api/v1/me", &good).await;
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("disabled"), "{body}");
}

/// One server per layout, with the peer's variables.
async fn layout_server(provider: &str, peer_env: &[(&str, &str)]) -> (OidcPeer, TestServer) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = OidcPeer::start_with(&format!("http://{}", listener.local_addr().unwrap()), peer_env).await;
    let mut env = vec![("AUTH_PROVIDER", provider.to_owned())];
    env.extend(peer.env(provider));
    if provider == "auth0" {
        env.push(("AUTH0_AUDIENCE", "https://portcullis.example/api".into()));
    }
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: env, listener: Some(listener) }).await.unwrap();
    (peer, srv)
}

/// Security review item 2: the audience is shared by every client of a
/// realm or tenant (Keycloak's `account`), and WorkOS's ID tokens carry the
/// API audience; what counts is the client a token was issued to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_other_clients_and_id_tokens_are_refused() {
    for (provider, cli_client) in ALL {
        let (peer, srv) = layout_server(provider, &[]).await;
        let extra_scope = if provider == "entra_id" { "api://portcullis-cli/read" } else { "" };
        // Another application of the same realm: same issuer, same audience.
        let other = format!("{provider}-other");
        let theirs = peer.device_login(provider, &other, "alice", extra_scope).await;
        let (status, challenge, body) = bearer_get(&srv, "/api/v1/me", theirs["access_token"].as_str().unwrap()).await;
        assert_eq!(status, 401, "{provider}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&format!("issued to client `{other}`")), "{provider}: {message}");
        assert!(message.contains(&format!("`{cli_client}`")), "{provider}: names the expected clients: {message}");
        assert!(challenge.unwrap().contains("invalid_token"));
        // Our own device client's ID token is not an access token either.
        let ours = peer.device_login(provider, cli_client, "alice", extra_scope).await;
        let (status, _, body) = bearer_get(&srv, "/api/v1/me", ours["id_token"].as_str().unwrap()).await;
        assert_eq!(status, 401, "{provider}: an ID token was accepted as a bearer token: {body}");
        // ...while its access token is.
        let (status, _, body) = bearer_get(&srv, "/api/v1/me", ours["access_token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{provider}: {body}");
        assert_eq!(srv.state.store.count_users().await.unwrap(), 1, "{provider}: no account from the refused tokens");
    }
}

/// Security review item 14: Okta's and Auth0's access tokens carry no
/// e-mail address; a developer who logs in with the CLI before ever
/// signing in to the browser is provisioned from the userinfo endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_cli_login_without_email_in_the_token_is_provisioned_from_userinfo() {
    for (provider, cli_client) in ALL {
        let (peer, srv) = layout_server(provider, &[("IDP_ACCESS_TOKEN_EMAIL", "0")]).await;
        let extra_scope = if provider == "entra_id" { "api://portcullis-cli/read" } else { "" };
        let token = peer.device_login(provider, cli_client, "bob", extra_scope).await;
        let access = token["access_token"].as_str().unwrap();
        use base64::Engine;
        let payload: serde_json::Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(access.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert!(payload.get("email").is_none(), "{provider}: the peer was to leave the e-mail address out: {payload}");
        assert_eq!(srv.state.store.count_users().await.unwrap(), 0, "{provider}: nobody has signed in yet");
        let (status, _, me) = bearer_get(&srv, "/api/v1/me", access).await;
        assert_eq!(status, 200, "{provider}: {me}");
        assert_eq!(me["user"]["email"], "bob@example.test", "{provider}: from userinfo");
        assert_eq!(me["user"]["display_name"], "Bob Member", "{provider}: from userinfo");
        // The verified token is cached: the next request asks nobody.
        assert_eq!(bearer_get(&srv, "/api/v1/me", access).await.0, 200);
    }
}
