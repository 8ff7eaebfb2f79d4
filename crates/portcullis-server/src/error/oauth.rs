//! OAuth 2.0 error answers (RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009 §2.2.1)
//! for the `local` authorization server: `{"error", "error_description"}`,
//! never cached, with the status the error code calls for.

use super::Status;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Json;

/// The status an error code is answered with: 401 (with a `Basic`
/// challenge) for `invalid_client` (RFC 6749 §5.2), 404 for an endpoint
/// that is off, 500 for `server_error`, 400 for the rest.
fn status_of(error: &str) -> Status {
    match error {
        "invalid_client" => Status::Unauthorized,
        "not_found" => Status::NotFound,
        "server_error" => Status::Internal,
        _ => Status::BadRequest,
    }
}

fn answer(status: Status, error: &'static str, description: String) -> Response {
    let mut r = status.with(Json(serde_json::json!({ "error": error, "error_description": description })));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == Status::Unauthorized {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"portcullis\""));
    }
    r
}

/// An OAuth error answer: `error`, and an `error_description` saying what to do.
pub fn error(error: &'static str, description: impl Into<String>) -> Response {
    answer(status_of(error), error, description.into())
}

/// Too many requests (`slow_down` with 429 and `Retry-After`), for the
/// device authorization endpoint's per-address limit.
pub fn throttled(description: impl Into<String>, retry_after_secs: u64) -> Response {
    let mut r = answer(Status::TooManyRequests, "slow_down", description.into());
    r.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.max(1).into());
    r
}
