//! Test databases for this crate's conformance suite and the server's
//! tests: a fresh SQLite file, or a fresh PostgreSQL schema, so that test
//! runs never collide. Compiled only with the `testing` feature.

use crate::SqlStore;
use sqlx::Executor;

/// A fresh database for one test, dropped (SQLite file) or left to `cleanup`.
pub struct TestDb {
    /// The store on it, migrated.
    pub store: SqlStore,
    /// Its connection URL.
    pub url: String,
    _dir: Option<TempDir>,
    pg_schema: Option<(String, String)>,
}

/// A temporary folder removed on drop (no extra crate needed for this).
pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new temporary folder.
pub fn temp_dir() -> TempDir {
    let p = std::env::temp_dir().join(format!("portcullis-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&p).unwrap();
    TempDir(p)
}

/// The test PostgreSQL (`PORTCULLIS_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
pub fn postgres_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether an unreachable PostgreSQL is a failure (`PORTCULLIS_REQUIRE_POSTGRES=1`, as in CI).
pub fn postgres_required() -> bool {
    matches!(std::env::var("PORTCULLIS_REQUIRE_POSTGRES").as_deref(), Ok("1") | Ok("true"))
}

impl TestDb {
    /// A fresh SQLite file in a temporary folder.
    pub async fn sqlite() -> TestDb {
        let dir = temp_dir();
        let url = format!("sqlite://{}?mode=rwc", dir.0.join("test.db").display());
        let store = SqlStore::connect(&url, 8).await.unwrap();
        store.migrate().await.unwrap();
        TestDb { store, url, _dir: Some(dir), pg_schema: None }
    }

    /// A fresh schema in the test PostgreSQL, or `None` (with a notice) when
    /// it cannot be reached and is not required.
    pub async fn postgres() -> Option<TestDb> {
        let base = postgres_url();
        let admin = match SqlStore::connect(&base, 1).await {
            Ok(s) => s,
            Err(e) => {
                if postgres_required() {
                    panic!("PostgreSQL at {base} is required (PORTCULLIS_REQUIRE_POSTGRES) but unreachable: {e}");
                }
                eprintln!("SKIPPED (PostgreSQL unreachable at {base}): {e}");
                return None;
            }
        };
        admin.close().await;
        let schema = format!("pt_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::postgres::PgPool::connect(&base).await.unwrap();
        pool.execute(format!("CREATE SCHEMA {schema}").as_str()).await.unwrap();
        pool.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let store = SqlStore::connect(&url, 8).await.unwrap();
        store.migrate().await.unwrap();
        Some(TestDb { store, url, _dir: None, pg_schema: Some((base, schema)) })
    }

    /// Runs `sql` as it is (for tests that tamper with stored rows).
    pub async fn raw_execute(&self, sql: &str) -> Result<(), String> {
        use sqlx::any::AnyPoolOptions;
        let pool = AnyPoolOptions::new().max_connections(1).connect(&self.url).await.map_err(|e| e.to_string())?;
        let r = pool.execute(sql).await.map(|_| ()).map_err(|e| e.to_string());
        pool.close().await;
        r
    }

    /// Column `v` of every row `sql` returns, as text.
    pub async fn raw_fetch_strings(&self, sql: &str) -> Vec<String> {
        use sqlx::any::AnyPoolOptions;
        use sqlx::Row;
        let pool = AnyPoolOptions::new().max_connections(1).connect(&self.url).await.unwrap();
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows.iter().map(|r| r.try_get::<Option<String>, _>("v").unwrap().unwrap_or_default()).collect()
    }

    /// Drops the PostgreSQL schema (SQLite files go with their folder).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((base, schema)) = self.pg_schema {
            if let Ok(pool) = sqlx::postgres::PgPool::connect(&base).await {
                let _ = pool.execute(format!("DROP SCHEMA {schema} CASCADE").as_str()).await;
                pool.close().await;
            }
        }
    }
}

impl TestDb {
    /// A second handle on the same database (for cleanup after the body).
    pub fn handle(db: &TestDb) -> TestDb {
        TestDb { store: db.store.clone(), url: db.url.clone(), _dir: None, pg_schema: db.pg_schema.clone() }
    }
}
