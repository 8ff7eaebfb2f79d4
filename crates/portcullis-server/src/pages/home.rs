//! `GET /`: the signed-in home page.

use crate::pages;
use crate::session::Caller;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

/// `GET /`: who you are, or the way to sign in.
pub async fn landing(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match Caller::from_headers(&state, &headers).await {
        Ok(c) => c,
        Err(_) => return Redirect::to("/auth/login").into_response(),
    };
    let ctx = &caller.ctx;
    let csrf = caller.csrf_token(&state);
    let ends = crate::timestamps::rfc3339(ctx.session.times.ends_at(&state.config.session));
    pages::landing(&pages::LandingView {
        display_name: &ctx.user.display_name,
        email: &ctx.user.email,
        factory_admin: ctx.user.factory_admin,
        orgs: ctx.memberships.iter().map(|m| pages::OrgRow { name: m.org.name.clone(), role: m.role.name.clone() }).collect(),
        csrf_token: &csrf,
        session_ends: &ends,
    })
}
