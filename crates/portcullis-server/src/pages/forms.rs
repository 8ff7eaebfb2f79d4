//! What every page that changes something shares: the signed-in caller of
//! a form post, checked to come from one of our pages (same origin, this
//! session's CSRF token in the `csrf_token` field), and refusals shown as
//! pages.

use crate::error::{ApiError, Status};
use crate::pages;
use crate::session::Caller;
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

/// The caller of a form post, or the page that says why not; `back` is
/// where the person came from.
pub async fn caller(state: &AppState, headers: &HeaderMap, csrf_token: &str, back: &str) -> Result<Caller, Response> {
    let caller = Caller::from_headers(state, headers)
        .await
        .map_err(|_| Redirect::to(&format!("/auth/login?return_to={}", urlencode(back))).into_response())?;
    if !caller.verify_form(state, headers, csrf_token) {
        return Err(pages::message(
            Status::Forbidden,
            "Request refused",
            "This request did not come from a Portcullis page (missing or wrong CSRF token). Reload the page and try again.",
            Some((back, "Back")),
        ));
    }
    Ok(caller)
}

/// An API refusal (a missing permission, a bad value, a conflict) as a page
/// with the same status and message.
pub fn refused(e: ApiError, back: &str) -> Response {
    if e.status == Status::Internal {
        return e.into_response();
    }
    let title = match e.status {
        Status::Forbidden => "Not allowed",
        Status::NotFound => "Not found",
        _ => "Not saved",
    };
    pages::message(e.status, title, &e.message, Some((back, "Back")))
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q.trim_start_matches('=').to_owned()).unwrap_or_default()
}
