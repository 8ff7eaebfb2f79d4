//! The real OpenID provider peer (`oidc-provider` from npm, set up in
//! `tests/idp/`): one Node process serving the Okta, Keycloak, Entra ID,
//! Auth0 and WorkOS layouts, each on its own loopback port.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::AsyncBufReadExt;

pub struct OidcPeer {
    /// Killed (and its stdin closed, which also stops it) on drop.
    _child: tokio::process::Child,
    pub layouts: serde_json::Value,
}

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";

fn idp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/idp")
}

impl OidcPeer {
    /// Starts the peer with its clients registered for the relying party at `rp`.
    pub async fn start(rp: &str) -> OidcPeer {
        Self::start_with(rp, &[]).await
    }

    /// With environment for the peer (`IDP_ACCESS_TOKEN_TTL`, `IDP_DEVICE_INTERVAL`).
    pub async fn start_with(rp: &str, env: &[(&str, &str)]) -> OidcPeer {
        Self::start_args(rp, env, &[]).await
    }

    /// Every layout over https with this PEM certificate and key.
    pub async fn start_tls(rp: &str, cert: &std::path::Path, key: &std::path::Path) -> OidcPeer {
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        Self::start_args(rp, &[], &["--tls-cert", &cert, "--tls-key", &key]).await
    }

    async fn start_args(rp: &str, env: &[(&str, &str)], args: &[&str]) -> OidcPeer {
        let dir = idp_dir();
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "the OpenID provider peer is not installed: run `npm ci --prefix tests/idp` (scripts/test.sh does)"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg("--rp")
            .arg(rp)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .spawn()
            .expect("node (Node.js 20 or newer) must be installed");
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("the OpenID provider peer did not start within 30 s")
            .unwrap()
            .expect("the OpenID provider peer exited");
        let layouts = serde_json::from_str(&line).unwrap();
        OidcPeer { _child: child, layouts }
    }

    pub fn port(&self, provider: &str) -> u64 {
        self.layouts[provider]["port"].as_u64().unwrap()
    }

    /// The platform's documented variables for one provider, pointing at this peer.
    pub fn env(&self, provider: &str) -> Vec<(&'static str, String)> {
        let scheme = if self.layouts[provider]["issuer"].as_str().unwrap_or_default().starts_with("https:") { "https" } else { "http" };
        let site = format!("{scheme}://127.0.0.1:{}", self.port(provider));
        match provider {
            "okta" => vec![
                ("OKTA_SITE", site),
                ("OKTA_AUTHORIZATION_SERVER", "default".into()),
                ("OKTA_AUDIENCE", "api://default".into()),
                ("OKTA_CLIENT_ID", "okta-web".into()),
                ("OKTA_CLIENT_SECRET", "okta-secret".into()),
                ("OKTA_DEVICE_AUTHORIZATION_CLIENT_ID", "okta-cli".into()),
            ],
            "keycloak" => vec![
                ("KEYCLOAK_SITE", site),
                ("KEYCLOAK_REALM", "factory".into()),
                ("KEYCLOAK_AUDIENCE", "account".into()),
                ("KEYCLOAK_CLIENT_ID", "keycloak-web".into()),
                ("KEYCLOAK_CLIENT_SECRET", "keycloak-secret".into()),
                ("KEYCLOAK_DEVICE_AUTHORIZATION_CLIENT_ID", "keycloak-cli".into()),
            ],
            "entra_id" => vec![
                ("ENTRA_ID_AUTHORITY_HOST", site),
                ("ENTRA_ID_TENANT_ID", TENANT.into()),
                ("ENTRA_ID_CLIENT_ID", "entra-web".into()),
                ("ENTRA_ID_CLIENT_SECRET", "entra-secret".into()),
                ("ENTRA_ID_DEVICE_AUTHORIZATION_CLIENT_ID", "entra-cli".into()),
                ("ENTRA_ID_CUSTOM_OPENID_SCOPE", "api://portcullis-cli/read".into()),
                // The Microsoft Graph stand-in (tests/idp/graph.mjs), for group overage.
                ("ENTRA_ID_GRAPH_HOST", self.layouts["entra_id"]["graph"].as_str().unwrap().to_owned()),
            ],
            "auth0" => vec![
                ("AUTH0_DOMAIN", site),
                ("AUTH0_CLIENT_ID", "auth0-web".into()),
                ("AUTH0_CLIENT_SECRET", "auth0-secret".into()),
                ("AUTH0_DEVICE_AUTHORIZATION_CLIENT_ID", "auth0-cli".into()),
            ],
            "workos" => vec![("WORKOS_AUTHKIT_DOMAIN", site), ("WORKOS_CLIENT_ID", "workos-client".into())],
            other => panic!("no layout {other}"),
        }
    }
}

/// The value of a hidden form field in an HTML page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no hidden field {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

impl OidcPeer {
    /// The discovery document of one layout.
    pub async fn discovery(&self, issuer: &str) -> serde_json::Value {
        reqwest::get(format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))).await.unwrap().json().await.unwrap()
    }

    /// A device login (RFC 8628) as a CLI does it, with the user's approval
    /// given on the IdP's own verification and sign-in pages over HTTP.
    /// Returns the token response.
    pub async fn device_login(&self, provider: &str, client_id: &str, login: &str, extra_scope: &str) -> serde_json::Value {
        let issuer = self.layouts[provider]["issuer"].as_str().unwrap().to_owned();
        let meta = self.discovery(&issuer).await;
        let http = reqwest::Client::new();
        let scope = format!("openid profile email offline_access {extra_scope}");
        let auth: serde_json::Value = http
            .post(meta["device_authorization_endpoint"].as_str().unwrap())
            .form(&[("client_id", client_id), ("scope", scope.trim())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let user_code = auth["user_code"].as_str().unwrap_or_else(|| panic!("{auth}")).to_owned();
        approve_device(auth["verification_uri"].as_str().unwrap(), &user_code, login).await;
        let token: serde_json::Value = http
            .post(meta["token_endpoint"].as_str().unwrap())
            .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", auth["device_code"].as_str().unwrap()), ("client_id", client_id)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(token["access_token"].is_string(), "{provider}: {token}");
        token
    }
}

/// Approves a device login as the user would: the IdP's verification page
/// (user code, confirm), then its sign-in form.
pub async fn approve_device(verification_uri: &str, user_code: &str, login: &str) {
    let verify = verification_uri.to_owned();
    let mut b = super::browser::Browser::new();
    let page = b.get(&verify).await.text().await.unwrap();
    let resp = b.post_form(&verify, &[("xsrf", &hidden(&page, "xsrf")), ("user_code", user_code)], None).await;
    let page = resp.text().await.unwrap();
    let resp = b.post_form(&verify, &[("xsrf", &hidden(&page, "xsrf")), ("user_code", user_code), ("confirm", "yes")], None).await;
    assert!(resp.status().is_redirection(), "device confirm: {}", resp.status());
    let next = url::Url::parse(&verify).unwrap().join(&super::browser::location(&resp)).unwrap().to_string();
    let login_page = b.follow_until(next, "never").await.err().unwrap();
    let form_url = login_page.url().to_string();
    let resp = b.post_form(&format!("{form_url}/login"), &[("login", login), ("password", "any")], None).await;
    let next = url::Url::parse(&form_url).unwrap().join(&super::browser::location(&resp)).unwrap().to_string();
    let done = b.follow_until(next, "never").await.err().unwrap();
    assert_eq!(done.status(), 200, "device approval finished");
}

/// Signs `login` in through `provider`; returns the callback's response.
pub async fn sign_in(b: &mut super::browser::Browser, base: &str, provider: &str, login: &str) -> reqwest::Response {
    let resp = b.get(&format!("{base}/auth/{provider}/login?return_to=/welcome")).await;
    assert_eq!(resp.status(), 303, "{provider}");
    let authorize = super::browser::location(&resp);
    let interaction = match b.follow_until(authorize, "never").await {
        Err(page) => page,
        Ok(_) => unreachable!(),
    };
    assert_eq!(interaction.status(), 200, "{provider}: the IdP shows its sign-in form");
    let form_url = interaction.url().to_string();
    let resp = b.post_form(&format!("{form_url}/login"), &[("login", login), ("password", "any")], None).await;
    assert_eq!(resp.status(), 303, "{provider}: the IdP accepts {login}");
    let next = url::Url::parse(&form_url).unwrap().join(&super::browser::location(&resp)).unwrap().to_string();
    let callback = match b.follow_until(next, &format!("{base}/auth/{provider}/callback")).await {
        Ok(c) => c,
        Err(page) => {
            let (status, url) = (page.status(), page.url().to_string());
            panic!("{provider}: no callback but {status} at {url}: {}", page.text().await.unwrap_or_default())
        }
    };
    let cb = url::Url::parse(&callback).unwrap();
    assert!(cb.query_pairs().any(|(k, _)| k == "iss"), "{provider}: RFC 9207 iss in the response");
    b.get(&callback).await
}

