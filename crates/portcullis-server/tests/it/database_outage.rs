//! PostgreSQL goes away for 10 s under load, under two real replicas.
//!
//! The replicas reach the test PostgreSQL through a TCP hop of our own that
//! misbehaves on purpose ([`DbCut`]): cut, it drops every open connection
//! and closes every new one at once, as a stopped or unreachable server
//! looks to a client; restored, it forwards again. (The machine's
//! PostgreSQL itself serves the other tests meanwhile, so it is not the one
//! stopped.)
//!
//! While it is cut: what the replicas' caches can answer keeps working
//! (the signed-in owner, kickoffs of an automation they know); what needs
//! the database answers a clear 503 `database_unavailable` within 2 s,
//! never a hang or a bare 500; `/readyz` says so in its body. Within 1 s of
//! its return everything works again, and no execution or usage record
//! made during the outage is lost.

use crate::replicas::{free_port, start_with, OWNER, OWNER_PASSWORD};
use crate::upstream::Upstream;
use portcullis_api::Client;
use portcullis_storage::testing::TestDb;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A TCP hop in front of PostgreSQL that can be cut and restored. Cut,
/// it stops listening (new connections are refused, as by a stopped
/// server) and drops every open connection.
struct DbCut {
    port: u16,
    target: String,
    accepting: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Bumped at each cut: open connections watch it and drop.
    generation: watch::Sender<u64>,
}

impl DbCut {
    async fn start(target: String) -> DbCut {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (generation, _) = watch::channel(0u64);
        let hop = DbCut { port, target, accepting: std::sync::Mutex::new(None), generation };
        hop.restore();
        hop
    }

    /// Listens again on the same port, forwarding every connection.
    fn restore(&self) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(format!("127.0.0.1:{}", self.port).parse().unwrap()).unwrap();
        let listener = socket.listen(128).unwrap();
        let (target, generation) = (self.target.clone(), self.generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let mut changed = generation.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = changed.changed() => {}
                    }
                });
            }
        });
        *self.accepting.lock().unwrap() = Some(task);
    }

    fn cut(&self) {
        if let Some(task) = self.accepting.lock().unwrap().take() {
            task.abort();
        }
        self.generation.send_modify(|g| *g += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_seconds_without_postgresql_under_load_lose_nothing() {
    let Some(db) = TestDb::postgres().await else { return };
    let mut url = url::Url::parse(&db.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let hop = DbCut::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(hop.port)).unwrap();
    let ports = [free_port(), free_port()];
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let rs = [start_with(url.as_str(), &public, ports[0], &[]).await, start_with(url.as_str(), &public, ports[1], &[]).await];

    let mut owner = Client::new(&rs[0].base).unwrap();
    owner.login_local(OWNER, OWNER_PASSWORD).await.unwrap();
    let up = Upstream::start("tok-outage").await;
    let a = owner
        .create_automation(&portcullis_api::CreateAutomation { name: "Crew".into(), description: String::new(), visibility: None, upstream_url: up.url.clone(), upstream_token: up.token.clone() })
        .await
        .unwrap();
    let http = owner.http().clone();
    let csrf = owner.csrf_token().unwrap().to_owned();
    let kickoff = |base: String| {
        let (http, csrf) = (http.clone(), csrf.clone());
        async move {
            http.post(format!("{base}/api/v1/automations/{}/kickoff", a.id))
                .header("x-csrf-token", csrf)
                .json(&serde_json::json!({"inputs": {"topic": "outage"}}))
                .timeout(Duration::from_secs(3))
                .send()
                .await
        }
    };
    // Both replicas know the session and the automation.
    for r in &rs {
        assert_eq!(kickoff(r.base.clone()).await.unwrap().status(), 200);
    }
    let mut kickoffs = rs.len();

    // Load throughout: four clients calling /me on both replicas as fast as
    // they are answered; every answer must be 200, from the caches.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for i in 0..4 {
        let (http, stop, base) = (http.clone(), stop.clone(), rs[i % 2].base.clone());
        load.push(tokio::spawn(async move {
            let (mut answered, mut slowest) = (0u32, Duration::ZERO);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let asked = Instant::now();
                let r = http.get(format!("{base}/api/v1/me")).timeout(Duration::from_secs(3)).send().await.expect("an answer, not a hang");
                assert_eq!(r.status(), 200, "{base}: /me under load during the outage: {:?}", r.text().await);
                slowest = slowest.max(asked.elapsed());
                answered += 1;
            }
            (answered, slowest)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    hop.cut();
    let outage = Instant::now();
    let mut refused = 0;
    let mut slowest_refusal = Duration::ZERO;
    let mut slowest_cached = Duration::ZERO;
    let mut n = 0;
    while outage.elapsed() < Duration::from_secs(10) {
        let base = rs[n % 2].base.clone();
        n += 1;
        // From the caches: the owner, and a kickoff (its execution waits).
        let asked = Instant::now();
        let me = http.get(format!("{base}/api/v1/me")).timeout(Duration::from_secs(3)).send().await.expect("an answer, not a hang");
        assert_eq!(me.status(), 200, "{base}: /me from the cache during the outage: {:?}", me.text().await);
        slowest_cached = slowest_cached.max(asked.elapsed());
        let asked = Instant::now();
        let k = kickoff(base.clone()).await.expect("an answer, not a hang");
        slowest_cached = slowest_cached.max(asked.elapsed());
        assert_eq!(k.status(), 200, "{base}: kickoff during the outage: {:?}", k.text().await);
        kickoffs += 1;
        // Needs the database: a clear 503 within 2 s.
        let asked = Instant::now();
        let members = http.get(format!("{base}/api/v1/users")).timeout(Duration::from_secs(3)).send().await.expect("an answer, not a hang");
        let took = asked.elapsed();
        slowest_refusal = slowest_refusal.max(took);
        assert_eq!(members.status(), 503, "{base}: members during the outage");
        assert_eq!(members.headers()["retry-after"], "2");
        let body: serde_json::Value = members.json().await.unwrap();
        assert_eq!(body["error"], "database_unavailable", "{body}");
        assert!(body["message"].as_str().unwrap().contains("database"), "{body}");
        assert!(took < Duration::from_secs(2), "{base}: the 503 took {took:?}");
        refused += 1;
        if n == 3 {
            let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
            assert_eq!(ready.status(), 503);
            assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["database"], "unreachable");
            let tolerant = reqwest::get(format!("{base}/readyz?tolerate=database")).await.unwrap();
            assert_eq!(tolerant.status(), 200, "the replicas stay in the load balancer");
            assert_eq!(tolerant.json::<serde_json::Value>().await.unwrap()["database"], "unreachable");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut answered, mut slowest_loaded) = (0, Duration::ZERO);
    for l in load {
        let (a, s) = l.await.unwrap();
        answered += a;
        slowest_loaded = slowest_loaded.max(s);
    }
    eprintln!("outage: {answered} /me calls under load all answered 200, the slowest in {slowest_loaded:?}");
    eprintln!("outage: {n} rounds, {refused} refusals (the slowest in {slowest_refusal:?}), the slowest answer from the caches in {slowest_cached:?}");

    hop.restore();
    let back = Instant::now();
    for r in &rs {
        loop {
            let s = http.get(format!("{}/api/v1/users", r.base)).timeout(Duration::from_secs(3)).send().await.unwrap().status();
            if s == 200 {
                break;
            }
            assert!(back.elapsed() < Duration::from_secs(1), "{}: still {s} {:?} after the database came back", r.base, back.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("working again {:?} after the database came back", back.elapsed());

    // Every kickoff's execution and usage record reached the database.
    let started = Instant::now();
    loop {
        let executions = owner.get::<Vec<portcullis_api::ExecutionInfo>>(&format!("/api/v1/automations/{}/executions?limit=1000", a.id)).await.unwrap().len();
        let usage = owner.usage("").await.unwrap();
        let counted = usage.kickoffs_by_automation.values().sum::<i64>() as usize;
        if executions == kickoffs && counted == kickoffs {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{executions} executions and {counted} kickoffs counted of {kickoffs} made");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(up.seen.lock().unwrap().kickoffs.len(), kickoffs, "every kickoff reached the automation once");
    drop(rs);
    db.cleanup().await;
}
