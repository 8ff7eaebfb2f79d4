//! `GET /`: the signed-in home page: who you are, your role in each
//! organization, and what needs your attention.

use crate::pages;
use crate::session::{principal_in, Caller};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use portcullis_domain::{decide, Action, AutomationAccess, Decision};
use portcullis_storage::{AuditFilter, StoreError};
use std::time::Duration;

/// How far back failed sign-ins are counted for installation administrators.
const FAILED_SIGN_INS_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// `GET /`: the home page, or the way to sign in.
pub async fn landing(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let caller = match Caller::from_headers(&state, &headers).await {
        Ok(c) => c,
        Err(_) => return Redirect::to("/auth/login").into_response(),
    };
    let attention = match needs_attention(&state, &caller).await {
        Ok(a) => a,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let ctx = &caller.ctx;
    let ends = crate::timestamps::human(ctx.session.times.ends_at(&state.config.session));
    let nav = pages::nav::for_caller(&state, &caller, "/");
    pages::home(
        &nav,
        &pages::HomeView {
            display_name: &ctx.user.display_name,
            email: &ctx.user.email,
            factory_admin: ctx.user.factory_admin,
            orgs: ctx.memberships.iter().map(|m| pages::OrgRow { name: m.org.name.clone(), role: m.role.name.clone() }).collect(),
            attention,
            session_ends: &ends,
        },
    )
}

/// Unhealthy automations the person may see (decided per automation, as
/// the API does), and for installation administrators SAML certificates
/// near their expiry and the failed sign-ins of the last day.
async fn needs_attention(state: &AppState, caller: &Caller) -> Result<Vec<String>, StoreError> {
    let ctx = &caller.ctx;
    let mut out = Vec::new();
    for m in &ctx.memberships {
        let principal = principal_in(&ctx.user, &ctx.memberships, m.org.id);
        for (a, acl) in state.store.list_automations_with_acls(m.org.id).await? {
            let visible = decide(&principal, Action::Automation(&acl, AutomationAccess::View)) == Decision::Allow;
            if visible && a.health.state == "unhealthy" {
                let why = a.health.reason.as_deref().unwrap_or("its health check failed");
                out.push(format!("The automation “{}” in {} is unhealthy: {why}.", a.name, m.org.name));
            }
        }
    }
    if ctx.user.factory_admin {
        let now = state.clock.now();
        // SAML certificates that expire within 30 days, or have.
        for (what, at) in crate::pages::sign_in_settings::saml_certificates(state) {
            let c = crate::pages::sign_in_settings::cert(what, at, now);
            if let Some(w) = c.warning {
                out.push(format!("{}: {w} (expires {}; Sign-in settings lists every certificate).", c.what, c.expires));
            }
        }
        let since = state.clock.now().minus(FAILED_SIGN_INS_WINDOW);
        let filter = AuditFilter { action: Some("login.failure".into()), since: Some(since), limit: 1000, ..Default::default() };
        let failed = state.store.list_audit(&filter).await?.len();
        if failed > 0 {
            let more = if failed >= 1000 { " or more" } else { "" };
            out.push(format!("{failed}{more} failed password sign-ins in the last 24 hours (the audit log has each, with its address)."));
        }
    }
    Ok(out)
}
