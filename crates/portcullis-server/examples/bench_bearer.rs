//! Benchmark of bearer-token authentication (docs/benchmarks.md), with wrk
//! on loopback against a real server (SQLite) whose identity provider is the
//! test suite's OpenID provider:
//! 1. `GET /api/v1/me` with a session cookie (the baseline),
//! 2. the same with one bearer token repeated (served from the verified-token cache),
//! 3. the same with a fresh RS256 token on every request (a pool signed
//!    beforehand, larger than the number of requests), each one verified;
//! 4. beside it, in the same run, Apache httpd with mod_auth_openidc as an
//!    OAuth 2.0 resource server (Debian's `apache2` and
//!    `libapache2-mod-auth-openidc`) verifying the same fresh tokens against
//!    the same key set (the IdP's JWKS), in front of a static `/api/v1/me`.
//!
//! Usage: cargo run --release -p portcullis-server --example bench_bearer [seconds] [pool size]

#[path = "../tests/support/mod.rs"]
mod support;


// The server's allocator (src/main.rs): the server runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::process::Command;
use support::browser::{location, Browser};
use support::hostile_idp::{HostileIdp, Mode};
use support::{Db, Options, TestServer};

/// Apache httpd with mod_auth_openidc guarding `/api/v1/me` (a static
/// JSON file) as an OAuth 2.0 resource server: every request's JWT verified
/// locally with the IdP's signing key `k1`, given as an X.509 certificate
/// (mod_auth_openidc fetches key sets over https only, and the test IdP
/// serves http). Returns the process and its base URL.
fn start_apache(dir: &std::path::Path) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let www = dir.join("www/api/v1");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::write(www.join("me"), "{\"user\":{\"email\":\"mallory@example.test\"}}\n").unwrap();
    // The same key the IdP signs with, in a self-signed certificate.
    let keys: serde_json::Value = serde_json::from_str(include_str!("../tests/fixtures/hostile-idp-keys.json")).unwrap();
    std::fs::write(dir.join("k1.key"), keys["k1"]["private_pem"].as_str().unwrap()).unwrap();
    let cert = dir.join("k1.crt");
    let made = Command::new("openssl")
        .args(["req", "-new", "-x509", "-days", "1", "-subj", "/CN=k1", "-key"])
        .arg(dir.join("k1.key"))
        .arg("-out")
        .arg(&cert)
        .status()
        .expect("openssl must be installed");
    assert!(made.success());
    let m = "/usr/lib/apache2/modules";
    let conf = format!(
        r#"ServerRoot "{dir}"
DefaultRuntimeDir "{dir}/run"
PidFile "{dir}/run/httpd.pid"
Mutex file:{dir}/run default
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
User www-data
Group www-data
ErrorLog "{dir}/error.log"
LogLevel warn
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authn_core_module {m}/mod_authn_core.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule authz_user_module {m}/mod_authz_user.so
LoadModule auth_openidc_module {m}/mod_auth_openidc.so
# One process per core, enough threads for wrk's 64 connections.
StartServers 2
ServerLimit 2
ThreadsPerChild 64
MaxRequestWorkers 128
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot "{dir}/www"
<Directory "{dir}/www">
  Require all granted
</Directory>
OIDCCryptoPassphrase bench-only-passphrase
OIDCOAuthVerifyCertFiles k1#{cert}
OIDCOAuthAcceptTokenAs header
<Location /api/v1/me>
  AuthType oauth20
  Require valid-user
</Location>
"#,
        dir = dir.display(),
        cert = cert.display()
    );
    let path = dir.join("httpd.conf");
    std::fs::write(&path, conf).unwrap();
    let mut child = Command::new("/usr/sbin/apache2")
        .args(["-f", path.to_str().unwrap(), "-DFOREGROUND"])
        .spawn()
        .expect("Apache httpd must be installed (apt-get install apache2 libapache2-mod-auth-openidc)");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, base);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("Apache did not start: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
}

/// CPU seconds (user and system) used so far by process `pid`: this
/// process is the server (its IdP is idle during the runs).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields 14 and 15 (utime, stime), counted after the command's `)`.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// wrk on `path`; requests per second. With `server_cpu`, also the
/// server's CPU time per request (where a request's cost goes, beside the
/// throughput that two cores shared with wrk allow). Not for Apache: its
/// workers' counters, summed, came to more than the two cores could give.
fn wrk_path(label: &str, base: &str, path: &str, secs: u64, args: &[&str], server_cpu: Option<&dyn Fn() -> f64>) -> f64 {
    let before = server_cpu.map(|f| f());
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{secs}s"), "--latency"])
        .args(args)
        .arg(format!("{base}{path}"))
        .output()
        .expect("wrk must be installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("== {label}\n{text}");
    let rps = text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).map(|v| v.trim().parse().unwrap()).unwrap_or(0.0);
    if let (Some(cpu), Some(before)) = (server_cpu, before) {
        println!("   server CPU: {:.1} µs per request\n", (cpu() - before) * 1e6 / (rps * secs as f64));
    }
    rps
}

fn wrk(label: &str, base: &str, secs: u64, args: &[&str]) -> f64 {
    wrk_path(label, base, "/api/v1/me", secs, args, Some(&|| cpu_secs("self")))
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
                "jti": format!("bench-{i}"), "cid": support::hostile_idp::CLIENT_ID, "email": "mallory@example.test", "groups": ["member"],
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
            // Each of wrk's two threads takes every other token, and formats
            // its requests before the run starts: formatting one per request
            // cost wrk about 11 µs of CPU each, taken from the two cores the
            // servers under test share with it (alike for both servers).
            r#"local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
local requests = {{}}
function init(args)
  local n = 0
  for line in io.lines("{}") do
    if n % 2 == id then requests[#requests + 1] = wrk.format("GET", nil, {{ ["Authorization"] = "Bearer " .. line }}) end
    n = n + 1
  end
end
local i = 0
function request()
  i = i + 1
  return requests[(i - 1) % #requests + 1]
end
"#,
            tokens_path.display()
        ),
    )
    .unwrap();

    let (mut apache, apache_base) = start_apache(&dir.join("apache"));
    // Apache accepts the token, and refuses a forged one, before it is measured.
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{apache_base}/api/v1/me")).bearer_auth(&one).send().await.unwrap().status(), 200, "Apache accepts the token");
    // A signature changed in its middle (the last base64url character may
    // carry only padding bits).
    let at = one.rfind('.').unwrap() + 40;
    let forged = format!("{}{}{}", &one[..at], if &one[at..at + 1] == "A" { "B" } else { "A" }, &one[at + 1..]);
    assert_eq!(http.get(format!("{apache_base}/api/v1/me")).bearer_auth(&forged).send().await.unwrap().status(), 401, "Apache refuses a forged one");
    assert_eq!(http.get(srv.url("/api/v1/me")).bearer_auth(&forged).send().await.unwrap().status(), 401, "Portcullis refuses a forged one");

    let base = srv.base.clone();
    let auth = format!("Authorization: Bearer {one}");
    let (cookie_rps, repeat_rps, pool_rps, apache_rps) = tokio::task::spawn_blocking(move || {
        let c = wrk("session cookie", &base, secs, &["-H", &cookie]);
        let r = wrk("one bearer token, repeated", &base, secs, &["-H", &auth]);
        // BENCH_PERF=1: a `perf` profile of this process (the server) while
        // it verifies fresh tokens, in target/bench-bearer.perf.data.
        let perf = std::env::var_os("BENCH_PERF").map(|_| {
            Command::new("perf")
                .args(["record", "-F", "499", "--call-graph", "dwarf,16384", "-o", "target/bench-bearer.perf.data", "-p", &std::process::id().to_string(), "--", "sleep", &secs.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("perf must be installed (apt-get install linux-perf)")
        });
        let p = wrk("a fresh RS256 token per request", &base, secs, &["-s", lua.to_str().unwrap()]);
        if let Some(mut perf) = perf {
            let _ = perf.wait();
        }
        // The same requests (same script, same header sizes) to a route that
        // checks no token: what wrk, the transport and HTTP cost, without
        // the verification.
        wrk_path("the same fresh-token requests to /healthz (no token checked)", &base, "/healthz", secs, &["-s", lua.to_str().unwrap()], Some(&|| cpu_secs("self")));
        let a = wrk_path("Apache httpd + mod_auth_openidc, a fresh RS256 token per request", &apache_base, "/api/v1/me", secs, &["-s", lua.to_str().unwrap()], None);
        (c, r, p, a)
    })
    .await
    .unwrap();
    let _ = apache.kill();
    let _ = apache.wait();
    println!("summary: fresh tokens verified by Portcullis {pool_rps:.0}/s, by Apache + mod_auth_openidc {apache_rps:.0}/s: {:.2}x", pool_rps / apache_rps);
    let requests = pool_rps * secs as f64;
    println!("summary: cookie {cookie_rps:.0} req/s; repeated bearer {repeat_rps:.0} req/s ({:+.1}% vs cookie); fresh tokens {pool_rps:.0} verified req/s ({requests:.0} requests from a pool of {pool}{})",
        (repeat_rps / cookie_rps - 1.0) * 100.0,
        if requests.max(apache_rps * secs as f64) > pool as f64 { ": the pool was too small, tokens repeated" } else { ", none repeated" });
    std::fs::remove_dir_all(&dir).ok();
}
