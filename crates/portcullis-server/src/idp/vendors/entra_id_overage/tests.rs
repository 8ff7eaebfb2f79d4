//! A Graph that misbehaves on purpose (ours: no real Graph does this), on
//! loopback: paging links to another host, pages without end, an answer
//! without end, and a token endpoint counted to show the app token is reused.

use super::*;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const OID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

#[derive(Clone, Copy)]
enum Mode {
    /// Two pages, a directory role among the groups, one group twice.
    Good,
    /// The next page is on another host (an SSRF attempt).
    NextLinkElsewhere,
    /// Every page says there is one more.
    PagesForever,
    /// One answer that never ends.
    EndlessBody,
}

struct Peer {
    mode: Mode,
    origin: String,
    token_calls: AtomicUsize,
    graph_calls: AtomicUsize,
}

async fn token(State(p): State<Arc<Peer>>) -> Json<serde_json::Value> {
    p.token_calls.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "token_type": "Bearer", "expires_in": 3599, "access_token": "app-token" }))
}

async fn member_of(State(p): State<Arc<Peer>>, Path(oid): Path<String>, q: axum::extract::RawQuery) -> axum::response::Response {
    use axum::response::IntoResponse;
    p.graph_calls.fetch_add(1, Ordering::SeqCst);
    assert_eq!(oid, OID);
    let second = q.0.unwrap_or_default().contains("skiptoken");
    let next = |to: &str| format!("{to}/v1.0/users/{OID}/transitiveMemberOf?$select=id&$skiptoken=x");
    match p.mode {
        Mode::Good if !second => Json(json!({ "value": [{ "@odata.type": "#microsoft.graph.group", "id": "g-2" }, { "@odata.type": "#microsoft.graph.directoryRole", "id": "role-1" }], "@odata.nextLink": next(&p.origin) })).into_response(),
        Mode::Good => Json(json!({ "value": [{ "@odata.type": "#microsoft.graph.group", "id": "g-1" }, { "@odata.type": "#microsoft.graph.group", "id": "g-2" }] })).into_response(),
        Mode::NextLinkElsewhere => Json(json!({ "value": [{ "id": "g-1" }], "@odata.nextLink": next("http://169.254.169.254") })).into_response(),
        Mode::PagesForever => Json(json!({ "value": [{ "id": "g-1" }], "@odata.nextLink": next(&p.origin) })).into_response(),
        Mode::EndlessBody => {
            let chunk = bytes::Bytes::from(vec![b' '; 16 * 1024]);
            let stream = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            axum::response::Response::builder().header("content-type", "application/json").body(axum::body::Body::from_stream(stream)).unwrap()
        }
    }
}

async fn start(mode: Mode) -> (Arc<Peer>, GroupOverage) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let peer = Arc::new(Peer { mode, origin: origin.clone(), token_calls: AtomicUsize::new(0), graph_calls: AtomicUsize::new(0) });
    let app = Router::new().route("/tenant/oauth2/v2.0/token", post(token)).route("/v1.0/users/{oid}/transitiveMemberOf", get(member_of)).with_state(peer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let graph = GraphSettings { graph_url: url::Url::parse(&origin).unwrap(), token_url: url::Url::parse(&format!("{origin}/tenant/oauth2/v2.0/token")).unwrap() };
    let overage = GroupOverage {
        graph,
        client_id: "app".into(),
        secret: Some(SecretString::from("secret".to_owned())),
        roles_claim: "roles".into(),
        app_token: tokio::sync::Mutex::new(None),
    };
    (peer, overage)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn lists_every_page_keeps_groups_only_and_reuses_the_app_token() {
    let (peer, overage) = start(Mode::Good).await;
    for _ in 0..2 {
        assert_eq!(overage.group_ids(&http(), OID).await.unwrap(), vec!["g-1".to_string(), "g-2".to_string()]);
    }
    assert_eq!(peer.token_calls.load(Ordering::SeqCst), 1, "one app token for both sign-ins");
    assert_eq!(peer.graph_calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_next_page_on_another_host_is_not_followed() {
    let (peer, overage) = start(Mode::NextLinkElsewhere).await;
    match overage.group_ids(&http(), OID).await {
        Err(SignInError::GroupOverage { fix, detail, .. }) => {
            assert!(fix.contains("ENTRA_ID_GRAPH_HOST"), "{fix}");
            assert!(detail.contains("169.254.169.254"), "{detail}");
        }
        other => panic!("{:?}", other.map_err(|e| e.detail())),
    }
    assert_eq!(peer.graph_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn pages_without_end_stop_at_the_bound() {
    let (peer, overage) = start(Mode::PagesForever).await;
    let e = overage.group_ids(&http(), OID).await.unwrap_err();
    assert!(matches!(&e, SignInError::GroupOverage { cause, .. } if cause.contains("more than 100 pages")), "{}", e.detail());
    assert_eq!(peer.graph_calls.load(Ordering::SeqCst), MAX_PAGES);
}

#[tokio::test]
async fn an_answer_without_end_is_cut_at_its_cap() {
    let (_peer, overage) = start(Mode::EndlessBody).await;
    let e = overage.group_ids(&http(), OID).await.unwrap_err();
    assert!(matches!(&e, SignInError::Unreachable(d) if d.contains("larger than")), "{}", e.detail());
}

#[tokio::test]
async fn an_object_id_that_is_not_a_guid_is_never_put_in_a_url() {
    let (peer, overage) = start(Mode::Good).await;
    for oid in ["../../me", "", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0?x=1"] {
        assert!(matches!(overage.group_ids(&http(), oid).await, Err(SignInError::GroupOverage { .. })), "{oid}");
    }
    assert_eq!(peer.graph_calls.load(Ordering::SeqCst) + peer.token_calls.load(Ordering::SeqCst), 0);
}
