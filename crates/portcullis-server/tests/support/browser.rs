//! A browser stand-in for sign-in flows: follows nothing by itself (so each
//! redirect can be inspected), keeps cookies by name (loopback servers share
//! the host, as in a real browser cookies ignore the port).

#![allow(dead_code)]

use std::collections::HashMap;

pub struct Browser {
    http: reqwest::Client,
    pub jar: HashMap<String, String>,
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self { http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(), jar: HashMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            let expired = v.to_ascii_lowercase().contains("max-age=0");
            if expired || val.is_empty() {
                self.jar.remove(k.trim());
            } else {
                self.jar.insert(k.trim().to_owned(), val.to_owned());
            }
        }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let resp = self.http.get(url).header("cookie", self.cookie_header()).header("accept", "text/html").send().await.unwrap();
        self.keep(&resp);
        resp
    }

    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)], origin: Option<&str>) -> reqwest::Response {
        let mut req = self.http.post(url).header("cookie", self.cookie_header()).header("accept", "text/html").form(form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let resp = req.send().await.unwrap();
        self.keep(&resp);
        resp
    }

    /// Follows redirects until one leads to `stop_prefix` (not requested) or
    /// a non-redirect answer. Relative locations resolve against the last URL.
    pub async fn follow_until(&mut self, mut url: String, stop_prefix: &str) -> Result<String, reqwest::Response> {
        for _ in 0..20 {
            if url.starts_with(stop_prefix) {
                return Ok(url);
            }
            let resp = self.get(&url).await;
            if !resp.status().is_redirection() {
                return Err(resp);
            }
            let next = location(&resp);
            url = url::Url::parse(&url).unwrap().join(&next).unwrap().to_string();
        }
        panic!("too many redirects");
    }

    /// The value of one cookie of the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.get(name).cloned()
    }

    pub fn has_session(&self) -> bool {
        self.jar.contains_key("portcullis_session")
    }

    pub async fn me(&mut self, base: &str) -> (u16, serde_json::Value) {
        let resp = self.http.get(format!("{base}/api/v1/me")).header("cookie", self.cookie_header()).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }
}
