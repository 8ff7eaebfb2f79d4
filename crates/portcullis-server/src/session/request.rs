//! What a request says of where it comes from: the client address (behind
//! trusted proxies) and whether a state change is same-origin.

use crate::error::{ApiError, ApiResult, Status};
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use std::net::SocketAddr;

/// The client's address: the socket peer, or, when the operator says
/// proxies are in front (`PORTCULLIS_TRUST_X_FORWARDED_FOR`), the
/// `X-Forwarded-For` entry `PORTCULLIS_TRUSTED_PROXY_HOPS` places from the
/// right. Entries are counted over every header line together: a client
/// that sends its own line ahead of the proxy's chooses nothing, since only
/// what the trusted proxies appended is read.
pub fn client_ip(state: &AppState, parts: &Parts) -> Option<String> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    if !state.config.trust_x_forwarded_for {
        return peer;
    }
    forwarded_client(&parts.headers, state.config.trusted_proxy_hops).or(peer)
}

/// The address `hops` entries from the right of all `X-Forwarded-For`
/// lines; `None` when there are fewer entries or that one is not an address.
pub fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<String> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let Some(entry) = entries.len().checked_sub(hops).map(|i| entries[i]) else {
        tracing::warn!(entries = entries.len(), hops, "X-Forwarded-For has fewer entries than PORTCULLIS_TRUSTED_PROXY_HOPS; the nearest proxy's address is used");
        return None;
    };
    entry.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses requests a browser marks as cross-site, and requests whose
/// `Origin` is not ours. Applies to every state change made with a cookie.
pub fn check_same_origin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return Err(ApiError::new(
            Status::Forbidden,
            "csrf",
            "cross-site request refused: state changes must come from Portcullis's own pages or from an API client",
        ));
    }
    if let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) {
        if origin != state.config.public_origin() {
            return Err(ApiError::new(
                Status::Forbidden,
                "csrf",
                format!(
                    "request from origin `{origin}` refused; only {} may change state with a session cookie (check PORTCULLIS_PUBLIC_URL)",
                    state.config.public_origin()
                ),
            ));
        }
    }
    Ok(())
}

/// The client's address, as an extractor.
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(state, parts)))
    }
}
