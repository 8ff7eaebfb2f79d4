//! The server-rendered pages: one layout (`templates/layout.html`), one
//! stylesheet (`static/portcullis.css`), no script, every dynamic value
//! escaped.

pub mod account;
pub mod audit;
pub mod automations;
pub mod charts;
pub mod check_access;
pub mod env;
pub mod forms;
pub mod home;
pub mod members;
pub mod nav;
pub mod organizations;
pub mod group_rules;
pub mod provisioning;
pub mod roles;
pub mod scope;
pub mod sign_in_settings;
pub mod usage;

use crate::error::Status;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

/// The one stylesheet, compiled in and served from `/static`, so the
/// Content-Security-Policy allows styles from this server only.
const STYLESHEET: &str = include_str!("../../static/portcullis.css");
/// The one script (copy buttons), also from `/static`; pages work without it.
const SCRIPT: &str = include_str!("../../static/copy.js");

/// What every page is sent with: scripts (the copy buttons' file), styles
/// and images only from this server and never inline, forms only to it,
/// never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stylesheet's URL, with a hash of its content so browsers may keep it
/// for good and still get a changed one at once.
pub fn stylesheet_url() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| format!("/static/portcullis.css?v={}", &crate::keys::token_hash(STYLESHEET).as_str()[..12]))
}

/// The script's URL, with a hash of its content.
pub fn script_url() -> &'static str {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| format!("/static/copy.js?v={}", &crate::keys::token_hash(SCRIPT).as_str()[..12]))
}

/// `GET /static/copy.js`.
pub async fn script() -> Response {
    static_file(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /static/portcullis.css`.
pub async fn stylesheet() -> Response {
    static_file(STYLESHEET, "text/css; charset=utf-8")
}

fn static_file(content: &'static str, content_type: &'static str) -> Response {
    let mut resp = crate::error::html(Status::Ok, content.to_owned());
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

/// The signed-in header: the areas this person may open (decided by the
/// RBAC decision in `nav.rs`, not here), who they are, and sign-out.
pub struct Nav {
    pub items: Vec<NavItem>,
    pub display_name: String,
    pub csrf_token: String,
}

/// One area in the header.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

#[derive(askama::Template)]
#[template(path = "layout.html")]
struct Layout<'a> {
    title: &'a str,
    stylesheet: &'a str,
    script: &'a str,
    nav: Option<&'a Nav>,
    body: &'a str,
    /// Seconds after which the page reloads itself (a run in progress).
    reload: Option<u32>,
}

/// A full page in the one layout, with the security headers pages need;
/// `nav` is the signed-in header (none on sign-in and error pages).
pub fn layout(status: Status, title: &str, nav: Option<&Nav>, body: &str) -> Response {
    layout_reloading(status, title, nav, body, None)
}

fn layout_reloading(status: Status, title: &str, nav: Option<&Nav>, body: &str, reload: Option<u32>) -> Response {
    use askama::Template;
    let html = Layout { title, stylesheet: stylesheet_url(), script: script_url(), nav, body, reload }.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "rendering the page layout failed");
        String::from("<!doctype html><title>Portcullis</title><p>This page could not be shown; try again.</p>")
    });
    let mut resp = crate::error::html(status, html);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    resp
}

/// A signed-in page: `view` rendered into the layout with `nav`.
pub fn render(title: &str, nav: &Nav, view: &impl askama::Template) -> Response {
    render_with(title, nav, view, None)
}

/// [`render`], reloading itself every `secs` seconds: a page that follows
/// something in progress without script.
pub fn render_reloading(title: &str, nav: &Nav, view: &impl askama::Template, secs: u32) -> Response {
    render_with(title, nav, view, Some(secs))
}

fn render_with(title: &str, nav: &Nav, view: &impl askama::Template, reload: Option<u32>) -> Response {
    match view.render() {
        Ok(body) => layout_reloading(Status::Ok, title, Some(nav), &body, reload),
        Err(e) => {
            tracing::error!(error = %e, page = title, "rendering a page failed");
            message(Status::Internal, "Something went wrong", "This page could not be shown; try again.", None)
        }
    }
}

/// A page of someone not signed in (or of an error) in the layout.
pub fn page(status: Status, title: &str, body: &str) -> Response {
    layout(status, title, None, body)
}

fn error_box(error: Option<&str>) -> String {
    error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", text(e))).unwrap_or_default()
}

pub struct LoginView<'a> {
    pub csrf_token: &'a str,
    pub return_to: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

pub fn login(status: Status, v: &LoginView<'_>) -> Response {
    let body = format!(
        "<h1>Sign in to Portcullis</h1>{err}\
         <form method=\"post\" action=\"/auth/local/login\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"return_to\" value=\"{rt}\">\
         <label for=\"email\">E-mail address</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{email}\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        err = error_box(v.error),
        csrf = attr(v.csrf_token),
        rt = attr(v.return_to),
        email = attr(v.email),
    );
    page(status, "Sign in", &body)
}

/// A new password, typed twice.
const NEW_PASSWORD_FIELDS: &str = "<label for=\"password\">Password (12 characters or more)</label>\
    <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"12\">\
    <label for=\"password_confirm\">Password again</label>\
    <input id=\"password_confirm\" name=\"password_confirm\" type=\"password\" autocomplete=\"new-password\" required minlength=\"12\">";

pub struct SetupView<'a> {
    pub csrf_token: &'a str,
    pub token: &'a str,
    pub org_name: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub error: Option<&'a str>,
}

pub fn setup(status: Status, v: &SetupView<'_>) -> Response {
    let body = format!(
        "<h1>Set up Portcullis</h1><p>You are creating the owner of <strong>{org}</strong>. This link works once.</p>{err}\
         <form method=\"post\" action=\"/setup\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"email\">E-mail address</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{email}\">\
         <label for=\"display_name\">Name</label><input id=\"display_name\" name=\"display_name\" autocomplete=\"name\" value=\"{name}\">\
         {pw}<button type=\"submit\">Create owner account</button></form>",
        org = text(v.org_name),
        err = error_box(v.error),
        csrf = attr(v.csrf_token),
        token = attr(v.token),
        email = attr(v.email),
        name = attr(v.display_name),
        pw = NEW_PASSWORD_FIELDS,
    );
    page(status, "Set up", &body)
}

pub struct InviteView<'a> {
    pub csrf_token: &'a str,
    pub token: &'a str,
    pub email: &'a str,
    pub org: &'a str,
    pub role: &'a str,
    /// The address has an account and is signed in: a Join button, no password.
    pub join: bool,
    pub error: Option<&'a str>,
}

pub fn invite(status: Status, v: &InviteView<'_>) -> Response {
    let (title, fields, button) = if v.join {
        ("Join", "", "Join")
    } else {
        ("Choose your password", NEW_PASSWORD_FIELDS, "Set password and join")
    };
    let body = format!(
        "<h1>{title}</h1><p>You were invited to <strong>{org}</strong> as <strong>{role}</strong>, with the address <strong>{email}</strong>. This link works once.</p>{err}\
         <form method=\"post\" action=\"/invite\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         {fields}<button type=\"submit\">{button}</button></form>",
        org = text(v.org),
        role = text(v.role),
        email = text(v.email),
        err = error_box(v.error),
        csrf = attr(v.csrf_token),
        token = attr(v.token),
    );
    page(status, "Invitation", &body)
}

/// One organization of the person, with their role there.
pub struct OrgRow {
    pub name: String,
    pub role: String,
}

/// The home page.
#[derive(askama::Template)]
#[template(path = "home.html")]
pub struct HomeView<'a> {
    pub display_name: &'a str,
    pub email: &'a str,
    pub factory_admin: bool,
    pub orgs: Vec<OrgRow>,
    /// What needs the person's attention, each in a sentence.
    pub attention: Vec<String>,
    pub session_ends: &'a str,
}

/// The home page in the signed-in layout.
pub fn home(nav: &Nav, v: &HomeView<'_>) -> Response {
    render("Home", nav, v)
}

/// One check of a test sign-in: passed, failed (with cause and fix), not
/// reached, or (roles) none.
pub struct TestCheck {
    pub name: String,
    pub outcome: &'static str,
    pub detail: String,
}

/// The report of a test sign-in.
#[derive(askama::Template)]
#[template(path = "sign_in_test.html")]
pub struct SignInTestView {
    pub provider: String,
    pub ok: bool,
    pub checks: Vec<TestCheck>,
    /// Who signed in at the IdP, when the checks got that far.
    pub identity: Option<String>,
}

/// The report of a test sign-in, in its own window (no header: it may
/// come back on the IdP's cross-site POST, without the session cookie).
pub fn sign_in_test(v: &SignInTestView) -> Response {
    use askama::Template;
    match v.render() {
        Ok(body) => page(Status::Ok, "Test sign-in", &body),
        Err(e) => {
            tracing::error!(error = %e, "rendering the test sign-in report failed");
            message(Status::Internal, "Something went wrong", "The report could not be shown; try again.", None)
        }
    }
}

/// A page that only explains something (an error, an expired link).
pub fn message(status: Status, title: &str, message: &str, link: Option<(&str, &str)>) -> Response {
    let link = link
        .map(|(href, label)| format!("<p><a href=\"{}\">{}</a></p>", attr(href), text(label)))
        .unwrap_or_default();
    let rid = crate::request_id::current();
    let rid = if rid.is_empty() { String::new() } else { format!("<p class=\"note\">Request id: {}</p>", text(&rid)) };
    page(status, title, &format!("<h1>{}</h1><p>{}</p>{link}{rid}", text(title), text(message)))
}
