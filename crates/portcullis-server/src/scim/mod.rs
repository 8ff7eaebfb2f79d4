//! The SCIM 2.0 service provider at `/scim/v2` (RFC 7643, RFC 7644): the
//! users and groups an organization's identity provider provisions, for
//! the organization its SCIM token belongs to.
//!
//! Every request carries a SCIM token (`Authorization: Bearer`), created by
//! an owner in the API (`POST /api/v1/scim/tokens`); it is checked against
//! its hash at every request, so a revoked token stops on every replica at
//! once. Every request is audited under the token's name.

pub mod group_access;
pub mod groups;
pub mod render;
pub mod tokens;
pub mod users;

use crate::audit::{self, Entry};
use crate::error::scim::{scim_json, ScimFailure};
use crate::error::Status;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use portcullis_domain::{OrgId, TokenHash};
use portcullis_scim::{schema, ResourceKind, ScimError};
use serde_json::{json, Value};

/// The most resources one page holds (`count` above it is lowered).
pub const MAX_RESULTS: usize = 1000;
/// A page's size when the client gives no `count`.
pub const DEFAULT_COUNT: usize = 100;

/// The organization a request provisions, from its SCIM token.
pub struct ScimCaller {
    pub org: OrgId,
    pub token_id: uuid::Uuid,
    pub token_name: String,
    /// The SCIM base URL, for `meta.location` and `$ref`.
    pub base: String,
}

impl ScimCaller {
    fn entry(&self, action: &'static str, target: Option<String>, ok: bool, detail: Value) -> Entry {
        let mut entry = Entry::new(action, ok).org(self.org).detail(json!({ "scim_token": self.token_name, "scim_token_id": self.token_id, "detail": detail }));
        if let Some(t) = target {
            entry = entry.target(t);
        }
        entry
    }

    /// Audits a change, before it is answered.
    pub async fn audit(&self, state: &AppState, action: &'static str, target: Option<String>, ok: bool, detail: Value) {
        audit::record(state, self.entry(action, target, ok, detail)).await;
    }

    /// Audits a read without making the answer wait for the commit (an
    /// identity provider looks a user up before every change; the entry is
    /// written right after, and kept until stored if the database is away).
    pub fn audit_read(&self, state: &AppState, action: &'static str, target: Option<String>, detail: Value) {
        let (state, entry) = (state.clone(), self.entry(action, target, true, detail));
        let rid = crate::request_id::current();
        tokio::spawn(crate::request_id::scope(rid, async move { audit::record(&state, entry).await }));
    }
}

fn unauthorized(detail: &str) -> ScimFailure {
    ScimFailure(ScimError::status(401, detail))
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let raw = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(|| unauthorized("send the organization's SCIM token as Authorization: Bearer <token> (create one with POST /api/v1/scim/tokens)"))?;
        let token = raw.strip_prefix("Bearer ").or_else(|| raw.strip_prefix("bearer ")).map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| unauthorized("the Authorization header must be `Bearer <SCIM token>`"))?;
        if !token.starts_with(tokens::PREFIX) {
            return Err(unauthorized("this is not a Portcullis SCIM token (they start with pcs_scim_); create one with POST /api/v1/scim/tokens"));
        }
        let found = state.store.use_scim_token(&TokenHash::of(token), state.clock.now()).await?;
        let t = found.ok_or_else(|| unauthorized("this SCIM token is unknown or was revoked; create a new one with POST /api/v1/scim/tokens and set it in the identity provider"))?;
        let base = format!("{}/scim/v2", state.config.public_url.as_str().trim_end_matches('/'));
        Ok(ScimCaller { org: t.org_id, token_id: t.id, token_name: t.name, base })
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config).fallback(method_not_allowed))
        .route("/ResourceTypes", get(resource_types).fallback(method_not_allowed))
        .route("/ResourceTypes/{name}", get(resource_type).fallback(method_not_allowed))
        .route("/Schemas", get(schemas).fallback(method_not_allowed))
        .route("/Schemas/{id}", get(schema_by_id).fallback(method_not_allowed))
        .route("/Users", get(users::list).post(users::create).fallback(method_not_allowed))
        .route("/Users/.search", post(users::search))
        .route("/Users/{id}", get(users::get_one).put(users::replace).patch(users::patch).delete(users::delete).fallback(method_not_allowed))
        .route("/Groups", get(groups::list).post(groups::create).fallback(method_not_allowed))
        .route("/Groups/.search", post(groups::search))
        .route("/Groups/{id}", get(groups::get_one).put(groups::replace).patch(groups::patch).delete(groups::delete).fallback(method_not_allowed))
        .route("/.search", post(search_all))
        .route("/Bulk", post(not_implemented))
        .route("/Me", get(not_implemented))
        .fallback(not_found)
}

async fn method_not_allowed(method: Method) -> ScimFailure {
    ScimFailure(ScimError::status(405, format!("{method} is not supported here")))
}

async fn not_implemented(_caller: ScimCaller) -> ScimFailure {
    ScimFailure(ScimError::status(501, "not supported by Portcullis: send one request per change to /Users or /Groups"))
}

async fn not_found(uri: axum::http::Uri) -> ScimFailure {
    ScimFailure(ScimError::not_found(format!("no SCIM endpoint at {}; the endpoints are /Users, /Groups, /ServiceProviderConfig, /ResourceTypes and /Schemas", uri.path())))
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): Users and Groups at
/// once, each projected with its own schema.
async fn search_all(axum::extract::State(state): axum::extract::State<AppState>, caller: ScimCaller, bytes: axum::body::Bytes) -> Result<Response, ScimFailure> {
    let q: render::ListQuery = serde_json::from_value(render::body(&bytes)?).map_err(|e| ScimError::bad_request(portcullis_scim::ScimType::InvalidSyntax, format!("not a SearchRequest: {e}")))?;
    let shape = q.shape()?;
    let users = users::matching(&state, &caller, &shape).await?.into_iter().map(|r| (ResourceKind::User, r));
    let groups = groups::matching(&state, &caller, &shape).await?.into_iter().map(|r| (ResourceKind::Group, r));
    let all: Vec<_> = users.chain(groups).collect();
    let total = all.len();
    let page: Vec<Value> = all
        .into_iter()
        .skip(shape.offset)
        .take(shape.count)
        .map(|(kind, mut r)| {
            portcullis_scim::resource::project(&mut r, kind, &shape.attributes, &shape.excluded);
            Value::Object(r)
        })
        .collect();
    caller.audit_read(&state, "scim.search", None, json!({ "results": total }));
    let body = json!({ "schemas": [schema::LIST_URN], "totalResults": total, "startIndex": shape.offset + 1, "itemsPerPage": page.len(), "Resources": page });
    Ok(scim_json(Status::Ok, &body, None))
}

async fn service_provider_config(caller: ScimCaller) -> Response {
    scim_json(Status::Ok, &schema::service_provider_config(&caller.base, MAX_RESULTS), None)
}

fn list_of(items: Vec<Value>) -> Value {
    json!({ "schemas": [schema::LIST_URN], "totalResults": items.len(), "startIndex": 1, "itemsPerPage": items.len(), "Resources": items })
}

async fn resource_types(caller: ScimCaller) -> Response {
    scim_json(Status::Ok, &list_of([ResourceKind::User, ResourceKind::Group].iter().map(|k| k.to_json(&caller.base)).collect()), None)
}

async fn resource_type(caller: ScimCaller, Path(name): Path<String>) -> Result<Response, ScimFailure> {
    let kind = [ResourceKind::User, ResourceKind::Group].into_iter().find(|k| k.name() == name).ok_or_else(|| ScimError::not_found(format!("no resource type `{name}`: there are User and Group")))?;
    Ok(scim_json(Status::Ok, &kind.to_json(&caller.base), None))
}

async fn schemas(caller: ScimCaller) -> Response {
    scim_json(Status::Ok, &list_of(schema::all_schemas().iter().map(|s| s.to_json(&caller.base)).collect()), None)
}

async fn schema_by_id(caller: ScimCaller, Path(id): Path<String>) -> Result<Response, ScimFailure> {
    let s = schema::all_schemas().into_iter().find(|s| s.id == id).ok_or_else(|| ScimError::not_found(format!("no schema `{id}` here")))?;
    Ok(scim_json(Status::Ok, &s.to_json(&caller.base), None))
}
