//! `/scim/v2/Groups`: provisioned groups and their members (people of the
//! same organization; the database's composite keys refuse anyone else).
//! Members live in their own table, so a PATCH that adds 100 members writes
//! 100 rows, whatever the group's size.

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
use portcullis_scim::{patch, resource, ResourceKind, ScimError, ScimType};
use portcullis_storage::{ScimGroup, ScimGroupFields, ScimKey, StoreError};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use uuid::Uuid;

const KIND: ResourceKind = ResourceKind::Group;

/// Splits a canonical Group document into its columns and its member ids.
fn fields(mut doc: Map<String, Value>) -> Result<(ScimGroupFields, Vec<Uuid>), ScimError> {
    let members = match doc.remove("members") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| {
                let v = m.get("value").and_then(Value::as_str).unwrap_or_default();
                v.parse::<Uuid>().map_err(|_| ScimError::bad_request(ScimType::InvalidValue, format!("members: `{v}` is not the id of a User of this organization (members are people, by their SCIM id)")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let display_name = doc.get("displayName").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
    let external_id = doc.get("externalId").and_then(Value::as_str).map(str::to_owned);
    Ok((ScimGroupFields { display_name, external_id, document: Value::Object(doc).to_string() }, members))
}

/// The document as PATCH sees it: stored attributes plus `members`.
fn patchable(g: &ScimGroup) -> Result<Map<String, Value>, ScimError> {
    let mut doc = stored(&g.fields.document)?;
    if !g.members.is_empty() {
        doc.insert("members".into(), Value::Array(g.members.iter().map(|m| json!({ "value": m.id.to_string() })).collect()));
    }
    Ok(doc)
}

/// Whether `attributes` asks for the members' `display`, which is
/// `returned: request` (it is the Portcullis name, not what the client sent).
fn wants_display(shape: Option<&Shape>) -> bool {
    shape.is_some_and(|s| s.attributes.iter().any(|p| p.attr.eq_ignore_ascii_case("members") && p.sub.as_deref().is_some_and(|x| x.eq_ignore_ascii_case("display"))))
}

fn render(caller: &ScimCaller, g: &ScimGroup, with_display: bool) -> Result<Map<String, Value>, ScimError> {
    let mut doc = render::resource(KIND, &caller.base, g.id, stored(&g.fields.document)?, g.version, g.created_at, g.updated_at);
    if !g.members.is_empty() {
        let members: Vec<Value> = g
            .members
            .iter()
            .map(|m| {
                let mut v = json!({ "value": m.id.to_string(), "$ref": format!("{}/Users/{}", caller.base, m.id), "type": "User" });
                if with_display {
                    v["display"] = Value::String(m.display.clone());
                }
                v
            })
            .collect();
        doc.insert("members".into(), Value::Array(members));
    }
    Ok(doc)
}

fn member_error(e: StoreError) -> ScimFailure {
    match e {
        StoreError::NotFound { what } if what.starts_with("group member") => {
            ScimError::bad_request(ScimType::InvalidValue, "a member's `value` is not the id of a User of this organization; provision the User first (POST /Users) and use the `id` it answered").into()
        }
        e => e.into(),
    }
}

async fn check_unique(state: &AppState, caller: &ScimCaller, f: &ScimGroupFields, me: Option<Uuid>) -> Result<(), ScimFailure> {
    for (key, value, what) in [(ScimKey::Name, Some(&f.display_name), "displayName"), (ScimKey::ExternalId, f.external_id.as_ref(), "externalId")] {
        let Some(value) = value else { continue };
        if let Some(other) = state.store.find_scim_groups(caller.org, key, value).await?.into_iter().find(|g| Some(g.id) != me) {
            return Err(ScimError::uniqueness(format!("{what} `{value}` is already taken in this organization, by Group {}; update that Group instead", other.id)).into());
        }
    }
    Ok(())
}

fn one(caller: &ScimCaller, g: &ScimGroup, status: Status, shape: Option<&Shape>) -> Result<Response, ScimFailure> {
    let mut doc = render(caller, g, wants_display(shape))?;
    if let Some(s) = shape {
        resource::project(&mut doc, KIND, &s.attributes, &s.excluded);
    }
    Ok(scim_json(status, &Value::Object(doc), Some(&etag(g.version))))
}

/// Every group the filter matches, as resources (`displayName`,
/// `externalId` and `id` equalities answered by indexes).
pub async fn matching(state: &AppState, caller: &ScimCaller, shape: &Shape) -> Result<Vec<Map<String, Value>>, ScimFailure> {
    let store = &state.store;
    let eq = shape.filter.as_ref().and_then(|f| f.as_equality()).filter(|(p, _)| p.urn.is_none() && p.sub.is_none());
    let groups = match eq {
        Some((p, v)) if p.attr.eq_ignore_ascii_case("displayName") => store.find_scim_groups(caller.org, ScimKey::Name, v).await?,
        Some((p, v)) if p.attr.eq_ignore_ascii_case("externalId") => store.find_scim_groups(caller.org, ScimKey::ExternalId, v).await?,
        Some((p, v)) if p.attr.eq_ignore_ascii_case("id") => match v.parse() {
            Ok(id) => store.get_scim_group(caller.org, id).await?.into_iter().collect(),
            Err(_) => Vec::new(),
        },
        _ => store.list_scim_groups(caller.org, 0, None).await?.0,
    };
    let docs = groups.iter().map(|g| render(caller, g, wants_display(Some(shape)))).collect::<Result<Vec<_>, _>>()?;
    Ok(shape.keep_matching(KIND, docs))
}

async fn query(state: &AppState, caller: &ScimCaller, shape: Shape) -> Result<Response, ScimFailure> {
    let (page, total, paged) = if shape.filter.is_none() {
        let (groups, total) = state.store.list_scim_groups(caller.org, shape.offset as i64, Some(shape.count as i64)).await?;
        let docs = groups.iter().map(|g| render(caller, g, wants_display(Some(&shape)))).collect::<Result<Vec<_>, _>>()?;
        (docs, total as usize, true)
    } else {
        let all = matching(state, caller, &shape).await?;
        let total = all.len();
        (all, total, false)
    };
    caller.audit_read(state, "scim.group.query", None, json!({ "filter": shape.filter.is_some(), "results": total }));
    Ok(scim_json(Status::Ok, &shape.list(KIND, page, total, paged), None))
}

/// `GET /Groups`.
pub async fn list(State(state): State<AppState>, caller: ScimCaller, Query(q): Query<ListQuery>) -> Result<Response, ScimFailure> {
    query(&state, &caller, q.shape()?).await
}

/// `POST /Groups/.search`.
pub async fn search(State(state): State<AppState>, caller: ScimCaller, bytes: Bytes) -> Result<Response, ScimFailure> {
    let q: ListQuery = serde_json::from_value(body(&bytes)?).map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, format!("not a SearchRequest: {e}")))?;
    query(&state, &caller, q.shape()?).await
}

async fn find(state: &AppState, caller: &ScimCaller, raw: &str) -> Result<ScimGroup, ScimFailure> {
    let id = resource_id(KIND, raw)?;
    state.store.get_scim_group(caller.org, id).await?.ok_or_else(|| ScimError::not_found(format!("no Group with id `{raw}` in this organization")).into())
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

/// `GET /Groups/{id}`.
pub async fn get_one(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>, Query(p): Query<Projection>) -> Result<Response, ScimFailure> {
    let g = find(&state, &caller, &id).await?;
    caller.audit_read(&state, "scim.group.read", Some(format!("scim-group:{}", g.id)), Value::Null);
    one(&caller, &g, Status::Ok, Some(&Shape::projection(p.attributes.as_deref(), p.excluded_attributes.as_deref())?))
}

/// `POST /Groups`.
pub async fn create(State(state): State<AppState>, caller: ScimCaller, bytes: Bytes) -> Result<Response, ScimFailure> {
    let (f, members) = fields(resource::read(KIND, &body(&bytes)?)?)?;
    check_unique(&state, &caller, &f, None).await?;
    let g = state.store.create_scim_group(caller.org, Uuid::new_v4(), &f, &members, state.clock.now()).await.map_err(member_error)?;
    caller.audit(&state, "scim.group.create", Some(format!("scim-group:{}", g.id)), true, json!({ "displayName": f.display_name, "members": members.len() })).await;
    super::group_access::follow(&state, &caller, &changed(&g), &members, &[]).await?;
    one(&caller, &g, Status::Created, None)
}

/// Writes a group's new state as the difference from the old one.
async fn write(state: &AppState, caller: &ScimCaller, old: &ScimGroup, doc: Map<String, Value>, version: Option<i64>) -> Result<ScimGroup, ScimFailure> {
    let (f, members) = fields(doc)?;
    check_unique(state, caller, &f, Some(old.id)).await?;
    let before: BTreeSet<Uuid> = old.members.iter().map(|m| m.id).collect();
    let after: BTreeSet<Uuid> = members.into_iter().collect();
    let add: Vec<Uuid> = after.difference(&before).copied().collect();
    let remove: Vec<Uuid> = before.difference(&after).copied().collect();
    let g = state.store.update_scim_group(caller.org, old.id, &f, &add, &remove, version, state.clock.now()).await.map_err(|e| match e {
        StoreError::Stale => StoreError::Stale.into(),
        e => member_error(e),
    })?;
    if !add.is_empty() || !remove.is_empty() {
        // Group membership decides roles: who sees what may change.
        broadcast(state, Invalidation::AllAutomations);
    }
    caller.audit(state, "scim.group.update", Some(format!("scim-group:{}", g.id)), true, json!({ "added": add.len(), "removed": remove.len() })).await;
    super::group_access::follow(state, caller, &changed(&g), &add, &remove).await?;
    Ok(g)
}

fn changed(g: &ScimGroup) -> super::group_access::ChangedGroup {
    super::group_access::ChangedGroup { id: g.id, display_name: g.fields.display_name.clone(), external_id: g.fields.external_id.clone() }
}

/// `PUT /Groups/{id}`.
pub async fn replace(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> Result<Response, ScimFailure> {
    let old = find(&state, &caller, &id).await?;
    let doc = resource::read(KIND, &body(&bytes)?)?;
    let g = write(&state, &caller, &old, doc, if_match(&headers)?).await?;
    one(&caller, &g, Status::Ok, None)
}

/// `PATCH /Groups/{id}`: Okta adds members with `add` on `members` and
/// removes them with `members[value eq "…"]`; Entra ID removes with a
/// `value` list. A concurrent change makes it read and apply again.
pub async fn patch(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> Result<Response, ScimFailure> {
    let ops = patch::parse_request(&body(&bytes)?)?;
    let wanted = if_match(&headers)?;
    for _ in 0..5 {
        let old = find(&state, &caller, &id).await?;
        if wanted.is_some_and(|v| v != old.version) {
            return Err(StoreError::Stale.into());
        }
        let mut doc = patchable(&old)?;
        patch::apply(KIND, &mut doc, &ops)?;
        match write(&state, &caller, &old, doc, Some(old.version)).await {
            Err(ScimFailure(e)) if e.status == 412 && wanted.is_none() => continue,
            Err(e) => return Err(e),
            Ok(g) => return one(&caller, &g, Status::Ok, None),
        }
    }
    Err(ScimError::status(409, "the Group kept changing while this PATCH was applied; retry it").into())
}

/// `DELETE /Groups/{id}`.
pub async fn delete(State(state): State<AppState>, caller: ScimCaller, Path(id): Path<String>) -> Result<Response, ScimFailure> {
    let gid = resource_id(KIND, &id)?;
    let old = state.store.get_scim_group(caller.org, gid).await?;
    if !state.store.delete_scim_group(caller.org, gid).await? {
        return Err(ScimError::not_found(format!("no Group with id `{id}` in this organization")).into());
    }
    broadcast(&state, Invalidation::AllAutomations);
    caller.audit(&state, "scim.group.delete", Some(format!("scim-group:{gid}")), true, Value::Null).await;
    // Its members left it: those it gave their role lose access.
    if let Some(old) = old {
        let members: Vec<Uuid> = old.members.iter().map(|m| m.id).collect();
        super::group_access::follow(&state, &caller, &changed(&old), &[], &members).await?;
    }
    Ok(scim_json(Status::NoContent, &Value::Null, None))
}
