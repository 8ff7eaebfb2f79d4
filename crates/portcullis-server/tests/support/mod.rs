//! A real server on a loopback port, over a fresh SQLite file or PostgreSQL
//! schema, with a manual clock.

#![allow(dead_code)]

pub mod browser;
pub mod company_ca;
pub mod hostile_idp;
pub mod oidc_peer;
pub mod saml_forge;
pub mod saml_peer;

use portcullis_api::Client;
use portcullis_domain::{Clock, ManualClock, SystemClock, Timestamp};
use portcullis_server::bootstrap::Bootstrap;
use portcullis_server::config::{Config, Env};
use portcullis_server::state::AppState;
use portcullis_storage::testing::{temp_dir, TempDir, TestDb};
use std::sync::Arc;

pub const ADMIN_EMAIL: &str = "owner@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub boot: Bootstrap,
    pub db: TestDb,
    pub env: Env,
    _dir: TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct Options {
    pub bootstrap_admin: bool,
    pub extra_env: Vec<(&'static str, String)>,
    /// A listener bound beforehand, for peers that must know our address
    /// before we start (an IdP registering our callback URL).
    pub listener: Option<std::net::TcpListener>,
}

impl Default for Options {
    fn default() -> Self {
        Self { bootstrap_admin: true, extra_env: vec![], listener: None }
    }
}

impl TestServer {
    /// `None` when the backend is PostgreSQL and it is unreachable (and not required).
    pub async fn start(db: Db) -> Option<TestServer> {
        Self::start_with(db, Options::default()).await
    }

    pub async fn start_with(db: Db, opts: Options) -> Option<TestServer> {
        let test_db = match db {
            Db::Sqlite => TestDb::sqlite().await,
            Db::Postgres => TestDb::postgres().await?,
        };
        Some(Self::on_database(test_db, opts).await)
    }

    /// A server on an existing database (a second replica, say).
    pub async fn on_database(test_db: TestDb, opts: Options) -> TestServer {
        portcullis_server::jwt_crypto::install();
        assert!(portcullis_server::jwt_crypto::installed(), "a test signed or checked a JWT before jwt_crypto::install(): the server would run on another provider than in production");
        let dir = temp_dir();
        let listener = match opts.listener {
            Some(l) => {
                l.set_nonblocking(true).unwrap();
                tokio::net::TcpListener::from_std(l).unwrap()
            }
            None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let addr = listener.local_addr().unwrap();
        let mut env = Env::new();
        env.insert("PORTCULLIS_PUBLIC_URL".into(), format!("http://{addr}"));
        env.insert("PORTCULLIS_LISTEN".into(), addr.to_string());
        env.insert("PORTCULLIS_DATA_DIR".into(), dir.0.display().to_string());
        env.insert("DATABASE_URL".into(), test_db.url.clone());
        env.insert("PORTCULLIS_SECRET_KEY".into(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
        if opts.bootstrap_admin {
            env.insert("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL".into(), ADMIN_EMAIL.into());
            env.insert("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into());
        }
        for (k, v) in opts.extra_env {
            env.insert(k.into(), v);
        }
        let config = Config::from_env(&env).unwrap();
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let (state, boot, _) = portcullis_server::start_with_clock(config, clock.clone() as Arc<dyn Clock>).await.unwrap();
        let app = portcullis_server::app(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
        });
        TestServer { base: format!("http://{addr}"), state, clock, boot, db: test_db, env, _dir: dir, task }
    }

    /// Stops the server and drops its PostgreSQL schema (SQLite files go
    /// with the temporary directory).
    pub async fn cleanup(self) {
        let keep = portcullis_storage::testing::TestDb::handle(&self.db);
        drop(self);
        keep.cleanup().await;
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base).unwrap()
    }

    /// A client signed in as the bootstrap owner.
    pub async fn owner(&self) -> Client {
        let mut c = self.client();
        c.login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
        c
    }

    /// A browser signed in as the bootstrap owner, through the local form.
    pub async fn owner_browser(&self) -> browser::Browser {
        let mut b = browser::Browser::new();
        let page = b.get(&self.url("/auth/local/login")).await.text().await.unwrap();
        let csrf = oidc_peer::hidden(&page, "csrf_token");
        let r = b.post_form(&self.url("/auth/local/login"), &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("csrf_token", &csrf)], Some(&self.base)).await;
        assert_eq!(r.status(), 303, "the owner's local sign-in");
        b
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Waits (up to 10 s) until `/readyz` says ready (providers are read in
    /// the background at start); returns its last answer.
    pub async fn wait_ready(&self) -> serde_json::Value {
        let mut ready = serde_json::Value::Null;
        for _ in 0..100 {
            ready = reqwest::get(self.url("/readyz")).await.unwrap().json().await.unwrap();
            if ready["status"] == "ready" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ready
    }
}

/// Declares `NAME::sqlite` and `NAME::postgres` tests running one body
/// against a fresh server on each backend.
#[allow(unused_macros)]
macro_rules! each_backend {
    ($name:ident, |$srv:ident| async move $body:block) => {
        each_backend!($name, Options::default(), |$srv| async move $body);
    };
    ($name:ident, $opts:expr, |$srv:ident| async move $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($srv: TestServer) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let srv = TestServer::start_with(Db::Sqlite, $opts).await.unwrap();
                body(srv).await;
            }


            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(srv) = TestServer::start_with(Db::Postgres, $opts).await {
                    let keep = portcullis_storage::testing::TestDb::handle(&srv.db);
                    body(srv).await;
                    keep.cleanup().await;
                }
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use each_backend;

/// Declares `NAME::sqlite` and `NAME::postgres` tests calling `body(Db)`,
/// for tests that start their server themselves (with peers around it).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(super::Db::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body(super::Db::Postgres).await
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;
