//! Members of an organization (users, for the `local` provider).

use crate::error::{Status, Created, NoContent};
use super::{convert, parse_id, Json};
use crate::audit::{self, Entry};
use crate::session::OrgScope;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use portcullis_api as api;
use portcullis_domain::{validation, Action, Feature, Level, RoleId, RoleKind, UserId};
use portcullis_storage::{Member, NewUser};

/// Whether the caller may change a member who holds (or give someone) a
/// role of `kind`: the domain's decision, which pages also ask.
fn may_manage(scope: &OrgScope, kind: RoleKind) -> bool {
    scope.allows(Action::ManageMember(kind))
}

fn owners_only() -> ApiError {
    ApiError::new(Status::Forbidden, "forbidden", "only an owner of the organization can change an owner or make someone an owner")
}

/// Disabling, enabling and signing out act on the whole account, across
/// organizations: allowed for a factory-admin, or when the account belongs
/// to this organization only; never on a factory-admin by someone who is not.
async fn ensure_account_wide(state: &AppState, scope: &OrgScope, target: &Member) -> ApiResult<()> {
    if scope.principal.factory_admin {
        return Ok(());
    }
    if target.user.factory_admin {
        return Err(ApiError::new(Status::Forbidden, "forbidden", "this account is an installation administrator (factory-admin); only another factory-admin can disable it or end its sessions"));
    }
    let orgs = state.store.list_memberships(target.user.id).await?;
    if orgs.iter().any(|m| m.org.id != scope.org.id) {
        return Err(ApiError::new(
            Status::Forbidden,
            "forbidden",
            "this account also belongs to other organizations, so disabling it or ending its sessions would reach beyond this one; ask a factory-admin, or remove the member from this organization instead",
        ));
    }
    Ok(())
}

async fn target_member(state: &AppState, scope: &OrgScope, raw: &str) -> ApiResult<Member> {
    let id: UserId = parse_id("user", raw)?;
    state.store.get_member(scope.org.id, id).await?.ok_or_else(|| ApiError::not_found("member"))
}

async fn role_in_org(state: &AppState, scope: &OrgScope, id: uuid::Uuid) -> ApiResult<portcullis_domain::Role> {
    state.store.get_role(scope.org.id, RoleId(id)).await?.ok_or_else(|| {
        ApiError::bad_request("unknown_role", format!("role {id} does not exist in this organization; GET /api/v1/roles lists them"))
    })
}

/// `GET /api/v1/users` (needs `invitations: read`).
pub async fn list(State(state): State<AppState>, scope: OrgScope) -> ApiResult<axum::Json<Vec<api::MemberInfo>>> {
    scope.authorize(Action::Feature(Feature::Invitations, Level::Read), "members")?;
    let members = state.store.list_members(scope.org.id).await?;
    Ok(axum::Json(members.iter().map(convert::member).collect()))
}

/// `POST /api/v1/users`: a new local account with the password an
/// administrator chose (the RBAC decision `Invite` for its role). Only
/// where `local` is a provider; nobody else's account is ever added this
/// way: existing accounts, and people who should choose their own
/// password, are invited (`POST /api/v1/invitations`) and join when they accept.
pub async fn create(
    State(state): State<AppState>,
    scope: OrgScope,
    Json(body): Json<api::CreateUser>,
) -> ApiResult<Created<axum::Json<api::MemberInfo>>> {
    let role = match body.role_id {
        None => state.store.get_predefined_role(scope.org.id, RoleKind::Member).await?,
        Some(id) => role_in_org(&state, &scope, id).await?,
    };
    scope.authorize(Action::Invite(role.kind), &format!("an account with the {} role", role.name))?;
    if !state.config.sso.local {
        return Err(ApiError::conflict(
            "local_sign_in_disabled",
            "password sign-in is off on this server (`local` is not a provider), so accounts come from the identity provider; invite the person with POST /api/v1/invitations and they join at their first sign-in",
        ));
    }
    let email = validation::email(&body.email)?;
    let Some(password) = &body.password else {
        return Err(ApiError::bad_request("password_required", format!("give `password` for the new account, or invite {email} with POST /api/v1/invitations to let them choose their own")));
    };
    validation::new_password(password)?;
    let display_name = match body.display_name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(n) => validation::name("display_name", n)?,
        None => email.split('@').next().unwrap_or_default().to_owned(),
    };
    if state.store.find_local_user_by_email(&email).await?.is_some() {
        return Err(ApiError::conflict(
            "conflict",
            format!("{email} has an account already; invite it with POST /api/v1/invitations, and it joins when its owner accepts"),
        ));
    }
    let hash = state.passwords.hash(password.clone()).await.map_err(|e| ApiError::new(Status::Unavailable, "busy", e))?;
    let now = state.clock.now();
    let user = state
        .store
        .create_user(NewUser { email: email.clone(), display_name, password_hash: Some(hash), factory_admin: false }, now)
        .await?;
    if let Err(e) = state.store.create_member(scope.org.id, user.id, role.id, now).await {
        let _ = state.store.delete_user(user.id).await;
        return Err(e.into());
    }
    let actor = &scope.caller.ctx.user;
    audit::record(&state, Entry::new("user.create", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("user:{}", user.id)).detail(serde_json::json!({ "email": email, "role": role.name }))).await;
    let member = state.store.get_member(scope.org.id, user.id).await?.ok_or_else(|| ApiError::not_found("member"))?;
    Ok(Created(axum::Json(convert::member(&member))))
}

/// `PATCH /api/v1/users/{id}`: change the role, or disable / enable the
/// account (needs `organization_settings: manage`).
pub async fn update(
    State(state): State<AppState>,
    scope: OrgScope,
    Path(id): Path<String>,
    Json(body): Json<api::UpdateMember>,
) -> ApiResult<axum::Json<api::MemberInfo>> {
    Ok(axum::Json(convert::member(&change(&state, &scope, &id, body).await?)))
}

/// Changes a member's role and/or disables or enables the account (the
/// API's `PATCH` and the Members page).
pub async fn change(state: &AppState, scope: &OrgScope, id: &str, body: api::UpdateMember) -> ApiResult<Member> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "members")?;
    let target = target_member(state, scope, id).await?;
    if body.role_id.is_none() && body.disabled.is_none() {
        return Err(ApiError::bad_request("empty_update", "nothing to change: send role_id and/or disabled"));
    }
    if !may_manage(scope, target.role.kind) {
        return Err(owners_only());
    }
    let now = state.clock.now();
    let actor = &scope.caller.ctx.user;
    // Every check before any write, so that a refused request changes nothing.
    if body.disabled == Some(true) && target.user.id == actor.id {
        return Err(ApiError::bad_request("self_disable", "you cannot disable your own account; ask another owner"));
    }
    if body.disabled.is_some() {
        ensure_account_wide(state, scope, &target).await?;
    }
    let new_role = match body.role_id {
        Some(role_id) => {
            let role = role_in_org(state, scope, role_id).await?;
            if !may_manage(scope, role.kind) {
                return Err(owners_only());
            }
            Some(role)
        }
        None => None,
    };
    if let Some(role) = new_role {
        state.store.update_member_role(scope.org.id, target.user.id, role.id, now).await?;
        audit::record(state, Entry::new("member.role_change", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("user:{}", target.user.id)).detail(serde_json::json!({ "from": target.role.name, "to": role.name }))).await;
    }
    if let Some(disabled) = body.disabled {
        state.store.update_user_disabled(target.user.id, disabled, now).await?;
        if disabled {
            state.store.revoke_user_sessions(target.user.id, now).await?;
            state.store.revoke_user_refresh_tokens(target.user.id, now).await?;
            crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserTokens(target.user.id));
        }
        audit::record(state, Entry::new(if disabled { "user.disable" } else { "user.enable" }, true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("user:{}", target.user.id))).await;
    }
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserSessions(target.user.id));
    state.store.get_member(scope.org.id, target.user.id).await?.ok_or_else(|| ApiError::not_found("member"))
}

/// `DELETE /api/v1/users/{id}`: removes the member from the organization
/// (needs `organization_settings: manage`; the last owner stays).
pub async fn remove(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<NoContent> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "members")?;
    let target = target_member(&state, &scope, &id).await?;
    if !may_manage(&scope, target.role.kind) {
        return Err(owners_only());
    }
    state.store.delete_member(scope.org.id, target.user.id, state.clock.now()).await?;
    crate::invalidation::broadcast(&state, crate::invalidation::Invalidation::UserSessions(target.user.id));
    crate::invalidation::broadcast(&state, crate::invalidation::Invalidation::AllAutomations);
    let actor = &scope.caller.ctx.user;
    audit::record(&state, Entry::new("member.remove", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("user:{}", target.user.id))).await;
    Ok(NoContent)
}

/// `DELETE /api/v1/users/{id}/sessions`: signs the member out everywhere,
/// browser sessions and CLI logins (needs `organization_settings: manage`).
pub async fn revoke_sessions(
    State(state): State<AppState>,
    scope: OrgScope,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<api::RevokedSessions>> {
    Ok(axum::Json(api::RevokedSessions { revoked: sign_out_everywhere(&state, &scope, &id).await? }))
}

/// Ends every browser session and CLI login of a member (the API's
/// `DELETE .../sessions` and the Members page); how many sessions ended.
pub async fn sign_out_everywhere(state: &AppState, scope: &OrgScope, id: &str) -> ApiResult<u64> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "members")?;
    let target = target_member(state, scope, id).await?;
    if !may_manage(scope, target.role.kind) {
        return Err(owners_only());
    }
    ensure_account_wide(state, scope, &target).await?;
    let revoked = state.store.revoke_user_sessions(target.user.id, state.clock.now()).await?;
    // CLI logins too: their refresh tokens, and access tokens cached here.
    state.store.revoke_user_refresh_tokens(target.user.id, state.clock.now()).await?;
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserTokens(target.user.id));
    crate::invalidation::broadcast(state, crate::invalidation::Invalidation::UserSessions(target.user.id));
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("session.revoke_all", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("user:{}", target.user.id)).detail(serde_json::json!({ "revoked": revoked }))).await;
    Ok(revoked)
}

/// `DELETE /api/v1/admin/users/{id}` (factory-admin): deletes the account
/// everywhere, with its sessions, memberships and grants. Refused while it
/// is the last owner of an organization.
pub async fn delete_account(State(state): State<AppState>, caller: crate::session::Caller, Path(id): Path<String>) -> ApiResult<NoContent> {
    let actor = &caller.ctx.user;
    let principal = portcullis_domain::Principal { user_id: actor.id, factory_admin: actor.factory_admin, org: None };
    if let portcullis_domain::Decision::Deny(d) = portcullis_domain::decide(&principal, Action::InstallationAdmin) {
        return Err(ApiError::forbidden(d));
    }
    let id: UserId = parse_id("user", &id)?;
    if id == actor.id {
        return Err(ApiError::bad_request("self_delete", "you cannot delete your own account; ask another factory-admin"));
    }
    let user = state.store.get_user(id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    state.store.delete_user(id).await?;
    crate::invalidation::broadcast(&state, crate::invalidation::Invalidation::UserSessions(id));
    crate::invalidation::broadcast(&state, crate::invalidation::Invalidation::AllAutomations);
    audit::record(&state, Entry::new("user.delete", true).actor(actor.id, &actor.email).target(format!("user:{id}")).detail(serde_json::json!({ "email": user.email }))).await;
    Ok(NoContent)
}
