//! The automations' client against automations that misbehave on purpose:
//! raw TCP servers on loopback that answer what each case needs, and count
//! connections and requests.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a test server does with each request it reads.
#[derive(Clone, Copy)]
enum Behaviour {
    /// A small JSON answer, connection kept.
    Answer,
    /// A small JSON answer, then the socket is closed (no `Connection: close`).
    AnswerThenHangUp,
    /// A small JSON answer with `Connection: close`.
    AnswerConnectionClose,
    /// A chunked body that never ends.
    Endless,
    /// A `Content-Length` of 10 MiB, then silence.
    HugeLength,
    /// Reads the request, never answers.
    Silent,
    /// Half a body, then the socket is closed.
    BreakMidBody,
}

struct Server {
    url: url::Url,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

async fn server(behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/kickoff", listener.local_addr().unwrap())).unwrap();
    let (connections, requests) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, r) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            c.fetch_add(1, Ordering::SeqCst);
            let r = r.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: its head, then as many body bytes as it says.
                    let Some(head_end) = read_until_head(&mut sock, &mut buf).await else { return };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse().unwrap()).unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + len);
                    r.fetch_add(1, Ordering::SeqCst);
                    let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"kickoff_id\":1}";
                    match behaviour {
                        Behaviour::Answer => sock.write_all(ok.as_bytes()).await.unwrap(),
                        Behaviour::AnswerThenHangUp => {
                            sock.write_all(ok.as_bytes()).await.unwrap();
                            return;
                        }
                        Behaviour::AnswerConnectionClose => {
                            let close = ok.replace("content-length: 16", "content-length: 16\r\nconnection: close");
                            sock.write_all(close.as_bytes()).await.unwrap();
                            return;
                        }
                        Behaviour::Endless => {
                            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await;
                            let chunk = format!("1000\r\n{}\r\n", "x".repeat(0x1000));
                            while sock.write_all(chunk.as_bytes()).await.is_ok() {}
                            return;
                        }
                        Behaviour::HugeLength => {
                            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10485760\r\n\r\n").await;
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        Behaviour::Silent => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        Behaviour::BreakMidBody => {
                            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"kickoff").await;
                            return;
                        }
                    }
                }
            });
        }
    });
    Server { url, connections, requests }
}

async fn read_until_head(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i + 4);
        }
        let mut chunk = [0u8; 4096];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn client(timeout: Duration) -> UpstreamClient {
    UpstreamClient::new(&TrustConfig::default(), Duration::from_secs(2), timeout, 8).unwrap()
}

fn kickoff(url: &url::Url) -> Call<'_> {
    Call { method: Method::POST, url, token: "t0ken", body: Some(Bytes::from_static(b"{\"inputs\":{}}")), max_body: 64 * 1024 }
}

#[tokio::test]
async fn one_connection_serves_calls_one_after_another() {
    let s = server(Behaviour::Answer).await;
    let c = client(Duration::from_secs(5));
    for _ in 0..20 {
        let a = c.call(kickoff(&s.url)).await.unwrap();
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(&a.body[..], b"{\"kickoff_id\":1}");
    }
    assert_eq!(s.requests.load(Ordering::SeqCst), 20);
    assert_eq!(s.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_automation_closed_is_noticed_before_a_kickoff_is_written() {
    for behaviour in [Behaviour::AnswerThenHangUp, Behaviour::AnswerConnectionClose] {
        let s = server(behaviour).await;
        let c = client(Duration::from_secs(5));
        for i in 1..=5 {
            c.call(kickoff(&s.url)).await.unwrap();
            // Let the close reach this side before the next call.
            tokio::time::sleep(Duration::from_millis(20)).await;
            // Each kickoff went out exactly once, each on a new connection.
            assert_eq!(s.requests.load(Ordering::SeqCst), i);
            assert_eq!(s.connections.load(Ordering::SeqCst), i);
        }
    }
}

#[tokio::test]
async fn parallel_calls_each_get_their_own_connection_and_the_pool_stays_bounded() {
    let s = server(Behaviour::Answer).await;
    let c = client(Duration::from_secs(5));
    let calls = (0..32).map(|_| {
        let (c, url) = (c.clone(), s.url.clone());
        tokio::spawn(async move { c.call(kickoff(&url)).await.map(|a| a.status) })
    });
    for t in calls.collect::<Vec<_>>() {
        assert_eq!(t.await.unwrap().unwrap(), StatusCode::OK);
    }
    assert_eq!(s.requests.load(Ordering::SeqCst), 32);
    assert!(s.connections.load(Ordering::SeqCst) <= 32);
    let idle: usize = c.0.idle.lock().unwrap().values().map(Vec::len).sum();
    assert!((1..=8).contains(&idle), "{idle} idle connections kept, the cap is 8");
}

#[tokio::test]
async fn an_endless_answer_is_cut_at_the_cap() {
    let s = server(Behaviour::Endless).await;
    let c = client(Duration::from_secs(10));
    let started = Instant::now();
    let e = c.call(Call { max_body: 100_000, ..kickoff(&s.url) }).await.unwrap_err();
    assert!(matches!(e, CallError::TooLarge(100_000)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_length_over_the_cap_is_refused_before_reading() {
    let s = server(Behaviour::HugeLength).await;
    let c = client(Duration::from_secs(10));
    let started = Instant::now();
    let e = c.call(kickoff(&s.url)).await.unwrap_err();
    assert!(matches!(e, CallError::TooLarge(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "waited for a body it had refused");
}

#[tokio::test]
async fn a_silent_automation_meets_the_deadline() {
    let s = server(Behaviour::Silent).await;
    let c = client(Duration::from_millis(300));
    let started = Instant::now();
    let e = c.call(kickoff(&s.url)).await.unwrap_err();
    assert!(matches!(e, CallError::Timeout), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_answer_broken_off_is_an_error_and_the_connection_is_not_kept() {
    let s = server(Behaviour::BreakMidBody).await;
    let c = client(Duration::from_secs(5));
    let e = c.call(kickoff(&s.url)).await.unwrap_err();
    assert!(matches!(e, CallError::Failed(_)), "{e:?}");
    assert!(c.0.idle.lock().unwrap().values().all(Vec::is_empty));
}

#[tokio::test]
async fn forbidden_addresses_are_never_connected_to() {
    let c = client(Duration::from_secs(5));
    for u in ["http://169.254.169.254/latest/meta-data", "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/"] {
        let url = url::Url::parse(u).unwrap();
        let e = c.call(kickoff(&url)).await.unwrap_err();
        assert!(matches!(&e, CallError::Connect(why) if why.contains("never calls")), "{u}: {e:?}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let e = client(Duration::from_secs(5)).call(kickoff(&url)).await.unwrap_err();
    assert!(matches!(e, CallError::Connect(_)), "{e:?}");
}

#[tokio::test]
async fn idle_connections_past_the_timeout_are_dropped_for_every_origin() {
    let (old, new) = (server(Behaviour::Answer).await, server(Behaviour::Answer).await);
    let c = client(Duration::from_secs(5));
    c.call(kickoff(&old.url)).await.unwrap();
    // The automation at `old` is no longer called; its connection has waited past the timeout.
    let long_ago = Instant::now() - IDLE_TIMEOUT - Duration::from_secs(1);
    for list in c.0.idle.lock().unwrap().values_mut() {
        list.iter_mut().for_each(|p| p.idle_since = long_ago);
    }
    *c.0.swept.lock().unwrap() = long_ago;
    c.call(kickoff(&new.url)).await.unwrap();
    let idle = c.0.idle.lock().unwrap();
    assert_eq!(idle.len(), 1, "the old origin's connection is still held");
    assert!(idle.contains_key(&origin_key(&new.url).unwrap()));
}
