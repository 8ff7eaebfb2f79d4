//! `GET /auth/parameters`: the CLI wire contract's configuration answer (§1).

use crate::idp::vendors::VendorOf;

/// `GET /auth/parameters`: what a CLI needs to configure its device login
/// (the CLI wire contract, §1), from this server's environment: the external
/// provider's device client, or this server's own authorization server when
/// `local` is a provider. Without either, 404 naming the variable to set.
pub async fn cli_parameters(axum::extract::State(state): axum::extract::State<crate::state::AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match parameters(&state) {
        Ok(v) => axum::Json(v).into_response(),
        Err(message) => crate::error::ApiError::new(crate::error::Status::NotFound, "device_login_not_configured", message).into_response(),
    }
}

/// What `/auth/parameters` hands out, or why CLI login is not configured
/// (the variable to set); also shown on Sign-in settings.
pub fn parameters(state: &crate::state::AppState) -> Result<serde_json::Value, String> {
    let not_found = |message: String| Err(message);
    let external = state.config.sso.providers.first();
    // An external provider with a device client comes first; otherwise the
    // `local` provider's own authorization server, in the WorkOS layout
    // (wire contract §2: `https://{domain}/oauth2/...`, issuer `https://{domain}`).
    if state.config.sso.local && external.is_none_or(|p| p.device_client_id.is_none()) {
        let issuer = crate::authserver::issuer(state);
        let domain = issuer.split_once("://").map(|(_, rest)| rest.to_owned()).unwrap_or(issuer);
        return Ok(serde_json::json!({
            "provider": "workos",
            "domain": domain,
            "device_authorization_client_id": state.config.local_auth.client_id,
            "audience": crate::authserver::audience(state),
            "extra": {},
        }));
    }
    let Some(p) = external else {
        return not_found("no way of signing in is configured".into());
    };
    let var = format!("{}_DEVICE_AUTHORIZATION_CLIENT_ID", p.provider.to_ascii_uppercase());
    let Some(client_id) = &p.device_client_id else {
        return not_found(format!(
            "CLI login is not configured: set {var} on the server to the public client that has the Device Authorization Grant enabled in {} (for Okta a Native Application, for Entra ID with \"Allow public client flows\", for Keycloak with Client authentication off)",
            p.vendor().display_name()
        ));
    };
    if let Some(why) = p.vendor().cli_not_ready(p) {
        return not_found(why);
    }
    Ok(serde_json::json!({
        "provider": p.provider,
        "domain": p.cli_domain,
        "device_authorization_client_id": client_id,
        "audience": p.audience,
        "extra": p.cli_extra,
    }))
}
