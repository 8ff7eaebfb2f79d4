//! Benchmark of bearer-token authentication (docs/benchmarks.md), with wrk
//! on loopback against a real server (SQLite) whose identity provider is the
//! test suite's OpenID provider:
//! 1. `GET /api/v1/me` with a session cookie (the baseline),
//! 2. the same with one bearer token repeated (served from the verified-token cache),
//! 3. the same with a fresh RS256 token on every request (a pool signed
//!    beforehand, larger than the number of requests), each one verified.
//!
//! Usage: cargo run --release -p portcullis-server --example bench_bearer [seconds] [pool size]

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::Command;
use support::browser::{location, Browser};
use support::hostile_idp::{HostileIdp, Mode};
use support::{Db, Options, TestServer};

fn wrk(label: &str, base: &str, secs: u64, args: &[&str]) -> f64 {
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{secs}s"), "--latency"])
        .args(args)
        .arg(format!("{base}/api/v1/me"))
        .output()
        .expect("wrk must be installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("== {label}\n{text}");
    text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).map(|v| v.trim().parse().unwrap()).unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().map(|v| v.parse().unwrap()).unwrap_or(10);
    let pool: usize = args.next().map(|v| v.parse().unwrap()).unwrap_or(150_000);
    let idp = HostileIdp::start(Mode::Good).await;
    let mut env = idp.env();
    env.push(("PORTCULLIS_LOG", "warn".into()));
    let srv = TestServer::start_with(Db::Sqlite, Options { bootstrap_admin: false, extra_env: env, listener: None }).await.unwrap();

    // A session cookie from a browser sign-in.
    let mut b = Browser::new();
    let resp = b.get(&srv.url("/auth/okta/login")).await;
    let cb = b.follow_until(location(&resp), &srv.url("/auth/okta/callback")).await.unwrap_or_else(|_| panic!("no callback"));
    assert_eq!(b.get(&cb).await.status(), 303);
    let cookie = format!("Cookie: portcullis_session={}", b.jar["portcullis_session"]);

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let token = |i: usize| {
        idp.sign(
            "k1",
            false,
            &serde_json::json!({
                "iss": idp.issuer, "aud": "api://default", "sub": "hostile-user-1", "iat": now, "exp": now + 3600,
                "jti": format!("bench-{i}"), "email": "mallory@example.test", "groups": ["member"],
            }),
        )
    };
    let one = token(0);
    let (status, _) = {
        let r = reqwest::Client::new().get(srv.url("/api/v1/me")).bearer_auth(&one).send().await.unwrap();
        (r.status(), ())
    };
    assert_eq!(status, 200);

    eprintln!("signing {pool} tokens...");
    let dir = std::env::temp_dir().join(format!("portcullis-bench-bearer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tokens_path = dir.join("tokens.txt");
    {
        // Signed on every core: RSA signing is the slow part of the setup.
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let chunks: Vec<Vec<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..cores).map(|c| { let token = &token; s.spawn(move || (1..=pool).filter(|i| i % cores == c).map(token).collect()) }).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tokens_path).unwrap());
        for t in chunks.iter().flatten() {
            writeln!(f, "{t}").unwrap();
        }
    }
    let lua = dir.join("pool.lua");
    std::fs::write(
        &lua,
        format!(
            r#"local tokens = {{}}
for line in io.lines("{}") do tokens[#tokens + 1] = line end
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
local i = 0
function request()
  i = i + 1
  local t = tokens[((i * 2 + id) % #tokens) + 1]
  return wrk.format("GET", nil, {{ ["Authorization"] = "Bearer " .. t }})
end
"#,
            tokens_path.display()
        ),
    )
    .unwrap();

    let base = srv.base.clone();
    let auth = format!("Authorization: Bearer {one}");
    let (cookie_rps, repeat_rps, pool_rps) = tokio::task::spawn_blocking(move || {
        let c = wrk("session cookie", &base, secs, &["-H", &cookie]);
        let r = wrk("one bearer token, repeated", &base, secs, &["-H", &auth]);
        let p = wrk("a fresh RS256 token per request", &base, secs, &["-s", lua.to_str().unwrap()]);
        (c, r, p)
    })
    .await
    .unwrap();
    let requests = pool_rps * secs as f64;
    println!("summary: cookie {cookie_rps:.0} req/s; repeated bearer {repeat_rps:.0} req/s ({:+.1}% vs cookie); fresh tokens {pool_rps:.0} verified req/s ({requests:.0} requests from a pool of {pool}{})",
        (repeat_rps / cookie_rps - 1.0) * 100.0,
        if requests > pool as f64 { ": the pool was too small, tokens repeated" } else { ", none repeated" });
    std::fs::remove_dir_all(&dir).ok();
}
