//! Cookies, built in one place: always `HttpOnly`, `SameSite=Lax`, `Path=/`,
//! and `Secure` over https; the pre-session form cookie and its CSRF check.

use super::request::check_same_origin;
use crate::keys::random_token;
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

/// Reads one cookie from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: always `HttpOnly`, `SameSite=Lax` and `Path=/`, and
/// `Secure` whenever the server is reached over https.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: u64) -> String {
    let secure = if state.config.https() { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

pub fn clear_cookie(state: &AppState, name: &str) -> String {
    set_cookie(state, name, "", 0)
}

/// The pre-session cookie for forms, created when absent. Returns its value
/// and the `Set-Cookie` to send when it is new.
pub fn form_cookie(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, crate::session::cookies::form_cookie_name(state)).filter(|v| v.len() >= 32) {
        Some(v) => (v.to_owned(), None),
        None => {
            let v = random_token();
            let set = set_cookie(state, crate::session::cookies::form_cookie_name(state), &v, 3600);
            (v, Some(set))
        }
    }
}

/// Checks a form's CSRF token against the pre-session cookie.
pub fn verify_form_csrf(state: &AppState, headers: &HeaderMap, presented: &str) -> bool {
    check_same_origin(state, headers).is_ok()
        && cookie(headers, crate::session::cookies::form_cookie_name(state))
            .is_some_and(|c| state.keys.verify_csrf("form", c, presented))
}

/// Adds a `Set-Cookie` (when there is one) to a response.
pub fn with_cookie(mut resp: Response, set: Option<String>) -> Response {
    if let Some(c) = set.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// The session cookie's name: `__Host-` prefixed when served over https
/// (the browser then insists on `Secure`, `Path=/` and no `Domain`).
pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.config.https() {
        "__Host-portcullis_session"
    } else {
        "portcullis_session"
    }
}

/// The pre-session cookie that binds the sign-in and setup forms' CSRF tokens.
pub fn form_cookie_name(state: &AppState) -> &'static str {
    if state.config.https() {
        "__Host-portcullis_form"
    } else {
        "portcullis_form"
    }
}

/// `name`, with the `__Host-` prefix over https.
pub fn cookie_name(state: &AppState, name: &str) -> String {
    let prefix = if state.config.https() { "__Host-" } else { "" };
    format!("{prefix}{name}")
}

/// A cookie that carries a SAML transaction across the trip to the IdP.
/// The IdP may answer with a cross-site POST, so the cookie must travel on
/// one: `SameSite=None; Secure` over https. Over plain http (local testing
/// only) `Secure` is impossible; without a SameSite attribute browsers
/// still send a cookie younger than two minutes on a top-level POST.
pub fn transaction_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> String {
    if state.config.https() {
        format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=None; Max-Age={max_age}")
    } else {
        format!("{name}={value}; Path=/; HttpOnly; Max-Age={max_age}")
    }
}
