//! Device authorization (RFC 8628 §3.1–3.3): the CLI asks for a code, the
//! person approves it on `/device` while signed in to Portcullis.

use crate::error::Status;
use super::client::checked_scope;
use super::{disabled, oauth_error, parse_form};
use crate::audit::{self, Entry};
use crate::session::ClientIp;
use crate::session::{check_same_origin, Caller};
use crate::keys::{random_token, token_hash};
use crate::pages;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use portcullis_domain::device::{display_user_code, normalize_user_code, user_code};
use portcullis_storage::{NewDeviceAuthorization, StoreError};
use rand::RngCore;

/// `POST /oauth2/device_authorization`.
pub async fn authorize(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = disabled(&state) {
        return r;
    }
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = super::client::check_client(&state, &form) {
        return r;
    }
    let c = &state.config.local_auth;
    if let Some(aud) = form.get("audience").filter(|a| !a.is_empty()) {
        let ours = super::audience(&state);
        if *aud != ours {
            return oauth_error("invalid_target",
                format!("audience `{}` is not this server's API (expected `{ours}`); run `portcullis enterprise configure` again", aud.chars().take(120).collect::<String>()),
            );
        }
    }
    let scope = match checked_scope(form.get("scope").map(String::as_str)) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let address = ip.as_deref().and_then(|i| i.parse().ok()).map(portcullis_domain::address_key).unwrap_or_else(|| "unknown".into());
    if let Err(retry) = state.oauth.device_requests.hit(&address) {
        return crate::error::oauth::throttled(format!("too many login requests from this address; try again in {} s", retry.as_secs().max(1)), retry.as_secs());
    }
    let now = state.clock.now();
    let device_code = random_token();
    // A user code already in use (possible, if unlikely) is drawn again.
    for _ in 0..5 {
        let code = user_code(|| rand::rngs::OsRng.next_u32() as u8);
        let new = NewDeviceAuthorization {
            device_code_hash: token_hash(&device_code),
            user_code: code.clone(),
            client_id: c.client_id.clone(),
            scope: scope.clone(),
            interval_secs: c.device.interval.as_secs() as i64,
            client_ip: ip.clone(),
            created_at: now,
            expires_at: now.plus(c.device.expires_in),
        };
        match state.store.create_device_authorization(&new).await {
            Ok(()) => {
                let shown = display_user_code(&code);
                let uri = state.config.public("/device");
                let complete = format!("{uri}?{}", serde_urlencoded::to_string([("user_code", shown.as_str())]).unwrap_or_default());
                let mut r = Json(serde_json::json!({
                    "device_code": device_code,
                    "user_code": shown,
                    "verification_uri": uri,
                    "verification_uri_complete": complete,
                    "expires_in": c.device.expires_in.as_secs(),
                    "interval": c.device.interval.as_secs(),
                }))
                .into_response();
                r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
                return r;
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return crate::error::ApiError::from(e).into_response(),
        }
    }
    crate::error::ApiError::internal("five user codes in a row were taken").into_response()
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    user_code: Option<String>,
}

fn entry_form(error: Option<&str>, typed: &str) -> String {
    format!(
        "<h1>Connect a device</h1>{err}<p>Enter the code your terminal shows (for example <code>BCDF-GHJK</code>).</p>\
         <form method=\"get\" action=\"/device\"><label for=\"user_code\">Code</label>\
         <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" required value=\"{v}\">\
         <button type=\"submit\">Continue</button></form>",
        err = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", text(e))).unwrap_or_default(),
        v = attr(typed),
    )
}

/// Wrong user codes allowed per session, account and client address in
/// [`WRONG_CODE_WINDOW`] (RFC 8628 §5.1: user codes are short, so guessing
/// must be limited). Counted in the database, so the limit holds across
/// replicas, and for `GET` and `POST /device` alike.
const WRONG_CODES: i64 = 10;
const WRONG_CODE_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

/// The keys of the wrong-code limit: this session, this account, this address (IPv6 by /64).
fn limiter_keys(caller: &Caller, ip: &Option<String>) -> [String; 3] {
    let address = ip.as_deref().and_then(|i| i.parse().ok()).map(portcullis_domain::address_key).unwrap_or_else(|| "unknown".into());
    [format!("device-code:session:{}", caller.ctx.session.id), format!("device-code:user:{}", caller.ctx.user.id), format!("device-code:address:{address}")]
}

fn too_many(retry: std::time::Duration) -> Response {
    let mut r = pages::message(
        Status::TooManyRequests,
        "Too many wrong codes",
        &format!("Several codes entered from this session, account or address did not exist. Wait {} minutes, then type the code exactly as your terminal shows it.", retry.as_secs().div_ceil(60).max(1)),
        None,
    );
    r.headers_mut().insert(axum::http::header::RETRY_AFTER, retry.as_secs().max(1).into());
    r
}

/// The login waiting for `code`, for `GET` and `POST /device` alike. Each
/// lookup is counted as a wrong code on every limiter key before it is
/// made, and given back when the code turns out to exist, so parallel
/// guesses cannot pass the limit together.
async fn pending_code(state: &AppState, caller: &Caller, ip: &Option<String>, code: &str) -> Result<portcullis_storage::DeviceAuthorization, Response> {
    let now = state.clock.now();
    let window = WRONG_CODE_WINDOW.as_millis() as i64;
    let mut hits = Vec::new();
    let mut over: Option<std::time::Duration> = None;
    for key in limiter_keys(caller, ip) {
        let (n, started) = state.store.upsert_limit(&key, window, now).await.map_err(|e| crate::error::ApiError::from(e).into_response())?;
        if n > WRONG_CODES {
            let left = WRONG_CODE_WINDOW.saturating_sub(now.since(started));
            over = Some(over.map_or(left, |o| o.max(left)));
        }
        hits.push((key, started));
    }
    let refund = |hits: Vec<(String, portcullis_domain::Timestamp)>| async move {
        for (key, started) in hits {
            if let Err(e) = state.store.update_limit_refund(&key, started).await {
                tracing::warn!(error = %e, "could not give back a device-code lookup");
            }
        }
    };
    if let Some(retry) = over {
        refund(hits).await;
        return Err(too_many(retry));
    }
    let found = state.store.find_device_by_user_code(code).await.map_err(|e| crate::error::ApiError::from(e).into_response())?;
    match found.filter(|d| d.expires_at > now && d.status == portcullis_domain::DeviceStatus::Pending) {
        Some(d) => {
            refund(hits).await;
            Ok(d)
        }
        None => Err(pages::page(
            Status::NotFound,
            "Connect a device",
            &entry_form(Some("No login is waiting for this code. Codes work once and for 10 minutes: check it against your terminal, or run `portcullis login` again for a new one."), code),
        )),
    }
}

/// `GET /device`: asks for the code, or shows what the code would allow.
pub async fn page(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    if let Some(r) = disabled(&state) {
        return r;
    }
    let here = match q.user_code.as_deref() {
        Some(c) => format!("/device?{}", serde_urlencoded::to_string([("user_code", c)]).unwrap_or_default()),
        None => "/device".into(),
    };
    let caller = match Caller::from_headers(&state, &headers).await {
        Ok(c) => c,
        Err(_) => {
            let to = format!("/auth/login?{}", serde_urlencoded::to_string([("return_to", here.as_str())]).unwrap_or_default());
            return Redirect::to(&to).into_response();
        }
    };
    let typed = q.user_code.unwrap_or_default();
    if typed.trim().is_empty() {
        return pages::page(Status::Ok, "Connect a device", &entry_form(None, ""));
    }
    let code = match normalize_user_code(&typed) {
        Ok(c) => c,
        Err(e) => return pages::page(Status::BadRequest, "Connect a device", &entry_form(Some(&e.to_string()), &typed)),
    };
    let d = match pending_code(&state, &caller, &ip, &code).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let now = state.clock.now();
    let asked = now.since(d.created_at).as_secs() / 60;
    let body = format!(
        "<h1>Connect a device</h1>\
         <p>A command-line client (<code>{client}</code>) asks to act as <strong>{who}</strong> on this Portcullis.</p>\
         <p>It asked {when}{from}. Approve only if you started it yourself and your terminal shows this code:</p>\
         <p class=\"code\"><code id=\"code\">{code}</code></p>\
         <form method=\"post\" action=\"/device\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"><input type=\"hidden\" name=\"user_code\" value=\"{code}\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        client = text(&d.client_id),
        who = text(&caller.ctx.user.email),
        when = if asked == 0 { "just now".to_owned() } else { format!("{asked} minutes ago") },
        from = d.client_ip.as_deref().map(|ip| format!(" from {}", text(ip))).unwrap_or_default(),
        code = text(&display_user_code(&d.user_code)),
        csrf = attr(&caller.csrf_token(&state)),
    );
    pages::page(Status::Ok, "Connect a device", &body)
}

/// `POST /device`: approves or denies (CSRF-protected form).
pub async fn decide(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = disabled(&state) {
        return r;
    }
    let caller = match Caller::from_headers(&state, &headers).await {
        Ok(c) => c,
        Err(_) => return Redirect::to("/auth/login?return_to=%2Fdevice").into_response(),
    };
    let form: std::collections::HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let csrf_ok = check_same_origin(&state, &headers).is_ok()
        && state.keys.verify_csrf("session", &caller.ctx.session.id.to_string(), form.get("csrf_token").map(String::as_str).unwrap_or(""));
    if !csrf_ok {
        return pages::message(
            Status::Forbidden,
            "Request refused",
            "This approval did not come from Portcullis's own page (missing or wrong form token). Open the link from your terminal again.",
            Some(("/device", "Enter a code")),
        );
    }
    let approve = match form.get("decision").map(String::as_str) {
        Some("approve") => true,
        Some("deny") => false,
        _ => return pages::page(Status::BadRequest, "Connect a device", &entry_form(Some("Choose Approve or Deny."), "")),
    };
    let Ok(code) = normalize_user_code(form.get("user_code").map(String::as_str).unwrap_or("")) else {
        return pages::page(Status::BadRequest, "Connect a device", &entry_form(Some("The form carried no valid code; enter it again."), ""));
    };
    // The same limit as the page's: a POST is a guess too.
    if let Err(r) = pending_code(&state, &caller, &ip, &code).await {
        return r;
    }
    let decided = match state.store.update_device_decision(&code, caller.ctx.user.id, approve, state.clock.now()).await {
        Ok(d) => d,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let Some(d) = decided else {
        return pages::message(
            Status::Conflict,
            "This code is no longer waiting",
            "It expired, or was approved or denied already. Run `portcullis login` again for a new code.",
            Some(("/device", "Enter another code")),
        );
    };
    let action = if approve { "device.approve" } else { "device.deny" };
    audit::record(
        &state,
        Entry::new(action, true)
            .actor(caller.ctx.user.id, &caller.ctx.user.email)
            .target(format!("client {} from {}", d.client_id, d.client_ip.as_deref().unwrap_or("unknown address")))
            .ip(ip),
    )
    .await;
    if approve {
        pages::message(Status::Ok, "Device connected", "You can close this window and return to your terminal.", None)
    } else {
        pages::message(Status::Ok, "Request denied", "The terminal that asked will be told no. If you did not start this login, someone may have your link: tell your administrator.", None)
    }
}
