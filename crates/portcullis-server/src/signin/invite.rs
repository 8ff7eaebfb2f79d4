//! Accepting an invitation. Nobody joins an organization without consent,
//! and passwords exist only where `local` is a provider:
//!
//! - With `local`, an invitation is a one-time link (`/invite?token=`). A
//!   new address chooses a password there; an existing account signs in as
//!   the invited address and presses Join.
//! - Without `local`, an invitation has no link: it takes effect at the
//!   person's first sign-in through the identity provider with that
//!   address, unless the IdP says the address is unverified
//!   ([`apply_at_sign_in`]). No password is ever set.
//!
//! Either way the invitation is checked again when it is accepted: it ends
//! when the person who sent it may no longer invite to its role
//! ([`still_valid`], the RBAC decision on them as they are now).

use crate::error::Status;
use super::complete::Success;
use crate::session::{form_cookie, verify_form_csrf, with_cookie, ClientIp};
use crate::session::Caller;
use crate::audit::{self, Entry};
use crate::error::ApiError;
use crate::keys::token_hash;
use crate::pages;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use portcullis_domain::{decide, validation, Action, Decision};
use portcullis_storage::{Invitation, Invitee, StoreError, User};
use serde::Deserialize;
use std::time::Duration;

/// How long an invitation stays valid.
pub const LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Whether the invitation may still be accepted: the person who sent it
/// must still be allowed to invite to its role. `Err` says why not.
pub async fn still_valid(state: &AppState, inv: &Invitation) -> Result<Result<(), String>, StoreError> {
    let Some(inviter) = state.store.get_user(inv.invited_by).await? else {
        return Ok(Err("the person who sent it no longer has an account".into()));
    };
    if inviter.is_disabled() {
        return Ok(Err(format!("{} who sent it is disabled", inviter.email)));
    }
    let memberships = state.store.list_memberships(inviter.id).await?;
    let principal = crate::session::principal_in(&inviter, &memberships, inv.org_id);
    Ok(match decide(&principal, Action::Invite(inv.role.kind)) {
        Decision::Allow => Ok(()),
        Decision::Deny(d) => {
            crate::telemetry::rbac_denied(&d);
            Err(format!("{} who sent it may no longer invite to the {} role ({d})", inviter.email, inv.role.name))
        }
        Decision::NotFound => Err(format!("{} who sent it may no longer invite", inviter.email)),
    })
}

/// Applies the link-less invitations waiting for `user`'s address, at an
/// IdP sign-in, in the organizations whose memberships no group-to-role
/// rules govern (there, the IdP decides).
pub async fn apply_at_sign_in(state: &AppState, user: &User) -> Result<(), StoreError> {
    let now = state.clock.now();
    let pending = state.store.list_invitations_for_email(&user.email, now).await?;
    if pending.iter().all(|i| i.has_link) {
        return Ok(());
    }
    let mapped = crate::signin::role_mapping::governed_orgs(state).await?;
    for inv in pending.into_iter().filter(|i| !i.has_link && !mapped.contains(&i.org_id)) {
        if let Err(why) = still_valid(state, &inv).await? {
            tracing::info!(invitation = %inv.id, %why, "an invitation that ended was not applied");
            continue;
        }
        if state.store.consume_invitation(inv.id, &Invitee::Account(user.id), now).await?.is_some() {
            audit::record(
                state,
                Entry::new("invitation.accept", true).org(inv.org_id).actor(user.id, &user.email).target(format!("invitation:{}", inv.id)).detail(serde_json::json!({ "role": inv.role.name, "at": "first_sign_in" })),
            )
            .await;
        }
    }
    Ok(())
}

fn invalid_link(state: &AppState) -> Response {
    let sign_in = if state.config.sso.local { "/auth/local/login" } else { "/auth/login" };
    pages::message(
        Status::NotFound,
        "Invitation not valid",
        "This invitation link is unknown, expired (links last 7 days), withdrawn or already used. Ask an administrator of the organization for a new one.",
        Some((sign_in, "Sign in")),
    )
}

fn ended(why: &str) -> Response {
    pages::message(
        Status::Gone,
        "Invitation ended",
        &format!("This invitation can no longer be accepted: {why}. Ask another administrator of the organization to invite you again."),
        Some(("/", "Home")),
    )
}

#[derive(Deserialize)]
pub struct InviteQuery {
    #[serde(default)]
    token: String,
}

/// The link's invitation, if it may be accepted; otherwise the page to show.
async fn open_link(state: &AppState, token: &str) -> Result<(Invitation, String), Response> {
    let inv = match state.store.find_invitation_by_token(&token_hash(token), state.clock.now()).await {
        Ok(Some(i)) => i,
        Ok(None) => return Err(invalid_link(state)),
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    match still_valid(state, &inv).await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return Err(ended(&why)),
        Err(e) => return Err(ApiError::from(e).into_response()),
    }
    let org = match state.store.get_org(inv.org_id).await {
        Ok(Some(o)) => o.name,
        Ok(None) => return Err(invalid_link(state)),
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    Ok((inv, org))
}

/// What accepting means for this browser: choose a password (a new local
/// address, or a local account without one), or join as the signed-in account.
enum Way {
    ChoosePassword(Option<User>),
    Join(Caller),
    SignInFirst,
    WrongAccount(String),
}

async fn way(state: &AppState, headers: &HeaderMap, inv: &Invitation) -> Result<Way, Response> {
    let account = state.store.find_local_user_by_email(&inv.email).await.map_err(|e| ApiError::from(e).into_response())?;
    let caller = Caller::from_headers(state, headers).await.ok();
    Ok(match (account, caller) {
        (Some(u), _) if u.password_hash.is_none() => Way::ChoosePassword(Some(u)),
        (None, None) => Way::ChoosePassword(None),
        (_, Some(c)) if c.ctx.user.email.eq_ignore_ascii_case(&inv.email) => Way::Join(c),
        (_, Some(c)) => Way::WrongAccount(c.ctx.user.email.clone()),
        (Some(_), None) => Way::SignInFirst,
        // Signed-in IdP users are matched above by address; a local account
        // for the address would be a second one.
    })
}

/// `GET /invite?token=`.
pub async fn invite_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<InviteQuery>) -> Response {
    if !state.config.sso.local {
        return invalid_link(&state);
    }
    let (inv, org) = match open_link(&state, &q.token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (binding, set) = form_cookie(&state, &headers);
    let csrf = state.keys.csrf_token("form", &binding);
    let view = |join: bool| pages::InviteView { csrf_token: &csrf, token: &q.token, email: &inv.email, org: &org, role: &inv.role.name, join, error: None };
    let resp = match way(&state, &headers, &inv).await {
        Err(r) => return r,
        Ok(Way::ChoosePassword(_)) => pages::invite(Status::Ok, &view(false)),
        Ok(Way::Join(_)) => pages::invite(Status::Ok, &view(true)),
        Ok(Way::SignInFirst) => {
            let back = format!("/invite?token={}", q.token);
            let to = format!("/auth/local/login?{}", serde_urlencoded::to_string([("return_to", back.as_str())]).unwrap_or_default());
            return Redirect::to(&to).into_response();
        }
        Ok(Way::WrongAccount(you)) => pages::message(
            Status::Forbidden,
            "Invitation for another address",
            &format!("This invitation is for {}, and you are signed in as {you}. Sign out, then open the link again and sign in as {}.", inv.email, inv.email),
            Some(("/", "Home")),
        ),
    };
    with_cookie(resp, set)
}

#[derive(Deserialize)]
pub struct InviteSubmit {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// `POST /invite`: accepts (choosing a password, or joining as the signed-in account).
pub async fn invite_submit(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, Form(f): Form<InviteSubmit>) -> Response {
    if !state.config.sso.local {
        return invalid_link(&state);
    }
    let (inv, org) = match open_link(&state, &f.token).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (binding, _) = form_cookie(&state, &headers);
    let again = |status: Status, msg: &str, join: bool| {
        let csrf = state.keys.csrf_token("form", &binding);
        pages::invite(status, &pages::InviteView { csrf_token: &csrf, token: &f.token, email: &inv.email, org: &org, role: &inv.role.name, join, error: Some(msg) })
    };
    let way = match way(&state, &headers, &inv).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if !verify_form_csrf(&state, &headers, &f.csrf_token) {
        return again(Status::Forbidden, "This form expired or was not sent from this site. Fill it in again.", matches!(way, Way::Join(_)));
    }
    let now = state.clock.now();
    let who = match &way {
        Way::Join(c) => Invitee::Account(c.ctx.user.id),
        Way::ChoosePassword(existing) => {
            if let Err(e) = validation::new_password(&f.password) {
                return again(Status::BadRequest, &e.to_string(), false);
            }
            if f.password != f.password_confirm {
                return again(Status::BadRequest, "The two passwords differ. Type the same password twice.", false);
            }
            let hash = match state.passwords.hash(f.password.clone()).await {
                Ok(h) => h,
                Err(e) => return ApiError::new(Status::Unavailable, "busy", e).into_response(),
            };
            match existing {
                Some(u) => Invitee::SetPassword { user: u.id, password_hash: hash },
                None => Invitee::NewLocal { display_name: inv.email.split('@').next().unwrap_or_default().to_owned(), password_hash: hash },
            }
        }
        Way::SignInFirst | Way::WrongAccount(_) => return again(Status::Forbidden, &format!("Sign in as {} first, then open the link again.", inv.email), false),
    };
    // Uses the invitation and joins (and sets up the account) in one transaction.
    let user_id = match state.store.consume_invitation(inv.id, &who, now).await {
        Ok(Some(u)) => u,
        Ok(None) => return invalid_link(&state),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let user = match state.store.get_user(user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return invalid_link(&state),
        Err(e) => return ApiError::from(e).into_response(),
    };
    crate::invalidation::broadcast(&state, crate::invalidation::Invalidation::UserSessions(user.id));
    audit::record(
        &state,
        Entry::new("invitation.accept", true).org(inv.org_id).actor(user.id, &user.email).target(format!("invitation:{}", inv.id)).ip(ip.clone()).detail(serde_json::json!({ "role": inv.role.name, "at": "link" })),
    )
    .await;
    if user.is_disabled() {
        return pages::message(Status::Forbidden, "Account disabled", "You joined, but this account is disabled. Ask an owner of the organization to enable it.", None);
    }
    if let Way::Join(_) = way {
        let resp = Redirect::to("/").into_response();
        return resp;
    }
    let success = Success { user: &user, provider: "local", ip, idp_session: None, login_audit: None, return_to: "/", also_set: vec![] };
    super::complete::complete(&state, &headers, success).await.unwrap_or_else(|e| e.respond("local", "", &headers))
}
