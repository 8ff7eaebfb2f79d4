//! The SCIM error response (RFC 7644 §3.12): an HTTP status, a `scimType`
//! keyword for 400s and 409s, and a detail that says what was wrong and how
//! to fix it.

/// The `scimType` keywords of RFC 7644 §3.12, Table 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimType {
    /// The filter syntax is invalid or names an unsupported comparison.
    InvalidFilter,
    /// The filter yields too many results.
    TooMany,
    /// One or more attribute values are already in use or reserved.
    Uniqueness,
    /// The change is incompatible with the attribute's mutability.
    Mutability,
    /// The request body is not valid JSON or lacks something required.
    InvalidSyntax,
    /// The `path` attribute is invalid or malformed.
    InvalidPath,
    /// The `path` did not yield an attribute that could be operated on.
    NoTarget,
    /// A value is incompatible with its attribute's type.
    InvalidValue,
    /// The SCIM version is not supported.
    InvalidVers,
}

impl ScimType {
    /// The keyword as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
        }
    }
}

/// A SCIM error: what the service provider answers instead of a resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", scim_type.map(ScimType::as_str).unwrap_or("-"))]
pub struct ScimError {
    /// The HTTP status.
    pub status: u16,
    /// The keyword, for 400 and 409.
    pub scim_type: Option<ScimType>,
    /// A human-readable explanation.
    pub detail: String,
}

impl ScimError {
    /// A 400 with `scim_type`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError { status: 400, scim_type: Some(scim_type), detail: detail.into() }
    }

    /// A 409 `uniqueness` conflict.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        ScimError { status: 409, scim_type: Some(ScimType::Uniqueness), detail: detail.into() }
    }

    /// A 404 for a resource that does not exist (in this organization).
    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError { status: 404, scim_type: None, detail: detail.into() }
    }

    /// Any other status, without a keyword.
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        ScimError { status, scim_type: None, detail: detail.into() }
    }

    /// The error as the SCIM error schema's JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = serde_json::json!({
            "schemas": [crate::schema::ERROR_URN],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            doc["scimType"] = serde_json::Value::String(t.as_str().to_owned());
        }
        doc
    }
}

/// What every fallible function of this crate returns.
pub type Result<T> = std::result::Result<T, ScimError>;
