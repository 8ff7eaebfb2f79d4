//! `/scim/v2/Users` (RFC 7644 §3.3–§3.6): provisioned people. Creating one
//! makes them a member before their first sign-in; `active: false` (Entra
//! ID's PATCH, Okta's path-less PATCH or PUT) or a DELETE ends their access
//! on every replica at once: membership, browser sessions, CLI logins and
//! cached bearer tokens.

use super::render::{self, body, etag, if_match, resource_id, stored, ListQuery, Shape};
use super::ScimCaller;
use crate::error::scim::{scim_json, ScimFailure};
use crate::error::Status;
use crate::invalidation::{broadcast, Invalidation};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use portcullis_domain::UserId;
use portcullis_scim::{patch, resource, ResourceKind, ScimError};
use portcullis_storage::{AccessChange, ScimKey, ScimUser, ScimUserFields, StoreError};
use serde_json::{json, Map, Value};

const KIND: ResourceKind = ResourceKind::User;

fn str_at<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The indexed columns of a canonical User document.
fn fields(doc: &Map<String, Value>) -> Result<ScimUserFields, ScimError> {
    let user_name = str_at(doc, "userName").unwrap_or_default().to_owned();
    let name = doc.get("name").and_then(Value::as_object);
    let display_name = str_at(doc, "displayName").map(str::to_owned).or_else(|| name.and_then(|n| str_at(n, "formatted")).map(str::to_owned)).or_else(|| {
        let parts: Vec<&str> = name.iter().flat_map(|n| [str_at(n, "givenName"), str_at(n, "familyName")]).flatten().collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let emails: Vec<&Map<String, Value>> = doc.get("emails").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_object).collect()).unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| emails.iter().find(|e| str_at(e, "type") == Some("work")))
        .or_else(|| emails.first())
        .and_then(|e| str_at(e, "value"))
        .unwrap_or(&user_name)
        .to_owned();
    Ok(ScimUserFields {
        external_id: str_at(doc, "externalId").map(str::to_owned),
        display_name,
        active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
        email,
        document: Value::Object(doc.clone()).to_string(),
        user_name,
    })
}

/// Answers 409 `uniqueness` naming the resource that holds the value (the
/// UNIQUE constraints still decide a race).
async fn check_unique(state: &AppState, caller: &ScimCaller, f: &ScimUserFields, me: Option<uuid::Uuid>) -> Result<(), ScimFailure> {
    for (key, value, what) in [(ScimKey::Name, Some(&f.user_name), "userName"), (ScimKey::ExternalId, f.external_id.as_ref(), "externalId")] {
        let Some(value) = value else { continue };
        if let Some(other) = state.store.find_scim_users(caller.org, key, value).await?.into_iter().find(|u| Some(u.id) != me) {
            return Err(ScimError::uniqueness(format!("{what} `{value}` is already provisioned in this organization, as User {}; update that User instead", other.id)).into());
        }
    }
    Ok(())
}

/// Users as resources, with their groups.
async fn render_all(state: &AppState, caller: &ScimCaller, users: &[ScimUser]) -> Result<Vec<Map<String, Value>>, ScimFailure> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.id).collect();
    let mut groups = state.store.list_scim_user_groups(caller.org, &ids).await?;
    users
        .iter()
        .map(|u| {
            let mut doc = render::resource(KIND, &caller.base, u.id, stored(&u.fields.document)?, u.version, u.created_at, u.updated_at);
            if let Some(gs) = groups.remove(&u.id) {
                let list: Vec<Value> = gs.into_iter().map(|g| json!({ "value": g.id.to_string(), "$ref": format!("{}/Groups/{}", caller.base, g.id), "display": g.display })).collect();
                doc.insert("groups".into(), Value::Array(list));
            }
            Ok(doc)
        })
        .collect()
}

async fn one(state: &AppState, caller: &ScimCaller, u: &ScimUser, status: Status, shape: Option<&Shape>) -> Result<Response, ScimFailure> {
    let mut doc = render_all(state, caller, std::slice::from_ref(u)).await?.remove(0);
    if let Some(s) = shape {
        resource::project(&mut doc, KIND, &s.attributes, &s.excluded);
    }
    Ok(scim_json(status, &Value::Object(doc), Some(&etag(u.version))))
}

/// Every user the filter matches, as resources; the equalities Okta and
/// Entra ID send (`userName`, `externalId`, `id`) are answered by indexes.
pub async fn matching(state: &AppState, caller: &ScimCaller, shape: &Shape) -> Result<Vec<Map<String, Value>>, ScimFailure> {
    let store = &state.store;
    let eq = shape.filter.as_ref().and_then(|f| f.as_equality()).filter(|(p, _)| p.urn.is_none() && p.sub.is_none());
    let users = match eq {
        Some((p, v)) if p.attr.eq_ignore_ascii_case("userName") => store.find_scim_users(caller.org, ScimKey::Name, v).await?,
        Some((p, v)) if p.attr.eq_ignore_ascii_case("externalId") => store.find_scim_users(caller.org, ScimKey::ExternalId, v).await?,
        Some((p, v)) if p.attr.eq_ignore_ascii_case("id") => match v.parse() {
            Ok(id) => store.get_scim_user(caller.org, id).await?.into_iter().collect(),
            Err(_) => Vec::new(),
        },
        _ => store.list_scim_users(caller.org, 0, None).await?.0,
    };
    Ok(shape.keep_matching(KIND, render_all(state, caller, &users).await?))
}

async fn query(state: &AppState, caller: &ScimCaller, shape: Shape) -> Result<Response, ScimFailure> {
    let (page, total, paged) = if shape.filter.is_none() {
        // Without a filter the database pages (a connection test, a full sync).
        let (users, total) = state.store.list_scim_users(caller.org, shape.offset as i64, Some(shape.count as i64)).await?;
        (render_all(state, caller, &users).await?, total as usize, true)
    } else {
        let all = matching(state, caller, &shape).await?;
        let total = all.len();
        (all, total, false)
    };
    caller.audit_read(state, "scim.user.query", None, json!({ "filter": shape.filter.is_some(), "results": total }));
    Ok(scim_json(Status::Ok, &shape.list(KIND, page, total, paged), None))
}

/// `GET /Users` (also how Okta and Entra ID test the connection:
/// `?startIndex=1&count=2`, and look a user up: `?filter=userName eq "…"`;
/// no match is a 200 with an empty list).
pub async fn list(State(state): State<AppState>, caller: ScimCaller, Query(q): Query<ListQuery>) -> Result<Response, ScimFailure> {
    query(&state, &caller, q.shape()?).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3).
pub async fn search(State(state): State<AppState>, caller: ScimCaller, bytes: Bytes) -> Result<Response, ScimFailure> {
    let q: ListQuery = serde_json::from_value(body(&bytes)?).map_err(|e| ScimError::bad_request(portcullis_scim::ScimType::InvalidSyntax, format!("not a SearchRequest: {e}")))?;
    query(&state, &caller, q.shape()?).await
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

async fn find(state: &AppState, caller: &ScimCaller, raw: &str) -> Result<ScimUser, ScimFailure> {
    let id = resource_id(KIND, raw)?;
    state.store.get_scim_user(caller.org, id).await?.ok_or_else(|| ScimError::not_found(format!("no User with id `{raw}` in this organization")).into())
}

/// `GET /Users/{id}`.
pub async fn get_one(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>, Query(p): Query<Projection>) -> Result<Response, ScimFailure> {
    let u = find(&state, &caller, &id).await?;
    caller.audit_read(&state, "scim.user.read", Some(format!("scim-user:{}", u.id)), Value::Null);
    one(&state, &caller, &u, Status::Ok, Some(&Shape::projection(p.attributes.as_deref(), p.excluded_attributes.as_deref())?)).await
}

/// `POST /Users`: a new member, before their first sign-in.
pub async fn create(State(state): State<AppState>, caller: ScimCaller, bytes: Bytes) -> Result<Response, ScimFailure> {
    let mut doc = resource::read(KIND, &body(&bytes)?)?;
    doc.entry("active").or_insert(Value::Bool(true));
    let f = fields(&doc)?;
    check_unique(&state, &caller, &f, None).await?;
    let u = state.store.create_scim_user(caller.org, uuid::Uuid::new_v4(), &f, state.clock.now()).await?;
    caller.audit(&state, "scim.user.create", Some(format!("user:{}", u.user_id)), true, json!({ "userName": f.user_name, "active": f.active })).await;
    one(&state, &caller, &u, Status::Created, None).await
}

/// Writes `f` over `old` and carries out what that does to access.
async fn write(state: &AppState, caller: &ScimCaller, old: &ScimUser, f: ScimUserFields, version: Option<i64>) -> Result<ScimUser, StoreError> {
    let (u, change) = state.store.update_scim_user(caller.org, old.id, &f, version, state.clock.now()).await?;
    access_changed(state, caller, &u, change).await;
    Ok(u)
}

async fn access_changed(state: &AppState, caller: &ScimCaller, u: &ScimUser, change: AccessChange) {
    let user: UserId = u.user_id;
    match change {
        AccessChange::Unchanged => {}
        AccessChange::Ended => {
            ended(state, user);
            caller.audit(state, "scim.user.deactivate", Some(format!("user:{user}")), true, json!({ "userName": u.fields.user_name })).await;
        }
        AccessChange::Restored => {
            broadcast(state, Invalidation::UserSessions(user));
            broadcast(state, Invalidation::AllAutomations);
            caller.audit(state, "scim.user.reactivate", Some(format!("user:{user}")), true, json!({ "userName": u.fields.user_name })).await;
        }
    }
}

/// Every replica forgets the person's sessions, verified tokens and what
/// they could see (the store has ended them already).
fn ended(state: &AppState, user: UserId) {
    broadcast(state, Invalidation::UserSessions(user));
    broadcast(state, Invalidation::UserTokens(user));
    broadcast(state, Invalidation::AllAutomations);
}

/// `PUT /Users/{id}`: replaces the resource (an absent `active` keeps its
/// value; Okta deactivates with a PUT that says `false`).
pub async fn replace(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> Result<Response, ScimFailure> {
    let old = find(&state, &caller, &id).await?;
    let mut doc = resource::read(KIND, &body(&bytes)?)?;
    doc.entry("active").or_insert(Value::Bool(old.fields.active));
    let f = fields(&doc)?;
    check_unique(&state, &caller, &f, Some(old.id)).await?;
    let u = write(&state, &caller, &old, f, if_match(&headers)?).await?;
    caller.audit(&state, "scim.user.replace", Some(format!("user:{}", u.user_id)), true, Value::Null).await;
    one(&state, &caller, &u, Status::Ok, None).await
}

/// `PATCH /Users/{id}` (RFC 7644 §3.5.2), applied over the version read;
/// a concurrent change makes it read and apply again.
pub async fn patch(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> Result<Response, ScimFailure> {
    let ops = patch::parse_request(&body(&bytes)?)?;
    let wanted = if_match(&headers)?;
    for _ in 0..5 {
        let old = find(&state, &caller, &id).await?;
        if wanted.is_some_and(|v| v != old.version) {
            return Err(StoreError::Stale.into());
        }
        let mut doc = stored(&old.fields.document)?;
        patch::apply(KIND, &mut doc, &ops)?;
        let f = fields(&doc)?;
        check_unique(&state, &caller, &f, Some(old.id)).await?;
        match write(&state, &caller, &old, f, Some(old.version)).await {
            Err(StoreError::Stale) => continue,
            Err(e) => return Err(e.into()),
            Ok(u) => {
                caller.audit(&state, "scim.user.patch", Some(format!("user:{}", u.user_id)), true, json!({ "operations": ops.len() })).await;
                return one(&state, &caller, &u, Status::Ok, None).await;
            }
        }
    }
    Err(ScimError::status(409, "the User kept changing while this PATCH was applied; retry it").into())
}

/// `DELETE /Users/{id}`: access ends as at deactivation; the account and
/// its audit history stay.
pub async fn delete(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>) -> Result<Response, ScimFailure> {
    let scim_id = resource_id(KIND, &id)?;
    let Some(user) = state.store.delete_scim_user(caller.org, scim_id, state.clock.now()).await? else {
        return Err(ScimError::not_found(format!("no User with id `{id}` in this organization")).into());
    };
    ended(&state, user);
    caller.audit(&state, "scim.user.delete", Some(format!("user:{user}")), true, Value::Null).await;
    Ok(scim_json(Status::NoContent, &Value::Null, None))
}
