//! SCIM answers (RFC 7644 §3.1, §3.12): `application/scim+json`, failures
//! in the SCIM Error schema. As everywhere, a 5xx body says only that
//! something went wrong, with the request id its detail was logged under.

use super::Status;
use crate::request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_scim::{ScimError, ScimType};
use portcullis_storage::StoreError;

/// RFC 7644 §8.1.
pub const MEDIA_TYPE: &str = "application/scim+json";

/// A SCIM failure.
#[derive(Debug)]
pub struct ScimFailure(pub ScimError);

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        ScimFailure(e)
    }
}

impl From<StoreError> for ScimFailure {
    fn from(e: StoreError) -> Self {
        ScimFailure(match e {
            StoreError::Conflict { what } => ScimError::uniqueness(format!("{what} already exists in this organization; look it up with a filter (userName eq \"...\") and update it instead")),
            StoreError::NotFound { what } => ScimError::not_found(format!("no such {what} in this organization")),
            StoreError::LastOwner => ScimError { status: 409, scim_type: Some(ScimType::Mutability), detail: "this person is the last owner of the organization, so deactivating or deleting them would leave it without one; make another member an owner in Portcullis first".into() },
            StoreError::Stale => ScimError::status(412, "the resource changed since the version given in If-Match; read it again and retry"),
            StoreError::InUse { what } => ScimError::status(409, format!("this {what} is still in use")),
            StoreError::Predefined => ScimError::status(409, "predefined roles cannot be changed this way"),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unreachable");
                ScimError::status(503, "database_unavailable: the database cannot be reached right now; retry in a few seconds")
            }
            e @ (StoreError::Corrupt(_) | StoreError::Backend(_)) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "SCIM request failed in storage");
                ScimError::status(500, "internal")
            }
        })
    }
}

fn status_code(n: u16) -> StatusCode {
    StatusCode::from_u16(n).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let mut e = self.0;
        let rid = request_id::current();
        if e.status >= 500 && e.status != 503 {
            tracing::error!(detail = %e.detail, "SCIM request failed");
            e.detail = format!("something went wrong on the server; it was logged under request id {rid}");
        }
        let mut resp = (status_code(e.status), e.to_json().to_string()).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        if e.status == 503 {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(2));
            resp.extensions_mut().insert(crate::database_status::Unreachable);
        }
        if e.status == 401 {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"portcullis-scim\""));
        }
        resp
    }
}

/// A SCIM resource or message, with its status, media type and, for a
/// resource, its version as the ETag (RFC 7644 §3.14).
pub fn scim_json(status: Status, body: &serde_json::Value, etag: Option<&str>) -> Response {
    if status == Status::NoContent {
        return status.http().into_response();
    }
    let mut resp = (status.http(), body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    if status == Status::Created {
        if let Some(loc) = body.pointer("/meta/location").and_then(|l| l.as_str()).and_then(|l| HeaderValue::from_str(l).ok()) {
            resp.headers_mut().insert(header::LOCATION, loc);
        }
    }
    resp
}
