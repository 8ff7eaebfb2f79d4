//! Invitations (`/api/v1/invitations`): memberships that wait for the person
//! invited to accept them (see `auth::invite` for how they are accepted).

use crate::error::{Created, NoContent};
use super::{convert, parse_id, Json};
use crate::audit::{self, Entry};
use crate::session::OrgScope;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Path, State};
use portcullis_api as api;
use portcullis_domain::{validation, Action, Feature, Level, RoleId, RoleKind};
use portcullis_storage::{Invitation, NewInvitation};

fn info(inv: &Invitation, invite_url: Option<String>, ended: Option<String>) -> api::InvitationInfo {
    api::InvitationInfo {
        id: inv.id,
        email: inv.email.clone(),
        role: convert::role(&inv.role),
        invited_by: inv.invited_by.0,
        created_at: convert::rfc3339(inv.created_at),
        expires_at: convert::rfc3339(inv.expires_at),
        accepted_by: if inv.has_link { "link" } else { "first_sign_in" }.into(),
        invite_url,
        ended,
    }
}

/// `POST /api/v1/invitations` (the RBAC decision `Invite`: `invitations:
/// manage`, `organization_settings: manage` for a role other than Member,
/// an owner for Owner). With `local` a provider, the answer carries the
/// one-time link; without, the invitation takes effect at the person's first
/// sign-in through the identity provider.
pub async fn create(State(state): State<AppState>, scope: OrgScope, Json(body): Json<api::CreateInvitation>) -> ApiResult<Created<axum::Json<api::InvitationInfo>>> {
    Ok(Created(axum::Json(invite(&state, &scope, body).await?)))
}

/// Invites someone (the API's `POST` and the Members page's Invite); the
/// answer carries the one-time link where `local` is a provider.
pub async fn invite(state: &AppState, scope: &OrgScope, body: api::CreateInvitation) -> ApiResult<api::InvitationInfo> {
    let role = match body.role_id {
        None => state.store.get_predefined_role(scope.org.id, RoleKind::Member).await?,
        Some(id) => state.store.get_role(scope.org.id, RoleId(id)).await?.ok_or_else(|| {
            ApiError::bad_request("unknown_role", format!("role {id} does not exist in this organization; GET /api/v1/roles lists them"))
        })?,
    };
    scope.authorize(Action::Invite(role.kind), &format!("an invitation to the {} role", role.name))?;
    let email = validation::email(&body.email)?;
    if state.store.list_members(scope.org.id).await?.iter().any(|m| m.user.email.eq_ignore_ascii_case(&email)) {
        return Err(ApiError::conflict("already_member", format!("{email} is a member of this organization already; change their role with PATCH /api/v1/users/<id>")));
    }
    let with_link = state.config.sso.local;
    if !with_link && crate::signin::role_mapping::governed_orgs(state).await?.contains(&scope.org.id) {
        return Err(ApiError::conflict(
            "governed_by_role_mapping",
            format!("memberships in {} follow the identity provider's groups (its group-to-role rules); give {email} a group the rules name at the identity provider instead", scope.org.name),
        ));
    }
    let token = with_link.then(crate::keys::random_token);
    let now = state.clock.now();
    let actor = &scope.caller.ctx.user;
    let inv = state
        .store
        .create_invitation(&NewInvitation {
            id: uuid::Uuid::new_v4(),
            org_id: scope.org.id,
            email: email.clone(),
            role_id: role.id,
            invited_by: actor.id,
            token_hash: token.as_deref().map(crate::keys::token_hash),
            created_at: now,
            expires_at: now.plus(crate::signin::invite::LIFETIME),
        })
        .await
        .map_err(|e| match e {
            portcullis_storage::StoreError::Conflict { .. } => {
                ApiError::conflict("already_invited", format!("{email} has a pending invitation to this organization; withdraw it first (DELETE /api/v1/invitations/<id>) to send another"))
            }
            e => e.into(),
        })?;
    audit::record(
        state,
        Entry::new("invitation.create", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("invitation:{}", inv.id)).detail(serde_json::json!({ "email": email, "role": role.name, "link": with_link })),
    )
    .await;
    let url = token.map(|t| state.config.public(&format!("/invite?token={t}")));
    Ok(info(&inv, url, None))
}

/// `GET /api/v1/invitations` (needs `invitations: read`): pending ones, each
/// saying whether it has ended because its sender may no longer invite.
pub async fn list(State(state): State<AppState>, scope: OrgScope) -> ApiResult<axum::Json<Vec<api::InvitationInfo>>> {
    Ok(axum::Json(pending(&state, &scope).await?))
}

/// The pending invitations (needs `invitations: read`).
pub async fn pending(state: &AppState, scope: &OrgScope) -> ApiResult<Vec<api::InvitationInfo>> {
    scope.authorize(Action::Feature(Feature::Invitations, Level::Read), "invitations")?;
    let mut out = Vec::new();
    for inv in state.store.list_invitations(scope.org.id, state.clock.now()).await? {
        let ended = crate::signin::invite::still_valid(state, &inv).await?.err();
        out.push(info(&inv, None, ended));
    }
    Ok(out)
}

/// `DELETE /api/v1/invitations/{id}` (needs `invitations: manage`).
pub async fn remove(State(state): State<AppState>, scope: OrgScope, Path(id): Path<String>) -> ApiResult<NoContent> {
    withdraw(&state, &scope, &id).await.map(|_| NoContent)
}

/// Withdraws a pending invitation (needs `invitations: manage`).
pub async fn withdraw(state: &AppState, scope: &OrgScope, id: &str) -> ApiResult<()> {
    scope.authorize(Action::Feature(Feature::Invitations, Level::Manage), "invitations")?;
    let id: uuid::Uuid = parse_id("invitation", id)?;
    if !state.store.delete_invitation(scope.org.id, id).await? {
        return Err(ApiError::not_found("invitation"));
    }
    let actor = &scope.caller.ctx.user;
    audit::record(state, Entry::new("invitation.withdraw", true).org(scope.org.id).actor(actor.id, &actor.email).target(format!("invitation:{id}"))).await;
    Ok(())
}
