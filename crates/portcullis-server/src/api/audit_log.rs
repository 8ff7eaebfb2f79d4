//! Reading the audit log.

use super::convert;
use crate::session::{Caller, OrgScope};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Query, State};
use portcullis_api as api;
use portcullis_domain::{Action, Feature, Level, UserId};
use portcullis_storage::AuditFilter;
use std::collections::HashMap;

const PARAMS: &str = "since, until (RFC 3339), actor (user id), action (e.g. login.failure), resource (what was acted on, a prefix such as automation: or user:<id>), limit (1 to 1000)";

/// `GET /api/v1/audit?since=&until=&actor=&action=&resource=&limit=`: the
/// organization's events (needs `organization_settings: manage`); a
/// factory-admin without an organization header sees the whole installation,
/// sign-in events included.
pub async fn query(
    State(state): State<AppState>,
    caller: Caller,
    scope: Result<OrgScope, ApiError>,
    headers: axum::http::HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<axum::Json<Vec<api::AuditEventInfo>>> {
    let installation_wide = caller.ctx.user.factory_admin
        && !headers.contains_key("x-organization-id")
        && !headers.contains_key("x-crewai-organization-id");
    let org_id = if installation_wide { None } else { Some(authorized_org(&scope?)?) };
    let f = filter(org_id, 100, q.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    Ok(axum::Json(state.store.list_audit(&f).await?.into_iter().map(info).collect()))
}

/// The organization of `scope`, if the caller may read its audit log
/// (`organization_settings: manage`).
pub fn authorized_org(scope: &OrgScope) -> ApiResult<portcullis_domain::OrgId> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "audit log")?;
    Ok(scope.org.id)
}

/// The filter the query parameters name (the API's and the Audit log
/// page's alike); unknown parameters are refused, empty ones ignored.
pub fn filter<'a>(org_id: Option<portcullis_domain::OrgId>, default_limit: i64, q: impl Iterator<Item = (&'a str, &'a str)>) -> ApiResult<AuditFilter> {
    let mut f = AuditFilter { org_id, limit: default_limit, ..Default::default() };
    for (k, v) in q {
        if v.is_empty() {
            continue;
        }
        match k {
            "since" => f.since = Some(convert::parse_rfc3339("since", v)?),
            "until" => f.until = Some(convert::parse_rfc3339("until", v)?),
            "actor" => {
                f.actor_id = Some(v.parse::<UserId>().map_err(|_| ApiError::bad_request("invalid_query", format!("actor: `{v}` is not a user id")))?)
            }
            "action" => f.action = Some(v.to_owned()),
            "resource" => f.target_prefix = Some(v.to_owned()),
            "limit" => {
                f.limit = v.parse::<i64>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    ApiError::bad_request("invalid_query", format!("limit: `{v}` is not a number from 1 to 1000"))
                })?
            }
            other => return Err(ApiError::bad_request("invalid_query", format!("unknown parameter `{other}`; valid parameters: {PARAMS}"))),
        }
    }
    Ok(f)
}

/// An audit entry on the wire.
pub fn info(e: portcullis_storage::AuditEvent) -> api::AuditEventInfo {
    api::AuditEventInfo {
        id: e.id,
        at: convert::rfc3339(e.at),
        organization_id: e.org_id.map(|o| o.0),
        actor_id: e.actor_id.map(|u| u.0),
        actor: e.actor,
        action: e.action,
        target: e.target,
        outcome: e.outcome,
        ip: e.ip,
        request_id: e.request_id,
        detail: e.detail,
    }
}
