//! What SCIM answers look like: resources with `id`, `schemas` and `meta`
//! (RFC 7643 §3.1), list responses (RFC 7644 §3.4.2), and the query
//! parameters that shape them: `filter`, `startIndex`, `count`,
//! `attributes` and `excludedAttributes`.

use super::{DEFAULT_COUNT, MAX_RESULTS};
use crate::timestamps::rfc3339;
use axum::http::HeaderMap;
use portcullis_domain::Timestamp;
use portcullis_scim::resource::{parse_attribute_list, project};
use portcullis_scim::{schema, AttrPath, Filter, ResourceKind, ScimError, ScimType};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The query parameters of a GET, or the body of a `/.search` POST
/// (RFC 7644 §3.4.3), whose names are the same.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    #[serde(default, deserialize_with = "list_or_string")]
    pub attributes: Option<String>,
    #[serde(default, deserialize_with = "list_or_string")]
    pub excluded_attributes: Option<String>,
    /// Sorting is not supported (`sort.supported` is false): ignored.
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    /// In a search body.
    pub schemas: Option<Value>,
}

/// `/.search` bodies give attribute lists as JSON arrays, URLs as strings.
fn list_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Array(a)) => Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
        Some(_) => None,
    })
}

/// A parsed [`ListQuery`].
pub struct Shape {
    pub filter: Option<Filter>,
    /// 0-based offset.
    pub offset: usize,
    pub count: usize,
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl ListQuery {
    pub fn shape(&self) -> Result<Shape, ScimError> {
        if self.attributes.is_some() && self.excluded_attributes.is_some() {
            return Err(ScimError::bad_request(ScimType::InvalidSyntax, "give either attributes or excludedAttributes, not both (RFC 7644 §3.4.2.5)"));
        }
        let filter = self.filter.as_deref().filter(|f| !f.trim().is_empty()).map(Filter::parse).transpose()?;
        // RFC 7644 §3.4.2.4: a startIndex below 1 is 1; a negative count is 0.
        let offset = usize::try_from(self.start_index.unwrap_or(1).max(1) - 1).unwrap_or(0);
        let count = self.count.map(|c| usize::try_from(c.max(0)).unwrap_or(0).min(MAX_RESULTS)).unwrap_or(DEFAULT_COUNT);
        Ok(Shape {
            filter,
            offset,
            count,
            attributes: self.attributes.as_deref().map(parse_attribute_list).transpose()?.unwrap_or_default(),
            excluded: self.excluded_attributes.as_deref().map(parse_attribute_list).transpose()?.unwrap_or_default(),
        })
    }
}

impl Shape {
    /// `attributes`/`excludedAttributes` for a single resource's GET.
    pub fn projection(attributes: Option<&str>, excluded: Option<&str>) -> Result<Shape, ScimError> {
        ListQuery { attributes: attributes.map(str::to_owned), excluded_attributes: excluded.map(str::to_owned), ..Default::default() }.shape()
    }

    /// A list response: the matching page of `resources`, projected.
    /// `total` is the number of matches (before paging); `resources` is the
    /// page when `paged`, else every match.
    pub fn list(&self, kind: ResourceKind, resources: Vec<Map<String, Value>>, total: usize, paged: bool) -> Value {
        let page: Vec<Value> = resources
            .into_iter()
            .skip(if paged { 0 } else { self.offset })
            .take(self.count)
            .map(|mut r| {
                project(&mut r, kind, &self.attributes, &self.excluded);
                Value::Object(r)
            })
            .collect();
        json!({ "schemas": [schema::LIST_URN], "totalResults": total, "startIndex": self.offset + 1, "itemsPerPage": page.len(), "Resources": page })
    }

    /// Keeps what a filter matches.
    pub fn keep_matching(&self, kind: ResourceKind, resources: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
        match &self.filter {
            None => resources,
            Some(f) => resources.into_iter().filter(|r| f.matches(&Value::Object(r.clone()), kind)).collect(),
        }
    }
}

/// The weak ETag of a version (RFC 7644 §3.14).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an `If-Match` header names; `None` without one or for `*`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    let Some(v) = headers.get(axum::http::header::IF_MATCH).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    let v = v.trim();
    if v == "*" {
        return Ok(None);
    }
    let n = v.trim_start_matches("W/").trim_matches('"');
    n.parse().map(Some).map_err(|_| ScimError::bad_request(ScimType::InvalidSyntax, format!("If-Match `{v}` is not an ETag this server gave (they look like W/\"3\")")))
}

/// Adds `id`, `schemas` and `meta` to a stored document.
pub fn resource(kind: ResourceKind, base: &str, id: uuid::Uuid, mut doc: Map<String, Value>, version: i64, created: Timestamp, modified: Timestamp) -> Map<String, Value> {
    let mut schemas = vec![Value::String(kind.schema().id.to_owned())];
    for ext in kind.extensions() {
        if doc.contains_key(ext.id) {
            schemas.push(Value::String(ext.id.to_owned()));
        }
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.insert("id".into(), Value::String(id.to_string()));
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": rfc3339(created),
            "lastModified": rfc3339(modified),
            "location": format!("{base}{}/{id}", kind.endpoint()),
            "version": etag(version),
        }),
    );
    doc
}

/// Parses a stored document (written by this server, so an error is a bug).
pub fn stored(document: &str) -> Result<Map<String, Value>, ScimError> {
    serde_json::from_str(document).map_err(|e| ScimError::status(500, format!("a stored SCIM document does not parse: {e}")))
}

/// Reads a request body as JSON, with a SCIM error saying what is wrong.
pub fn body(bytes: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(bytes).map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, format!("the body is not valid JSON: {e}")))
}

/// Reads a resource id from the path; an id that is not ours is not found.
pub fn resource_id(kind: ResourceKind, raw: &str) -> Result<uuid::Uuid, ScimError> {
    raw.parse().map_err(|_| ScimError::not_found(format!("no {} with id `{raw}` in this organization", kind.name())))
}
