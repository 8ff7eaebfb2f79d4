//! SCIM at scale (docs/benchmarks.md): an organization with 10,000
//! provisioned users and 500 groups (20 members each), on a real server
//! over loopback HTTP, measured as an identity provider uses it:
//! 1. `GET /scim/v2/Users?filter=userName eq "…"` (the lookup Okta and Entra
//!    ID make before every create), one request at a time, random users;
//! 2. `PATCH /scim/v2/Groups/{id}` adding 100 members in one operation
//!    (what a group push of 100 people sends), each on another group.
//!
//! 3. the same PATCH, and one removing 100 members, while the organization's
//!    group rules give a role for these groups (`scim_group` rules that
//!    refuse otherwise): membership then follows the groups at once.
//!
//! Every request is a full one: token check, audit entry, the answer.
//!
//! Usage: cargo run --release -p portcullis-server --example bench_scim [sqlite|postgres] [users] [groups]

#[path = "../tests/support/mod.rs"]
mod support;

use portcullis_storage::{ScimGroupFields, ScimUserFields};
use rand::seq::SliceRandom;
use std::time::{Duration, Instant};
use support::{Db, Options, TestServer};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(what: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{what:<44} n={:<5} p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.9),
        percentile(&v, 0.99),
        v.last().unwrap().as_secs_f64() * 1000.0
    );
}

fn person(i: usize) -> ScimUserFields {
    let user_name = format!("user{i:05}@bench.example");
    ScimUserFields {
        document: serde_json::json!({ "userName": user_name, "active": true, "displayName": format!("User {i}"), "emails": [{ "value": user_name, "type": "work", "primary": true }] }).to_string(),
        email: user_name.clone(),
        external_id: Some(format!("ext-{i}")),
        display_name: Some(format!("User {i}")),
        active: true,
        user_name,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let db = match args.get(1).map(String::as_str) {
        Some("postgres") => Db::Postgres,
        _ => Db::Sqlite,
    };
    let users: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let groups: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(500);
    let srv = TestServer::start_with(db, Options::default()).await.expect("PostgreSQL is not reachable");
    let owner = srv.owner().await;
    let org = owner.organizations().await.unwrap()[0].id;
    let org = portcullis_domain::OrgId(org);
    let token = owner.create_scim_token("bench").await.unwrap();
    let store = &srv.state.store;

    let seeded = Instant::now();
    let mut ids = Vec::with_capacity(users);
    for i in 0..users {
        ids.push(store.create_scim_user(org, uuid::Uuid::new_v4(), &person(i), srv.now()).await.unwrap().id);
    }
    let mut group_ids = Vec::with_capacity(groups);
    for g in 0..groups {
        let members: Vec<uuid::Uuid> = ids.iter().skip(g * 20 % users).take(20).copied().collect();
        let f = ScimGroupFields { display_name: format!("Group {g}"), external_id: None, document: serde_json::json!({ "displayName": format!("Group {g}") }).to_string() };
        group_ids.push(store.create_scim_group(org, uuid::Uuid::new_v4(), &f, &members, srv.now()).await.unwrap().id);
    }
    println!("{db:?}: seeded {users} users and {groups} groups in {:.1} s", seeded.elapsed().as_secs_f64());

    let http = reqwest::Client::new();
    let mut rng = rand::thread_rng();
    let lookup = |i: usize| {
        let url = format!("{}/Users?filter=userName%20eq%20%22user{i:05}%40bench.example%22", token.base_url);
        http.get(url).bearer_auth(&token.token).send()
    };
    for i in 0..200 {
        assert_eq!(lookup(i % users).await.unwrap().status(), 200);
    }
    let mut lookups = Vec::new();
    for _ in 0..2000 {
        let i = rand::Rng::gen_range(&mut rng, 0..users);
        let started = Instant::now();
        let resp = lookup(i).await.unwrap();
        let body: serde_json::Value = resp.json().await.unwrap();
        lookups.push(started.elapsed());
        assert_eq!(body["totalResults"], 1);
    }
    report("GET /Users?filter=userName eq (one user)", lookups);

    let mut patches = Vec::new();
    let mut pool = ids.clone();
    pool.shuffle(&mut rng);
    for (n, gid) in group_ids.iter().take(100.min(groups)).enumerate() {
        let add: Vec<serde_json::Value> = pool.iter().skip(n * 100 % users).take(100).map(|id| serde_json::json!({ "value": id.to_string() })).collect();
        let body = serde_json::json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "add", "path": "members", "value": add }] });
        let started = Instant::now();
        let resp = http.patch(format!("{}/Groups/{gid}", token.base_url)).bearer_auth(&token.token).header("content-type", "application/scim+json").body(body.to_string()).send().await.unwrap();
        let status = resp.status();
        let _ = resp.bytes().await.unwrap();
        patches.push(started.elapsed());
        assert_eq!(status, 200);
    }
    report("PATCH /Groups/{id} adding 100 members", patches);

    // Memberships follow the groups: every group gives Member.
    let version = owner.group_rules().await.unwrap().version;
    let rule = portcullis_api::GroupRuleInfo { source: "scim_group".into(), claim: None, match_: "glob".into(), pattern: "Group *".into(), role: portcullis_api::RoleRef { kind: Some("member".into()), ..Default::default() } };
    owner.put_group_rules(&portcullis_api::PutGroupRules { enabled: true, rules: vec![rule], no_match: portcullis_api::NoMatchInfo { action: "refuse".into(), role: None }, version }).await.unwrap();
    let patch = |gid: uuid::Uuid, op: &str, members: &[uuid::Uuid]| {
        let value: Vec<serde_json::Value> = members.iter().map(|id| serde_json::json!({ "value": id.to_string() })).collect();
        let body = serde_json::json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": op, "path": "members", "value": value }] });
        http.patch(format!("{}/Groups/{gid}", token.base_url)).bearer_auth(&token.token).header("content-type", "application/scim+json").body(body.to_string()).send()
    };
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    for (n, gid) in group_ids.iter().skip(100).take(100.min(groups.saturating_sub(100))).enumerate() {
        let members: Vec<uuid::Uuid> = pool.iter().skip(n * 100 % users).take(100).copied().collect();
        for (op, into) in [("add", &mut adds), ("remove", &mut removes)] {
            let started = Instant::now();
            let resp = patch(*gid, op, &members).await.unwrap();
            let status = resp.status();
            let _ = resp.bytes().await.unwrap();
            into.push(started.elapsed());
            assert_eq!(status, 200);
        }
    }
    report("with rules: PATCH adding 100 members", adds);
    report("with rules: PATCH removing 100 members", removes);
    srv.cleanup().await;
}
