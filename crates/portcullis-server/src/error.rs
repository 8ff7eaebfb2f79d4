//! The one place where failures become HTTP responses.
//!
//! Every error body is `{"error": code, "message": text}`; 5xx bodies say only
//! that something went wrong and carry the request id under which the detail
//! was logged, so internal error text never reaches a client.

use crate::request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_api::ErrorBody;
use portcullis_domain::{Denial, ValidationError};
use portcullis_storage::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for `Retry-After` on 429.
    pub retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3), when more
    /// than the plain `Bearer realm`.
    pub www_authenticate: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, www_authenticate: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found; check the id, and that you have access to it"))
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }
    pub fn forbidden(d: Denial) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", d.to_string())
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self { retry_after: Some(retry_after_secs), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "throttled", message) }
    }
    /// A server-side failure: the detail goes to the log, the client gets a
    /// generic message with the request id.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %request_id::current(), error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::bad_request("invalid_input", e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { what } => {
                ApiError::conflict("conflict", format!("{what} already exists; choose another name"))
            }
            StoreError::NotFound { what } => ApiError::not_found(what),
            StoreError::LastOwner => ApiError::conflict(
                "last_owner",
                "this would leave the organization without an owner; make another member an owner first",
            ),
            StoreError::Predefined => ApiError::bad_request(
                "predefined_role",
                "the predefined Owner and Member roles cannot be deleted, and the Owner role cannot be restricted; create a custom role instead",
            ),
            StoreError::InUse { what } => ApiError::conflict(
                "in_use",
                format!("this {what} is still held by members; move them to another role first"),
            ),
            e @ (StoreError::Corrupt(_) | StoreError::Backend(_)) => ApiError::internal(format!("storage: {e:#}: {:?}", std::error::Error::source(&e))),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let rid = request_id::current();
        let body = ErrorBody {
            error: self.code.into(),
            message: self.message,
            request_id: (!rid.is_empty()).then_some(rid),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = self
                .www_authenticate
                .and_then(|c| HeaderValue::from_str(&c).ok())
                .unwrap_or_else(|| HeaderValue::from_static("Bearer realm=\"portcullis\""));
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        resp
    }
}
