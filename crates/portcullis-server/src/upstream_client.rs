//! The HTTP/1.1 client for automations' own APIs (the kickoff proxy and the
//! health checks): hyper's connection-level client (`hyper::client::conn`),
//! with a small keep-alive pool of its own.
//!
//! Why not reqwest, which Portcullis uses for identity providers: a proxied
//! kickoff is the hot path, and a profile of it (docs/benchmarks.md) showed
//! reqwest's pooled client costing two extra task hand-offs per call: the
//! request goes to a spawned connection task, and the answer and its body
//! come back through channels. Here the task that serves the caller also
//! drives the upstream connection (`drive`), so one wake-up carries an
//! answer, and a connection is only ever used by one request at a time.
//!
//! What it keeps of a careful client:
//! - every address a name resolves to passes `upstream_policy::forbidden_ip`
//!   (IP literals too), at connection time;
//! - a connect timeout, and one deadline for the whole call;
//! - answers read under a size cap, never buffered past it;
//! - TLS with rustls, trusting what `outbound` trusts (built-in roots, the
//!   system's, `PORTCULLIS_CA_BUNDLE`), HTTP/1.1 only (ALPN `http/1.1`);
//! - an idle connection the automation has closed is noticed before a
//!   request is written to it, so a kickoff (not idempotent) is never sent
//!   twice; one that breaks after the request was written is an error.

use crate::outbound::TrustConfig;
use crate::upstream_policy::forbidden_ip;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

mod stream;
#[cfg(test)]
mod tests;

use stream::Stream;

/// How long an idle connection is kept (under the usual 60-120 s
/// keep-alive timeouts of servers, so that Portcullis rarely meets a
/// connection the other side is closing).
const IDLE_TIMEOUT: Duration = Duration::from_secs(50);

type Connection = http1::Connection<TokioIo<Stream>, Full<Bytes>>;

/// One keep-alive connection: the handle to send on and the connection
/// state machine, which whoever uses the handle must poll.
struct Pooled {
    send: http1::SendRequest<Full<Bytes>>,
    conn: Driven,
    idle_since: Instant,
}

/// Why a call got no usable answer.
#[derive(Debug)]
pub enum CallError {
    /// The whole call took longer than the deadline.
    Timeout,
    /// No connection could be made (refused, unreachable, DNS, TLS).
    Connect(String),
    /// The connection broke, or the answer was not HTTP.
    Failed(String),
    /// The answer's body passed the cap.
    TooLarge(usize),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout => f.write_str("no complete answer before the deadline"),
            CallError::Connect(why) => write!(f, "could not connect: {why}"),
            CallError::Failed(why) => write!(f, "the exchange failed: {why}"),
            CallError::TooLarge(max) => write!(f, "the answer is larger than {max} bytes"),
        }
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// A call: `url` is absolute (`http` or `https`), `token` goes in
/// `Authorization: Bearer`, `body` (JSON) is sent with its length.
pub struct Call<'a> {
    pub method: Method,
    pub url: &'a url::Url,
    pub token: &'a str,
    pub body: Option<Bytes>,
    pub max_body: usize,
}

/// Clients share one pool (it is cheap to clone).
#[derive(Clone)]
pub struct UpstreamClient(Arc<Inner>);

struct Inner {
    /// Idle connections per origin (`scheme://host:port`), newest last.
    idle: Mutex<HashMap<String, Vec<Pooled>>>,
    /// When expired idle connections of every origin were last dropped
    /// (an automation that is no longer called keeps none open for long).
    swept: Mutex<Instant>,
    tls: tokio_rustls::TlsConnector,
    connect_timeout: Duration,
    timeout: Duration,
    max_idle_per_origin: usize,
}

impl UpstreamClient {
    pub fn new(trust: &TrustConfig, connect_timeout: Duration, timeout: Duration, max_idle_per_origin: usize) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(trust.root_store())
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self(Arc::new(Inner {
            idle: Mutex::default(),
            swept: Mutex::new(Instant::now()),
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            connect_timeout,
            timeout,
            max_idle_per_origin,
        })))
    }

    /// Makes the call and reads the answer whole, within the deadline.
    pub async fn call(&self, call: Call<'_>) -> Result<Answer, CallError> {
        match tokio::time::timeout(self.0.timeout, self.exchange(call)).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout),
        }
    }

    async fn exchange(&self, call: Call<'_>) -> Result<Answer, CallError> {
        let key = origin_key(call.url)?;
        let mut c = self.ready_connection(&key, call.url).await?;
        let mut req = Request::builder()
            .method(call.method)
            .uri(path_and_query(call.url))
            .header(hyper::header::HOST, host_header(call.url))
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::AUTHORIZATION, format!("Bearer {}", call.token));
        let body = match call.body {
            Some(b) => {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
                Full::new(b)
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body).map_err(|e| CallError::Failed(format!("the request could not be formed: {e}")))?;
        let mut answer = std::pin::pin!(c.send.send_request(req));
        let resp = drive(&mut c.conn, &mut answer).await.map_err(CallError::Failed)?.map_err(|e| CallError::Failed(e.to_string()))?;
        let status = resp.status();
        let body = read_body(&mut c.conn, resp.into_body(), call.max_body).await?;
        // Keep the connection if it is still open once the answer is in
        // (a `Connection: close` answer ends it here).
        if !c.conn.ended_now() {
            c.idle_since = Instant::now();
            let mut idle = self.0.idle.lock().unwrap_or_else(|p| p.into_inner());
            let list = idle.entry(key).or_default();
            if list.len() < self.0.max_idle_per_origin {
                list.push(c);
            }
            self.sweep(&mut idle);
        }
        Ok(Answer { status, body })
    }

    /// Drops the idle connections of every origin that have waited past
    /// [`IDLE_TIMEOUT`], at most once per timeout.
    fn sweep(&self, idle: &mut HashMap<String, Vec<Pooled>>) {
        let mut swept = self.0.swept.lock().unwrap_or_else(|p| p.into_inner());
        if swept.elapsed() < IDLE_TIMEOUT {
            return;
        }
        *swept = Instant::now();
        idle.retain(|_, list| {
            list.retain(|c| c.idle_since.elapsed() < IDLE_TIMEOUT);
            !list.is_empty()
        });
    }

    /// An idle connection to the origin that is ready for a request, else a
    /// new one. Idle ones the other side closed meanwhile are dropped here,
    /// before anything is written to them.
    async fn ready_connection(&self, key: &str, url: &url::Url) -> Result<Pooled, CallError> {
        while let Some(mut c) = self.take_idle(key) {
            if ready(&mut c).await.is_ok() {
                return Ok(c);
            }
        }
        let mut c = self.connect(url).await?;
        ready(&mut c).await.map_err(CallError::Connect)?;
        Ok(c)
    }

    fn take_idle(&self, key: &str) -> Option<Pooled> {
        let mut idle = self.0.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        while let Some(c) = list.pop() {
            if c.idle_since.elapsed() < IDLE_TIMEOUT {
                return Some(c);
            }
        }
        None
    }

    async fn connect(&self, url: &url::Url) -> Result<Pooled, CallError> {
        let connect = async {
            let tcp = self.tcp(url).await?;
            let stream = if url.scheme() == "https" {
                let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| CallError::Connect(format!("`{host}` is not a TLS server name: {e}")))?;
                let tls = self.0.tls.connect(name, tcp).await.map_err(|e| CallError::Connect(format!("TLS handshake: {e}")))?;
                Stream::Tls(Box::new(tls))
            } else {
                Stream::Plain(tcp)
            };
            let (send, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| CallError::Connect(e.to_string()))?;
            Ok(Pooled { send, conn: Driven { conn: Box::pin(conn), ended: None }, idle_since: Instant::now() })
        };
        match tokio::time::timeout(self.0.connect_timeout, connect).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Connect(format!("no connection within {} s (PORTCULLIS_UPSTREAM_CONNECT_TIMEOUT)", self.0.connect_timeout.as_secs_f64()))),
        }
    }

    /// A TCP connection to the first address of the URL's host that
    /// answers, never to a forbidden one.
    async fn tcp(&self, url: &url::Url) -> Result<TcpStream, CallError> {
        let port = url.port_or_known_default().ok_or_else(|| CallError::Connect("the URL has no port".into()))?;
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::from((ip, port))],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::from((ip, port))],
            Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port)).await.map_err(|e| CallError::Connect(format!("{name} did not resolve: {e}")))?.collect(),
            None => return Err(CallError::Connect("the URL has no host".into())),
        };
        let allowed: Vec<SocketAddr> = addrs.iter().copied().filter(|a| !forbidden_ip(a.ip())).collect();
        if allowed.is_empty() {
            return Err(CallError::Connect(format!("{} resolves only to addresses Portcullis never calls", url.host_str().unwrap_or_default())));
        }
        let mut last = String::new();
        for addr in allowed {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    // An answer is one write: Nagle's algorithm would only delay it.
                    let _ = tcp.set_nodelay(true);
                    return Ok(tcp);
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(CallError::Connect(last))
    }
}

/// Waits until the connection can take a request, polling it meanwhile.
async fn ready(c: &mut Pooled) -> Result<(), String> {
    std::future::poll_fn(|cx| {
        if c.conn.poll_ended(cx) {
            return Poll::Ready(Err("the connection was closed".to_owned()));
        }
        c.send.poll_ready(cx).map_err(|e| e.to_string())
    })
    .await
}

/// Polls `fut` while driving the connection in the same task: the
/// upstream's answer wakes this task directly. If the connection ends
/// first, `fut` gets one more poll (hyper may have delivered the answer
/// just before the connection closed); after that a pending `fut` is an
/// error, since nothing would complete it.
async fn drive<F: Future + Unpin>(conn: &mut Driven, fut: &mut F) -> Result<F::Output, String> {
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = Pin::new(&mut *fut).poll(cx) {
            return Poll::Ready(Ok(out));
        }
        if conn.ended.is_none() && !conn.poll_ended(cx) {
            return Poll::Pending;
        }
        if let Poll::Ready(out) = Pin::new(&mut *fut).poll(cx) {
            return Poll::Ready(Ok(out));
        }
        Poll::Ready(Err(match &conn.ended {
            Some(Some(why)) => why.clone(),
            _ => "the connection closed before the answer was complete".to_owned(),
        }))
    })
    .await
}

/// Reads the body whole, under `max` bytes, driving the connection.
async fn read_body(conn: &mut Driven, mut body: Incoming, max: usize) -> Result<Bytes, CallError> {
    use hyper::body::Body;
    if body.size_hint().lower() > max as u64 {
        return Err(CallError::TooLarge(max));
    }
    let mut buf = bytes::BytesMut::new();
    loop {
        let frame = drive(conn, &mut body.frame()).await.map_err(CallError::Failed)?;
        match frame {
            None => return Ok(buf.freeze()),
            Some(Err(e)) => return Err(CallError::Failed(e.to_string())),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > max {
                        return Err(CallError::TooLarge(max));
                    }
                    if buf.is_empty() && body.is_end_stream() {
                        return Ok(data);
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

/// A connection's state machine, polled by whoever holds it, and whether
/// (and why) it has ended: a finished one is never polled again.
struct Driven {
    conn: Pin<Box<Connection>>,
    /// `Some(None)`: closed cleanly; `Some(Some(why))`: failed.
    ended: Option<Option<String>>,
}

impl Driven {
    /// Polls the connection (registering `cx`) unless it has ended; says whether it has.
    fn poll_ended(&mut self, cx: &mut Context<'_>) -> bool {
        if self.ended.is_none() {
            if let Poll::Ready(r) = self.conn.as_mut().poll(cx) {
                self.ended = Some(r.err().map(|e| e.to_string()));
            }
        }
        self.ended.is_some()
    }

    /// Whether the connection has ended, polled once without waiting.
    fn ended_now(&mut self) -> bool {
        self.poll_ended(&mut Context::from_waker(std::task::Waker::noop()))
    }
}

/// `scheme://host:port`, the pool's key.
fn origin_key(url: &url::Url) -> Result<String, CallError> {
    match (url.scheme(), url.host_str(), url.port_or_known_default()) {
        (s @ ("http" | "https"), Some(h), Some(p)) => Ok(format!("{s}://{h}:{p}")),
        _ => Err(CallError::Connect(format!("`{url}` is not an http or https URL"))),
    }
}

fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

fn host_header(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}
