//! The server-rendered pages: plain HTML, no script, every dynamic value
//! escaped.

pub mod home;

use crate::error::Status;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}\
h1{font-size:1.5rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}.error{background:#fde8e8;border:1px solid #f5a3a3;padding:.7rem;border-radius:4px}\
.note{color:#57606a;font-size:.9rem}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd}";

/// A full page with the security headers pages need.
pub fn page(status: Status, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} · Portcullis</title><style>{STYLE}</style></head><body>{body}</body></html>",
        text(title)
    );
    let mut resp = crate::error::html(status, html);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    resp
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

pub struct OrgRow {
    pub name: String,
    pub role: String,
}

pub struct LandingView<'a> {
    pub display_name: &'a str,
    pub email: &'a str,
    pub factory_admin: bool,
    pub orgs: Vec<OrgRow>,
    pub csrf_token: &'a str,
    pub session_ends: &'a str,
}

pub fn landing(v: &LandingView<'_>) -> Response {
    let rows: String = v
        .orgs
        .iter()
        .map(|o| format!("<tr><td>{}</td><td>{}</td></tr>", text(&o.name), text(&o.role)))
        .collect();
    let orgs = if v.orgs.is_empty() {
        "<p>You are not a member of any organization yet.</p>".to_owned()
    } else {
        format!("<table><thead><tr><th>Organization</th><th>Role</th></tr></thead><tbody>{rows}</tbody></table>")
    };
    let admin = if v.factory_admin { "<p>You are an <strong>installation administrator</strong> (factory-admin).</p>" } else { "" };
    let body = format!(
        "<h1>Signed in</h1><p>You are <strong id=\"who\">{name}</strong> &lt;{email}&gt;.</p>{admin}{orgs}\
         <p class=\"note\">This session ends {ends} unless you use it. API: <a href=\"/api/v1/me\">/api/v1/me</a>.</p>\
         <form method=\"post\" action=\"/auth/logout\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <button type=\"submit\">Sign out</button></form>",
        name = text(v.display_name),
        email = text(v.email),
        ends = text(v.session_ends),
        csrf = attr(v.csrf_token),
    );
    page(Status::Ok, "Signed in", &body)
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
