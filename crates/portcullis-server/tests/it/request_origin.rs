//! What Portcullis records about where a request came from, and where it
//! sends the browser back to (security review items 7 and 12): the client
//! address behind proxies, the request id, what was typed into the e-mail
//! field, and `return_to` on the server's own origin. Real HTTP against a
//! real server, read back from the audit log, on SQLite and PostgreSQL.


use reqwest::StatusCode;
use crate::support::*;

/// The sign-in form, fetched once: its pre-session cookie and CSRF token.
struct SignInForm {
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl SignInForm {
    async fn open(srv: &TestServer) -> SignInForm {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let page = http.get(srv.url("/auth/local/login")).send().await.unwrap();
        let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let html = page.text().await.unwrap();
        let at = html.find("name=\"csrf_token\" value=\"").unwrap() + 25;
        let csrf = html[at..at + html[at..].find('"').unwrap()].to_owned();
        SignInForm { http, cookie, csrf }
    }

    /// Posts the form with extra header lines (appended in order).
    async fn submit(&self, srv: &TestServer, email: &str, password: &str, return_to: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.post(srv.url("/auth/local/login")).header("cookie", &self.cookie);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.form(&[("email", email), ("password", password), ("csrf_token", self.csrf.as_str()), ("return_to", return_to)]).send().await.unwrap()
    }
}

async fn failures(owner: &portcullis_api::Client) -> Vec<portcullis_api::AuditEventInfo> {
    owner.audit("?action=login.failure").await.unwrap()
}

const BEHIND_PROXY: fn() -> Options = || Options { extra_env: vec![("PORTCULLIS_TRUST_X_FORWARDED_FOR", "true".into())], ..Options::default() };
const BEHIND_TWO_PROXIES: fn() -> Options = || Options {
    extra_env: vec![("PORTCULLIS_TRUST_X_FORWARDED_FOR", "true".into()), ("PORTCULLIS_TRUSTED_PROXY_HOPS", "2".into())],
    ..Options::default()
};

each_backend!(the_client_address_is_what_the_trusted_proxies_appended, BEHIND_PROXY(), |srv| async move {
    let owner = srv.owner().await;
    let form = SignInForm::open(&srv).await;
    // The client sends its own line first; the proxy appends the last one.
    let r = form.submit(&srv, "a@example.com", "wrong password 1", "/", &[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.7")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // One line with the client's entry ahead of the proxy's.
    let r = form.submit(&srv, "b@example.com", "wrong password 2", "/", &[("x-forwarded-for", "6.6.6.6, 203.0.113.8")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let ips: Vec<_> = failures(&owner).await.iter().map(|e| e.ip.clone().unwrap_or_default()).collect();
    assert!(ips.contains(&"203.0.113.7".to_owned()) && ips.contains(&"203.0.113.8".to_owned()), "{ips:?}");
    assert!(!ips.contains(&"6.6.6.6".to_owned()), "a client chose its own address: {ips:?}");
});

each_backend!(two_trusted_proxies_take_the_second_entry_from_the_right, BEHIND_TWO_PROXIES(), |srv| async move {
    let owner = srv.owner().await;
    let form = SignInForm::open(&srv).await;
    let r = form
        .submit(&srv, "c@example.com", "wrong password 3", "/", &[("x-forwarded-for", "6.6.6.6, 198.51.100.4"), ("x-forwarded-for", "10.0.0.2")])
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let ips: Vec<_> = failures(&owner).await.iter().map(|e| e.ip.clone().unwrap_or_default()).collect();
    assert_eq!(ips, ["198.51.100.4"]);
});

each_backend!(a_request_id_is_taken_only_from_a_trusted_proxy_in_a_safe_form, |srv| async move {
    // No proxy is trusted: the client's id is not used, in the answer or the audit log.
    let owner = srv.owner().await;
    let form = SignInForm::open(&srv).await;
    let r = form.submit(&srv, "d@example.com", "wrong password 4", "/", &[("x-request-id", "chosen-by-the-client")]).await;
    assert_ne!(r.headers()["x-request-id"], "chosen-by-the-client");
    let ids: Vec<_> = failures(&owner).await.iter().map(|e| e.request_id.clone().unwrap_or_default()).collect();
    assert!(!ids.contains(&"chosen-by-the-client".to_owned()) && ids.iter().all(|i| !i.is_empty()), "{ids:?}");
});

each_backend!(a_trusted_proxys_request_id_is_kept_when_plain, BEHIND_PROXY(), |srv| async move {
    let owner = srv.owner().await;
    let form = SignInForm::open(&srv).await;
    let r = form.submit(&srv, "e@example.com", "wrong password 5", "/", &[("x-request-id", "proxy-req-01")]).await;
    assert_eq!(r.headers()["x-request-id"], "proxy-req-01");
    let long = "x".repeat(65);
    for bad in ["two words", "semi;colon", long.as_str(), "<script>"] {
        let r = form.submit(&srv, "e@example.com", "wrong password 5", "/", &[("x-request-id", bad)]).await;
        assert_ne!(r.headers()["x-request-id"], bad);
    }
    let ids: Vec<_> = failures(&owner).await.iter().map(|e| e.request_id.clone().unwrap_or_default()).collect();
    assert!(ids.contains(&"proxy-req-01".to_owned()), "{ids:?}");
    assert!(ids.iter().all(|i| i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')), "{ids:?}");
});

each_backend!(a_password_typed_into_the_email_field_is_never_recorded, |srv| async move {
    let owner = srv.owner().await;
    let form = SignInForm::open(&srv).await;
    for _ in 0..2 {
        let r = form.submit(&srv, "Tr0ub4dor&3 my secret", "", "/", &[]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let events = owner.audit("").await.unwrap();
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("Tr0ub4dor"), "the audit log holds what was typed: {all}");
    let targets: Vec<_> = failures(&owner).await.into_iter().filter_map(|e| e.target).collect();
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(targets[0].starts_with("(not an e-mail address: ") && targets[0] == targets[1], "the same input counts together: {targets:?}");
});

each_backend!(return_to_on_the_own_origin_is_kept_as_a_path, |srv| async move {
    let form = SignInForm::open(&srv).await;
    let own = srv.url("/automations?q=research");
    let r = form.submit(&srv, ADMIN_EMAIL, ADMIN_PASSWORD, &own, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/automations?q=research");
    let form = SignInForm::open(&srv).await;
    let elsewhere = format!("http://evil.example{}", "/automations");
    let r = form.submit(&srv, ADMIN_EMAIL, ADMIN_PASSWORD, &elsewhere, &[]).await;
    assert_eq!(r.headers()["location"], "/");
    let form = SignInForm::open(&srv).await;
    let lookalike = format!("{}.evil.example/", srv.base);
    let r = form.submit(&srv, ADMIN_EMAIL, ADMIN_PASSWORD, &lookalike, &[]).await;
    assert_eq!(r.headers()["location"], "/");
});
