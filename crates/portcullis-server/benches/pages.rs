//! The admin panel's pages, server time per page (target: under 50 ms each)
//! with 1,000 automations, 500 members and a year of usage events (one
//! million) in one organization, on SQLite; see docs/benchmarks.md.
//!
//! Each request goes through the whole router (`portcullis_server::app`:
//! session lookup, the RBAC decisions, the store, the template) as an
//! owner's browser sends it, without the network. The database is built
//! once into `target/bench-pages/` (a few minutes) and reused.

mod common;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_domain::{AutomationId, Clock, RoleKind, SystemClock, Visibility};
use portcullis_storage::{NewAutomation, NewUser};
use tower::ServiceExt;

const EVENTS: usize = 1_000_000;
const AUTOMATIONS: usize = 1_000;
const MEMBERS: usize = 500;

struct Bench {
    app: axum::Router,
    cookie: String,
    automation: AutomationId,
}

fn setup(rt: &tokio::runtime::Runtime) -> Bench {
    let config = common::config("bench-pages");
    rt.block_on(async {
        let (state, _, _) = portcullis_server::start(config).await.unwrap();
        let store = &state.store;
        let org = store.list_orgs().await.unwrap()[0].id;
        let now = SystemClock.now();
        let member_role = store.get_predefined_role(org, RoleKind::Member).await.unwrap();
        let members = store.list_members(org).await.unwrap();
        let owner = members.iter().find(|m| m.role.kind == RoleKind::Owner).unwrap().user.clone();
        if members.len() < MEMBERS {
            eprintln!("building the benchmark database: {MEMBERS} members, {AUTOMATIONS} automations, {EVENTS} usage events over 365 days (once)...");
            for i in members.len()..MEMBERS {
                let u = store.create_user(NewUser { email: format!("member{i}@example.com"), display_name: format!("Member Nº {i}"), password_hash: None, factory_admin: false }, now).await.unwrap();
                store.create_member(org, u.id, member_role.id, now).await.unwrap();
            }
            let mut automations = Vec::new();
            for i in 0..AUTOMATIONS {
                let id = AutomationId::new();
                let a = NewAutomation {
                    id,
                    org_id: org,
                    name: format!("Automation {i:04} «research»"),
                    description: "Writes the weekly research digest".into(),
                    visibility: if i % 10 == 0 { Visibility::Private } else { Visibility::Organization },
                    created_by: Some(owner.id),
                    upstream_url: format!("http://automation-{i}.internal.example"),
                    upstream_token_sealed: None,
                };
                store.create_automation(a, now).await.unwrap();
                automations.push(id);
            }
            let users: Vec<_> = store.list_members(org).await.unwrap().into_iter().map(|m| m.user.id).collect();
            common::append_year_of_usage(&**store, org, &automations, &users, now, EVENTS).await;
        }
        let automation = store.list_automations_with_acls(org).await.unwrap()[0].0.id;
        assert!(owner.factory_admin);
        let set_cookie = portcullis_server::session::start::start_session(&state, &owner, "local", None, &HeaderMap::new(), None).await.unwrap();
        let cookie = set_cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
        Bench { app: portcullis_server::app(state), cookie, automation }
    })
}

fn get(rt: &tokio::runtime::Runtime, b: &Bench, path: &str) -> usize {
    let req = Request::get(path).header(header::COOKIE, &b.cookie).header(header::HOST, "127.0.0.1").body(Body::empty()).unwrap();
    let resp = rt.block_on(b.app.clone().oneshot(req)).unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let body = rt.block_on(axum::body::to_bytes(resp.into_body(), usize::MAX)).unwrap();
    body.len()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let b = setup(&rt);
    let automation = format!("/automations/{}", b.automation);
    let pages: Vec<(&str, String)> = vec![
        ("home", "/".into()),
        ("automations_list", "/automations".into()),
        ("automations_search", "/automations?q=0999".into()),
        ("automation_overview", automation.clone()),
        ("automation_visibility", format!("{automation}/visibility")),
        ("usage_24h", "/usage".into()),
        ("usage_7d", "/usage?range=7d".into()),
        ("usage_30d", "/usage?range=30d".into()),
        ("usage_year", "/usage?range=365d".into()),
        ("members", "/members".into()),
        ("env", "/env".into()),
        ("roles", "/settings/roles".into()),
        ("check_access", "/settings/check-access".into()),
        ("audit", "/audit".into()),
        ("organizations", "/organizations".into()),
        ("sign_in_settings", "/settings/sign-in".into()),
        ("account", "/account".into()),
    ];
    for (name, path) in &pages {
        eprintln!("{name}: {path} answers 200 with {} bytes", get(&rt, &b, path));
    }
    let mut g = c.benchmark_group("pages_1000_automations_500_members_1M_events");
    g.sample_size(20);
    for (name, path) in &pages {
        g.bench_function(*name, |bencher| bencher.iter(|| get(&rt, &b, path)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
