//! From storage records to wire types.

use portcullis_api as api;
use portcullis_domain::{FeaturePermissions, Role, SessionPolicy, Timestamp};
use portcullis_storage::{Automation, Execution, Member, Organization, SessionRecord, User};
use std::collections::BTreeMap;

pub use crate::timestamps::rfc3339;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn parse_rfc3339(field: &str, s: &str) -> Result<Timestamp, crate::error::ApiError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|d| Timestamp((d.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| {
            crate::error::ApiError::bad_request(
                "invalid_query",
                format!("{field}: `{s}` is not an RFC 3339 time (e.g. 2026-01-31T09:00:00Z)"),
            )
        })
}

pub fn user(u: &User) -> api::UserInfo {
    api::UserInfo {
        id: u.id.0,
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        factory_admin: u.factory_admin,
        disabled: u.is_disabled(),
    }
}

pub fn permissions(p: &FeaturePermissions) -> BTreeMap<String, String> {
    p.iter().map(|(f, l)| (f.as_str().to_owned(), l.as_str().to_owned())).collect()
}

pub fn role(r: &Role) -> api::RoleInfo {
    api::RoleInfo {
        id: r.id.0,
        name: r.name.clone(),
        key: r.key.clone(),
        kind: r.kind.as_str().to_owned(),
        permissions: permissions(&r.effective_permissions()),
    }
}

pub fn org(o: &Organization) -> api::OrganizationInfo {
    api::OrganizationInfo { id: o.id.0, name: o.name.clone(), created_at: rfc3339(o.created_at) }
}

pub fn member(m: &Member) -> api::MemberInfo {
    api::MemberInfo { user: user(&m.user), role: role(&m.role), joined_at: rfc3339(m.joined_at) }
}

pub fn session(s: &SessionRecord, policy: &SessionPolicy, current: bool) -> api::SessionInfo {
    api::SessionInfo {
        id: s.id.0,
        provider: s.provider.clone(),
        created_at: rfc3339(s.times.created_at),
        last_seen_at: rfc3339(s.times.last_seen_at),
        expires_at: rfc3339(s.times.ends_at(policy)),
        ip: s.ip.clone(),
        user_agent: s.user_agent.clone(),
        current,
    }
}

/// A CLI login as the API shows it.
pub fn cli_login(f: &portcullis_storage::RefreshFamily) -> api::CliLoginInfo {
    api::CliLoginInfo {
        id: f.family_id.clone(),
        client_id: f.client_id.clone(),
        scope: f.scope.clone(),
        started_at: rfc3339(f.started_at),
        last_used_at: rfc3339(f.last_used_at),
        expires_at: rfc3339(f.expires_at),
    }
}

pub fn automation(a: &Automation) -> api::AutomationInfo {
    api::AutomationInfo {
        id: a.id.0,
        name: a.name.clone(),
        description: a.description.clone(),
        visibility: a.visibility.as_str().to_owned(),
        created_at: rfc3339(a.created_at),
        updated_at: rfc3339(a.updated_at),
        upstream_url: a.upstream_url.clone(),
        has_upstream_token: a.upstream_token_sealed.is_some(),
        health: api::HealthInfo {
            state: a.health.state.clone(),
            reason: a.health.reason.clone(),
            checked_at: a.health.checked_at.map(rfc3339),
        },
    }
}

pub fn execution(e: &Execution) -> api::ExecutionInfo {
    api::ExecutionInfo {
        id: e.id,
        automation_id: e.automation_id.0,
        user_id: e.user_id.map(|u| u.0),
        started_at: rfc3339(e.started_at),
        inputs_bytes: e.inputs_bytes,
        kickoff_id: e.kickoff_id.clone(),
        state: e.state.clone(),
        upstream_latency_ms: e.upstream_latency_ms,
        error: e.error.clone(),
    }
}

/// Permissions from the wire, validated: unknown features or levels, and
/// levels a feature does not allow, are refused with the allowed list.
pub fn permissions_in(map: &BTreeMap<String, String>) -> Result<FeaturePermissions, crate::error::ApiError> {
    FeaturePermissions::from_pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| crate::error::ApiError::bad_request("invalid_permission", e.to_string()))
}
