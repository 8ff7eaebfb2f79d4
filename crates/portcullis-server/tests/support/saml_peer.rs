//! The real SAML 2.0 IdP peer: Debian's SimpleSAMLphp (set up in
//! `tests/saml-idp/`), served by `php -S` on a loopback port, with the
//! users alice (factory-admin, member), bob (member) and carol (no role).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Where Debian's package puts SimpleSAMLphp's web root.
pub const SSP_WWW: &str = "/usr/share/simplesamlphp/www";

pub struct SamlPeer {
    _child: tokio::process::Child,
    pub base: String,
    pub metadata_url: String,
    sp_json: PathBuf,
    state: PathBuf,
}

impl Drop for SamlPeer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// One service provider the IdP trusts.
pub struct TrustedSp<'a> {
    pub entity_id: &'a str,
    pub acs: &'a str,
    /// Base64 DER: verifies signed AuthnRequests, encrypts assertions.
    pub cert: &'a str,
    pub encrypt: bool,
    /// E.g. rsa-sha1, to produce responses Portcullis must refuse.
    pub sign_alg: Option<&'a str>,
    /// The SP's single logout service (HTTP-Redirect), if it is to take part.
    pub slo: Option<&'a str>,
}

fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/saml-idp/config")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SamlPeer {
    pub async fn start() -> SamlPeer {
        assert!(
            Path::new(SSP_WWW).exists(),
            "SimpleSAMLphp is not installed: install Debian's simplesamlphp, php-cli, php-xml and php-mbstring (scripts/test.sh does)"
        );
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}/");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let state = std::env::temp_dir().join(format!("portcullis-ssp-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(state.join("tmp")).unwrap();
        let sp_json = state.join("sp.json");
        std::fs::write(&sp_json, "[]").unwrap();
        let child = tokio::process::Command::new("php")
            .args(["-S", &format!("127.0.0.1:{port}"), "-t", SSP_WWW])
            .env("SIMPLESAMLPHP_CONFIG_DIR", config_dir())
            .env("SSP_BASE_URL", &base)
            .env("SSP_STATE_DIR", &state)
            .env("SSP_SP_JSON", &sp_json)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("php (Debian's php-cli) must be installed");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "php -S did not start");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let metadata_url = format!("{base}saml2/idp/metadata.php");
        SamlPeer { _child: child, base, metadata_url, sp_json, state }
    }

    /// The service providers the IdP trusts from now on.
    pub fn trust(&self, sps: &[TrustedSp<'_>]) {
        let list: Vec<_> = sps
            .iter()
            .map(|s| serde_json::json!({ "entity_id": s.entity_id, "acs": s.acs, "cert": s.cert, "encrypt": s.encrypt, "sign_alg": s.sign_alg, "slo": s.slo }))
            .collect();
        std::fs::write(&self.sp_json, serde_json::to_vec(&list).unwrap()).unwrap();
    }
}

/// A browser without JavaScript: follows the SAML dance by hand.
pub struct Browser {
    pub http: reqwest::Client,
    /// The cookie jar of `http`.
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
    /// Without the jar: for the cross-site POST, which sends cookies by hand.
    plain: reqwest::Client,
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.split("value=\"").nth(1)?.split('"').next()?;
    Some(html_unescape(v))
}

fn html_unescape(v: &str) -> String {
    v.replace("&quot;", "\"").replace("&#039;", "'").replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&#x2F;", "/").replace("&amp;", "&")
}

fn form_action(html: &str) -> Option<String> {
    let at = html.find("<form")?;
    let tag = &html[at..at + html[at..].find('>')?];
    Some(html_unescape(tag.split("action=\"").nth(1)?.split('"').next()?))
}

impl Default for Browser {
    fn default() -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder().cookie_provider(jar.clone()).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, jar, plain }
    }
}

/// What the IdP hands the browser to post to the ACS.
pub struct IdpAnswer {
    pub acs: String,
    pub saml_response: String,
    pub relay_state: Option<String>,
}

impl Browser {
    /// GETs `url`, following redirects; returns the final URL and body.
    pub async fn get_following(&self, url: &str) -> (String, String) {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let resp = self.http.get(&url).send().await.unwrap();
            if resp.status().is_redirection() {
                let to = resp.headers()["location"].to_str().unwrap().to_owned();
                url = reqwest::Url::parse(&url).unwrap().join(&to).unwrap().to_string();
                continue;
            }
            let body = resp.text().await.unwrap();
            return (url, body);
        }
        panic!("too many redirects from {url}");
    }

    /// GETs `url` and follows redirects; returns every URL visited (the
    /// last one answered without a redirect) and the final body.
    pub async fn follow_chain(&self, url: &str) -> (Vec<String>, String) {
        let mut visited = vec![url.to_owned()];
        for _ in 0..12 {
            let current = visited.last().unwrap().clone();
            let resp = self.http.get(&current).send().await.unwrap();
            if resp.status().is_redirection() {
                let to = resp.headers()["location"].to_str().unwrap().to_owned();
                visited.push(reqwest::Url::parse(&current).unwrap().join(&to).unwrap().to_string());
                continue;
            }
            let body = resp.text().await.unwrap();
            return (visited, body);
        }
        panic!("too many redirects from {url}");
    }

    /// Whether starting a sign-in at `portcullis_login` makes the IdP ask
    /// for a password (no IdP session) rather than answer at once.
    pub async fn idp_asks_for_password(&self, portcullis_login: &str) -> bool {
        let resp = self.http.get(portcullis_login).send().await.unwrap();
        assert_eq!(resp.status(), 303, "Portcullis sends the browser to the IdP");
        let to_idp = resp.headers()["location"].to_str().unwrap().to_owned();
        let (_, page) = self.get_following(&to_idp).await;
        match (hidden(&page, "AuthState"), hidden(&page, "SAMLResponse")) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            _ => panic!("neither a login form nor a response: {}", &page[..page.len().min(2000)]),
        }
    }

    /// Starts at Portcullis's `/auth/<provider>/login`, signs in at the IdP
    /// as `user`, and returns what the IdP would post back (not posted yet).
    pub async fn sign_in_at_idp(&self, portcullis_login: &str, user: &str, password: &str) -> IdpAnswer {
        let resp = self.http.get(portcullis_login).send().await.unwrap();
        assert_eq!(resp.status(), 303, "Portcullis sends the browser to the IdP");
        let to_idp = resp.headers()["location"].to_str().unwrap().to_owned();
        self.sign_in_at(&to_idp, user, password).await
    }

    /// Opens `idp_url` (a sign-in URL at the IdP, SP- or IdP-initiated),
    /// signs in as `user`, and returns what the IdP would post back.
    pub async fn sign_in_at(&self, idp_url: &str, user: &str, password: &str) -> IdpAnswer {
        let (login_url, page) = self.get_following(idp_url).await;
        let auth_state = hidden(&page, "AuthState").unwrap_or_else(|| panic!("no login form at {login_url}: {}", &page[..page.len().min(2000)]));
        let resp = self
            .http
            .post(&login_url)
            .form(&[("username", user), ("password", password), ("AuthState", auth_state.as_str())])
            .send()
            .await
            .unwrap();
        let page = resp.text().await.unwrap();
        IdpAnswer {
            acs: form_action(&page).unwrap_or_else(|| panic!("no form to post to the ACS: {}", &page[..page.len().min(2000)])),
            saml_response: hidden(&page, "SAMLResponse").expect("a SAMLResponse"),
            relay_state: hidden(&page, "RelayState"),
        }
    }

    /// Posts an IdP answer (possibly tampered with) to the ACS as a browser
    /// does: a cross-site POST from the IdP's page, which carries no
    /// `SameSite=Lax` cookie (Portcullis's session cookie), then follows
    /// the ACS's hand-over to `/auth/<p>/complete` (a top-level GET, which
    /// does). Returns the ACS's answer when it is not the hand-over.
    pub async fn post_to_acs(&self, acs: &str, saml_response: &str, relay_state: Option<&str>) -> reqwest::Response {
        use reqwest::cookie::CookieStore;
        let mut form = vec![("SAMLResponse", saml_response)];
        if let Some(r) = relay_state {
            form.push(("RelayState", r));
        }
        let url: reqwest::Url = acs.parse().unwrap();
        let cross_site: String = self
            .jar
            .cookies(&url)
            .map(|h| h.to_str().unwrap().split("; ").filter(|c| !c.contains("portcullis_session=") && !c.contains("portcullis_form=")).collect::<Vec<_>>().join("; "))
            .unwrap_or_default();
        let mut req = self.plain.post(acs).header("accept", "application/json").form(&form);
        if !cross_site.is_empty() {
            req = req.header("cookie", cross_site);
        }
        let resp = req.send().await.unwrap();
        let mut set = resp.headers().get_all("set-cookie").iter().peekable();
        if set.peek().is_some() {
            self.jar.set_cookies(&mut set, &url);
        }
        let to = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        match to {
            Some(to) if resp.status() == 303 && to.ends_with("/complete") => self.http.get(url.join(&to).unwrap()).header("accept", "application/json").send().await.unwrap(),
            _ => resp,
        }
    }
}