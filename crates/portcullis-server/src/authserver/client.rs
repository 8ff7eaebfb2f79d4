//! What the token and device endpoints check of every request: the public
//! client (RFC 8628 §3.4: no secret) and the scope it asks for.

use super::{oauth_error, SCOPES};
use crate::state::AppState;
use axum::response::Response;
use std::collections::HashMap;

/// The scope granted when the client names none.
const DEFAULT_SCOPE: &str = "openid profile email offline_access";

/// Checks a requested scope against what the authority grants.
pub fn checked_scope(requested: Option<&str>) -> Result<String, Response> {
    let Some(req) = requested.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(DEFAULT_SCOPE.into()) };
    let mut granted: Vec<&str> = Vec::new();
    for s in req.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&s) {
            return Err(oauth_error("invalid_scope",
                format!("scope `{}` is not offered by this server; ask for some of: {}", s.chars().take(60).collect::<String>(), SCOPES.join(" ")),
            ));
        }
        if !granted.contains(&s) {
            granted.push(s);
        }
    }
    // Refresh tokens are what the CLI keeps; they are always issued.
    if !granted.contains(&"offline_access") {
        granted.push("offline_access");
    }
    Ok(granted.join(" "))
}

/// Checks the public client's id (there is no secret: RFC 8628 §3.4).
pub fn check_client(state: &AppState, form: &HashMap<String, String>) -> Result<String, Response> {
    let ours = &state.config.local_auth.client_id;
    match form.get("client_id") {
        Some(id) if id == ours => Ok(id.clone()),
        Some(other) => Err(oauth_error("invalid_client",
            format!("client_id `{}` is not this server's CLI client (`{ours}`); run `portcullis enterprise configure` again", other.chars().take(60).collect::<String>()),
        )),
        None => Err(oauth_error("invalid_request", "client_id is missing")),
    }
}
