//! A small real automation for the tests: the four routes of a deployed
//! crew's API behind its own bearer token, on a loopback port.

#![allow(dead_code)]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Seen {
    /// Every request's headers, as the upstream received them.
    pub headers: Vec<HeaderMap>,
    pub kickoffs: HashMap<String, Value>,
}

#[derive(Clone)]
struct Up {
    token: String,
    seen: Arc<Mutex<Seen>>,
    delay: Duration,
}

pub struct Upstream {
    pub url: String,
    pub token: String,
    pub seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub async fn start(token: &str) -> Upstream {
        Self::start_with_delay(token, Duration::ZERO).await
    }

    /// Every answer waits `delay` first (a slow automation).
    pub async fn start_with_delay(token: &str, delay: Duration) -> Upstream {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let up = Up { token: token.into(), seen: seen.clone(), delay };
        let app = Router::new()
            .route("/", get(health))
            .route("/inputs", get(inputs))
            .route("/kickoff", post(kickoff))
            .route("/status/{id}", get(status))
            .with_state(up);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Upstream { url, token: token.into(), seen, task }
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn guard(up: &Up, headers: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
    up.seen.lock().unwrap().headers.push(headers.clone());
    if !up.delay.is_zero() {
        tokio::time::sleep(up.delay).await;
    }
    let ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", up.token));
    if ok {
        Ok(())
    } else {
        Err((StatusCode::UNAUTHORIZED, Json(json!({"error": "bad token"}))))
    }
}

async fn health(State(up): State<Up>, h: HeaderMap) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    guard(&up, &h).await?;
    Ok(Json(json!({"status": "ok"})))
}

async fn inputs(State(up): State<Up>, h: HeaderMap) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    guard(&up, &h).await?;
    Ok(Json(json!({"inputs": ["topic", "audience"]})))
}

async fn kickoff(State(up): State<Up>, h: HeaderMap, Json(body): Json<Value>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    guard(&up, &h).await?;
    let id = uuid::Uuid::new_v4().to_string();
    up.seen.lock().unwrap().kickoffs.insert(id.clone(), body);
    Ok(Json(json!({"kickoff_id": id})))
}

async fn status(State(up): State<Up>, h: HeaderMap, Path(id): Path<String>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    guard(&up, &h).await?;
    let seen = up.seen.lock().unwrap();
    match seen.kickoffs.get(&id) {
        Some(body) => Ok(Json(json!({"state": "completed", "result": format!("report on {}", body["inputs"]["topic"])}))),
        None => Err((StatusCode::NOT_FOUND, Json(json!({"error": "unknown kickoff"})))),
    }
}
