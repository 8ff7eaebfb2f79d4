//! The JSON API under `/api/v1`. Every handler resolves the caller first and
//! runs the RBAC decision before it reads or changes anything.

pub mod audit_log;
pub mod automations;
pub mod cli_parameters;
pub mod dashboard;
pub mod env;
pub mod group_rules;
pub mod invitations;
pub mod proxy;
pub mod convert;
pub mod me;
pub mod members;
pub mod openapi;
pub mod orgs;
pub mod roles;

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, Request};
use axum::routing::{delete, get, patch, post};
use axum::Router;
use serde::de::DeserializeOwned;

/// A JSON body whose rejection (malformed JSON, an unknown or missing field,
/// a wrong content type) is reported in the common error format, saying
/// exactly what was wrong.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rej) => Err(ApiError::rejected_json(rej)),
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::me))
        .route("/me/sessions", get(me::sessions))
        .route("/me/sessions/{id}", delete(me::revoke_session))
        .route("/me/cli-logins", get(me::cli_logins))
        .route("/me/cli-logins/{id}", delete(me::end_cli_login))
        .route("/organizations", get(orgs::list).post(orgs::create))
        .route("/users", get(members::list).post(members::create))
        .route("/users/{id}", patch(members::update).delete(members::remove))
        .route("/users/{id}/sessions", delete(members::revoke_sessions))
        .route("/invitations", get(invitations::list).post(invitations::create))
        .route("/invitations/{id}", delete(invitations::remove))
        .route("/admin/users/{id}", delete(members::delete_account))
        .route("/roles", get(roles::list).post(roles::create))
        .route("/group-rules", get(group_rules::get).put(group_rules::put))
        .route("/group-rules/dry-run", post(group_rules::dry_run))
        .route("/roles/{id}", get(roles::get_one).patch(roles::update).delete(roles::remove))
        .route("/automations", get(automations::list).post(automations::create))
        .route("/automations/{id}", get(automations::get_one).patch(automations::update).delete(automations::remove))
        .route("/automations/{id}/inputs", get(proxy::inputs))
        .route("/automations/{id}/kickoff", post(proxy::kickoff))
        .route("/automations/{id}/status/{kickoff_id}", get(proxy::status))
        .route("/automations/{id}/executions", get(proxy::executions))
        .route("/env", get(env::list).put(env::put))
        .route("/env/{id}", delete(env::remove))
        .route("/env/{id}/value", get(env::value))
        .route("/usage", get(dashboard::usage))
        .route("/dashboard/automations", get(dashboard::automations))
        .route("/automations/{id}/access", get(automations::get_access).put(automations::put_access))
        .route("/audit", get(audit_log::query))
        .route("/scim/tokens", get(crate::scim::tokens::list).post(crate::scim::tokens::create))
        .route("/scim/tokens/{id}", delete(crate::scim::tokens::revoke))
        .route("/openapi.json", get(openapi::document))
}

/// Parses a path id, with a message naming what was expected.
pub fn parse_id<T: std::str::FromStr>(what: &str, raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::bad_request("invalid_id", format!("`{raw}` is not a valid {what} id (a UUID)")))
}
