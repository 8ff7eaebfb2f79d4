//! The organization a request is about, and who the caller is there.

use super::current::Caller;
use crate::error::{ApiError, ApiResult, Status};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use portcullis_domain::{decide, Action, Decision, OrgContext, Principal, RoleRef};
use portcullis_storage::Organization;

/// Who `user` is in organization `org`, for the RBAC decision: their role
/// there (none if they are not a member) and whether they administer the
/// installation. The one place a principal is built from stored records.
pub fn principal_in(user: &portcullis_storage::User, memberships: &[portcullis_storage::Membership], org: portcullis_domain::OrgId) -> Principal {
    let roles = memberships
        .iter()
        .filter(|m| m.org.id == org)
        .map(|m| RoleRef { id: m.role.id, name: m.role.name.clone(), kind: m.role.kind, permissions: m.role.effective_permissions() })
        .collect();
    Principal { user_id: user.id, factory_admin: user.factory_admin, org: Some(OrgContext { org_id: org, roles }) }
}

/// A caller acting inside one organization, chosen by the
/// `X-Organization-Id` header (or the platform CLI's
/// `X-Crewai-Organization-Id`), or implied when they belong to only one.
pub struct OrgScope {
    pub caller: Caller,
    pub org: Organization,
    pub principal: Principal,
}

impl OrgScope {
    /// Runs the RBAC decision; a refusal becomes 403 (what was lacking) or
    /// 404 (the caller may not know the resource exists).
    pub fn authorize(&self, action: Action<'_>, resource: &str) -> ApiResult<()> {
        match decide(&self.principal, action) {
            Decision::Allow => Ok(()),
            Decision::Deny(d) => {
                crate::telemetry::rbac_denied(&d);
                Err(ApiError::new(Status::Forbidden, "forbidden", format!("{resource}: {d}")))
            }
            Decision::NotFound => Err(ApiError::not_found(resource)),
        }
    }
}

impl OrgScope {
    /// The scope of a page: the organization `requested` (one of the
    /// caller's, or any for a factory-admin), else their first one. Pages
    /// offer a switcher rather than refusing, as the API does, to guess.
    pub async fn for_page(state: &AppState, caller: Caller, requested: Option<portcullis_domain::OrgId>) -> ApiResult<OrgScope> {
        let memberships = &caller.ctx.memberships;
        let org = match requested {
            Some(id) => match memberships.iter().find(|m| m.org.id == id) {
                Some(m) => m.org.clone(),
                None if caller.ctx.user.factory_admin => state.store.get_org(id).await?.ok_or_else(|| ApiError::not_found("organization"))?,
                None => return Err(ApiError::not_found("organization")),
            },
            None => match memberships.first() {
                Some(m) => m.org.clone(),
                None => return Err(ApiError::bad_request("no_organization", "you are not a member of any organization; ask an owner to add you")),
            },
        };
        let principal = principal_in(&caller.ctx.user, memberships, org.id);
        Ok(OrgScope { caller, org, principal })
    }

    /// Whether the decision allows `action` here (for what a page offers).
    pub fn allows(&self, action: Action<'_>) -> bool {
        decide(&self.principal, action) == Decision::Allow
    }
}

impl FromRequestParts<AppState> for OrgScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let header = ["x-organization-id", "x-crewai-organization-id"]
            .iter()
            .find_map(|h| parts.headers.get(*h))
            .map(|v| v.to_str().unwrap_or("").trim().to_owned());
        let memberships = &caller.ctx.memberships;
        let listing = || {
            memberships.iter().map(|m| format!("{} ({})", m.org.id, m.org.name)).collect::<Vec<_>>().join(", ")
        };
        let membership = match header {
            Some(h) => {
                let id: portcullis_domain::OrgId = h.parse().map_err(|_| {
                    ApiError::bad_request("invalid_organization", format!("X-Organization-Id `{h}` is not a UUID"))
                })?;
                match memberships.iter().find(|m| m.org.id == id) {
                    Some(m) => Some(m.clone()),
                    None if caller.ctx.user.factory_admin => None,
                    None => return Err(ApiError::not_found("organization")),
                }
                .map(Ok)
                .unwrap_or_else(|| Err(id))
            }
            None => match memberships.len() {
                1 => Ok(memberships[0].clone()),
                0 => {
                    return Err(ApiError::bad_request(
                        "no_organization",
                        "you are not a member of any organization; ask an owner to add you, or name one with X-Organization-Id",
                    ))
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "organization_required",
                        format!("you belong to several organizations; choose one with the X-Organization-Id header: {}", listing()),
                    ))
                }
            },
        };
        let org = match membership {
            Ok(m) => m.org,
            // A factory-admin acting in an organization they are not a member of.
            Err(id) => state.store.get_org(id).await?.ok_or_else(|| ApiError::not_found("organization"))?,
        };
        let principal = principal_in(&caller.ctx.user, memberships, org.id);
        let mut e = crate::usage::event("api_call", state.clock.now());
        e.org_id = Some(org.id);
        e.user_id = Some(caller.ctx.user.id);
        state.usage.record(e);
        Ok(OrgScope { caller, org, principal })
    }
}
