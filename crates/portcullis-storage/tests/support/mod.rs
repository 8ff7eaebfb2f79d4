//! The `each_backend!` macro: one test body, run on SQLite and on PostgreSQL.

pub use portcullis_storage::testing::TestDb;

/// Declares `NAME_sqlite` and `NAME_postgres` tests running the same body.
macro_rules! each_backend {
    ($name:ident, |$db:ident: TestDb| async move $body:block) => {
        mod $name {
            use super::*;
            async fn body($db: TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = TestDb::sqlite().await;
                let store = db.store.clone();
                let url = db.url.clone();
                let _ = (store, url);
                body_and_cleanup(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = TestDb::postgres().await {
                    body_and_cleanup(db).await;
                }
            }

            async fn body_and_cleanup(db: TestDb) {
                // Keep a handle for cleanup; the body consumes its own.
                let keep = TestDb::handle(&db);
                body(db).await;
                keep.cleanup().await;
            }
        }
    };
}
pub(crate) use each_backend;


/// A stand-in for a stored token hash: these tests look hashes up, they
/// never hash (`TokenHash::of` is unit-tested in the domain crate).
pub fn h(hash: &str) -> portcullis_domain::TokenHash {
    portcullis_domain::TokenHash::from_stored(hash.to_owned())
}
