//! A request id for every request: taken from `X-Request-Id` only when a
//! trusted proxy is in front (`PORTCULLIS_TRUST_X_FORWARDED_FOR`) and the
//! value is short and plain, otherwise generated; echoed in the response
//! header, recorded in every log line of the request, in the audit log and
//! in 5xx bodies. A client reaching Portcullis directly cannot choose what
//! its requests are recorded as.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id (empty outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

/// Runs `f` (a task spawned by a request) under that request's id, so what
/// it logs and audits carries the id.
pub async fn scope<F: std::future::Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

fn acceptable(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether an `X-Request-Id` from the client is kept: only behind a trusted
/// proxy (`PORTCULLIS_TRUST_X_FORWARDED_FOR`), which sets it.
#[derive(Clone, Copy)]
pub struct TrustIncoming(pub bool);

pub async fn middleware(axum::extract::State(TrustIncoming(trusted)): axum::extract::State<TrustIncoming>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .filter(|_| trusted)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut resp = REQUEST_ID.scope(id.clone(), next.run(req).instrument(span)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
