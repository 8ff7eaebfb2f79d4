//! The one place where outcomes become HTTP statuses, and failures become
//! answers: a JSON body for the API (`{"error", "message", "request_id"}`),
//! an HTML page for people ([`html`]), an RFC 6749 §5.2 body for the OAuth
//! endpoints ([`oauth`]), the sign-in error pages ([`signin`]).
//!
//! Handlers say what happened ([`Status`], [`ApiError`]'s constructors);
//! only this module names HTTP status codes. 5xx bodies say only that
//! something went wrong and carry the request id under which the detail was
//! logged, so internal error text, and a database's, never reaches a client.

pub mod oauth;
pub mod scim;
pub mod signin;

use crate::request_id;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_api::ErrorBody;
use portcullis_domain::{Denial, ValidationError};
use portcullis_storage::StoreError;

/// What happened, in the words handlers use; [`Status::http`] is its HTTP
/// status code, chosen here and nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Created,
    NoContent,
    /// The request is malformed or a value is invalid.
    BadRequest,
    /// No (valid) credentials.
    Unauthorized,
    /// Known, but not allowed.
    Forbidden,
    NotFound,
    /// It clashes with what exists (a name taken, a state moved on).
    Conflict,
    /// It existed and is over (an ended invitation).
    Gone,
    PayloadTooLarge,
    TooManyRequests,
    Internal,
    NotImplemented,
    /// An upstream (an automation, an IdP) answered wrongly or not at all.
    BadGateway,
    /// Busy or not ready: try again shortly.
    Unavailable,
    /// 424 (RFC 4918 §11.4): what was asked depended on another party that
    /// failed. A sign-in when the identity provider cannot be reached:
    /// Portcullis itself is well, so no 5xx counts it among its own errors
    /// (alerts watch `portcullis_sign_ins_total{cause="idp_unreachable"}`).
    FailedDependency,
    /// An upstream did not answer in time.
    GatewayTimeout,
}

impl Status {
    pub fn http(self) -> StatusCode {
        match self {
            Status::Ok => StatusCode::OK,
            Status::Created => StatusCode::CREATED,
            Status::NoContent => StatusCode::NO_CONTENT,
            Status::BadRequest => StatusCode::BAD_REQUEST,
            Status::Unauthorized => StatusCode::UNAUTHORIZED,
            Status::Forbidden => StatusCode::FORBIDDEN,
            Status::NotFound => StatusCode::NOT_FOUND,
            Status::Conflict => StatusCode::CONFLICT,
            Status::Gone => StatusCode::GONE,
            Status::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Status::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Status::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Status::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Status::BadGateway => StatusCode::BAD_GATEWAY,
            Status::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Status::FailedDependency => StatusCode::FAILED_DEPENDENCY,
            Status::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// `body` answered with this status.
    pub fn with(self, body: impl IntoResponse) -> Response {
        (self.http(), body).into_response()
    }
}

/// `201 Created` with a body.
pub struct Created<T>(pub T);

impl<T: IntoResponse> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        Status::Created.with(self.0)
    }
}

/// `204 No Content`.
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        Status::NoContent.http().into_response()
    }
}

/// An HTML page's answer (the pages build the markup; this picks the status).
pub fn html(status: Status, markup: String) -> Response {
    (status.http(), markup).into_response()
}

/// Sets a response's status (after a builder that chose another).
pub fn set_status(resp: &mut Response, status: Status) {
    *resp.status_mut() = status.http();
}

#[derive(Debug)]
pub struct ApiError {
    pub status: Status,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for `Retry-After` on 429.
    pub retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3), when more
    /// than the plain `Bearer realm`.
    pub www_authenticate: Option<String>,
    /// The exact status of a rejection axum chose (415, 422...), kept.
    http_override: Option<StatusCode>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: Status, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, www_authenticate: None, http_override: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Status::BadRequest, code, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(Status::NotFound, "not_found", format!("{what} not found; check the id, and that you have access to it"))
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Status::Unauthorized, "unauthenticated", message)
    }
    /// 503 `database_unavailable`, with `Retry-After: 2`: nothing was done.
    pub fn database_unavailable() -> Self {
        let mut e = ApiError::new(
            Status::Unavailable,
            "database_unavailable",
            "Portcullis cannot reach its database right now (it is restarting, or the network to it is down); nothing was changed. Try again in a few seconds.",
        );
        e.retry_after = Some(2);
        e
    }

    /// The RBAC decision's refusal (counted in the metrics).
    pub fn forbidden(d: Denial) -> Self {
        crate::telemetry::rbac_denied(&d);
        Self::new(Status::Forbidden, "forbidden", d.to_string())
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Status::Conflict, code, message)
    }
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self { retry_after: Some(retry_after_secs), ..Self::new(Status::TooManyRequests, "throttled", message) }
    }
    /// A server-side failure: the detail goes to the log, the client gets a
    /// generic message with the request id.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %request_id::current(), error = %detail, "internal error");
        Self::new(Status::Internal, "internal", "internal error")
    }
}

impl ApiError {
    /// A JSON body axum could not take (malformed JSON, an unknown or
    /// missing field, a wrong content type), saying exactly what was wrong.
    pub fn rejected_json(rej: axum::extract::rejection::JsonRejection) -> Self {
        let status = match rej.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => Status::BadRequest,
            StatusCode::PAYLOAD_TOO_LARGE => Status::PayloadTooLarge,
            _ => Status::BadRequest,
        };
        let mut e = ApiError::new(status, "invalid_body", format!("{}; see /api/v1/openapi.json for the expected body", rej.body_text()));
        e.http_override = Some(rej.status());
        e
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
            StoreError::Stale => ApiError::conflict("changed_meanwhile", "the record changed while this request was being handled; retry it"),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unreachable");
                ApiError::database_unavailable()
            }
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
        let mut resp = (self.http_override.unwrap_or(self.status.http()), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.code == "database_unavailable" {
            // For crate::database_status::watch, which opens the breaker.
            resp.extensions_mut().insert(crate::database_status::Unreachable);
        }
        if self.status == Status::Unauthorized {
            let challenge = self
                .www_authenticate
                .and_then(|c| HeaderValue::from_str(&c).ok())
                .unwrap_or_else(|| HeaderValue::from_static("Bearer realm=\"portcullis\""));
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        resp
    }
}

/// Whether the client asked for JSON (`Accept: application/json`): API clients
/// get JSON bodies, browsers pages.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}
