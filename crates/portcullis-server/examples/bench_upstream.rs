//! A stand-in automation for the proxy benchmark (scripts/bench-proxy.sh):
//! the four routes of a deployed crew's API behind a bearer token, each
//! answer after an optional delay (a real automation does work before it
//! answers a kickoff).
//!
//! Usage: bench_upstream <port> <token> [delay_ms]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct Up {
    auth: Arc<String>,
    delay: Duration,
    next: Arc<AtomicU64>,
}

async fn guard(up: &Up, h: &HeaderMap) -> Result<(), StatusCode> {
    if !up.delay.is_zero() {
        tokio::time::sleep(up.delay).await;
    }
    if h.get("authorization").and_then(|v| v.to_str().ok()) == Some(up.auth.as_str()) {
        Ok(())
    } else {
        Err(StatusCode::UNAUTHORIZED)
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).expect("usage: bench_upstream <port> <token> [delay_ms]");
    let token = args.get(2).expect("token");
    let delay = Duration::from_millis(args.get(3).and_then(|d| d.parse().ok()).unwrap_or(0));
    let up = Up { auth: Arc::new(format!("Bearer {token}")), delay, next: Arc::new(AtomicU64::new(1)) };
    let app = Router::new()
        .route("/", get(|State(up): State<Up>, h: HeaderMap| async move { guard(&up, &h).await.map(|_| Json(json!({"status": "ok"}))) }))
        .route("/inputs", get(|State(up): State<Up>, h: HeaderMap| async move { guard(&up, &h).await.map(|_| Json(json!({"inputs": ["topic"]}))) }))
        .route(
            "/kickoff",
            post(|State(up): State<Up>, h: HeaderMap, Json(_b): Json<Value>| async move {
                guard(&up, &h).await?;
                Ok::<_, StatusCode>(Json(json!({"kickoff_id": format!("k{}", up.next.fetch_add(1, Ordering::Relaxed))})))
            }),
        )
        .route("/status/{id}", get(|State(up): State<Up>, h: HeaderMap, Path(_id): Path<String>| async move { guard(&up, &h).await.map(|_| Json(json!({"state": "completed"}))) }))
        .with_state(up);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
