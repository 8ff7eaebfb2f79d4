//! Automations behind Portcullis, end to end on SQLite and PostgreSQL: a
//! real upstream automation, driven through the kickoff proxy by an owner, a
//! whitelisted member and a member who is not; environment variables; usage
//! and automations dashboards; the platform CLI's routes; key rotation.


use portcullis_api::*;
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use crate::support::*;
use crate::upstream::Upstream;

const TOKEN: &str = "upstream-tok-SECRET-7f3a";

async fn member(srv: &TestServer, owner: &Client, email: &str, role: Option<uuid::Uuid>) -> (Client, MemberInfo) {
    let m = owner.create_user(&CreateUser { email: email.into(), display_name: None, password: Some("member passphrase 1".into()), role_id: role }).await.unwrap();
    let mut c = srv.client();
    c.login_local(email, "member passphrase 1").await.unwrap();
    (c, m)
}

fn register(name: &str, url: &str, private: bool) -> CreateAutomation {
    CreateAutomation {
        name: name.into(),
        description: "writes reports".into(),
        visibility: private.then(|| "private".into()),
        upstream_url: url.into(),
        upstream_token: TOKEN.into(),
    }
}

each_backend!(three_users_through_the_kickoff_proxy, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let (alice, alice_m) = member(&srv, &owner, "alice@example.com", None).await;
    let (bob, _) = member(&srv, &owner, "bob@example.com", None).await;
    let a = owner.create_automation(&register("Research Crew", &up.url, true)).await.unwrap();
    assert!(a.has_upstream_token);
    owner
        .set_automation_access(a.id, &AutomationAccessInfo {
            visibility: "private".into(),
            grants: vec![GrantInfo { subject_type: "user".into(), subject_id: alice_m.user.id, permissions: vec!["run".into(), "traces".into()] }],
        })
        .await
        .unwrap();

    // Alice, whitelisted: inputs, kickoff, status, executions.
    let inputs = alice.automation_inputs(a.id).await.unwrap();
    assert_eq!(inputs["inputs"][0], "topic");
    let k = alice.kickoff(a.id, &serde_json::json!({"topic": "owls", "audience": "kids"})).await.unwrap();
    let kid = k["kickoff_id"].as_str().unwrap().to_owned();
    let st = alice.kickoff_status(a.id, &kid).await.unwrap();
    assert_eq!(st["state"], "completed");
    assert_eq!(st["result"], "report on \"owls\"");
    let ex = alice.executions(a.id).await.unwrap();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].kickoff_id.as_deref(), Some(kid.as_str()));
    assert_eq!(ex[0].state, "completed");
    assert_eq!(ex[0].user_id, Some(alice_m.user.id));
    assert!(ex[0].inputs_bytes > 20 && ex[0].upstream_latency_ms.is_some() && ex[0].error.is_none());

    // The owner sees it all; Bob sees nothing and gets 404 everywhere.
    assert_eq!(owner.executions(a.id).await.unwrap().len(), 1);
    owner.kickoff(a.id, &serde_json::json!({"topic": "bats"})).await.unwrap();
    assert!(bob.automations().await.unwrap().is_empty());
    assert_eq!(bob.automation_inputs(a.id).await.unwrap_err().status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(bob.kickoff(a.id, &serde_json::json!({})).await.unwrap_err().status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(bob.kickoff_status(a.id, &kid).await.unwrap_err().status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(bob.executions(a.id).await.unwrap_err().status(), Some(StatusCode::NOT_FOUND));
    let crews: Vec<serde_json::Value> = bob.get("/crewai_plus/api/v1/crews").await.unwrap();
    assert!(crews.is_empty());
    // A hidden private crew and a crew that does not exist answer alike.
    let hidden = bob.get::<serde_json::Value>("/crewai_plus/api/v1/crews/by-name/Research%20Crew/status").await.unwrap_err();
    let missing = bob.get::<serde_json::Value>("/crewai_plus/api/v1/crews/by-name/Nothing/status").await.unwrap_err();
    assert_eq!(hidden.status(), missing.status());
    assert_eq!(hidden.to_string().split('(').next(), missing.to_string().split('(').next());
    assert_eq!(bob.automations_dashboard().await.unwrap().len(), 0);
    assert_eq!(alice.automations_dashboard().await.unwrap().len(), 1);

    // The upstream got its own token, and nothing of the callers' requests.
    let seen = up.seen.lock().unwrap();
    assert_eq!(seen.kickoffs.len(), 2);
    for h in &seen.headers {
        assert_eq!(h["authorization"], format!("Bearer {TOKEN}").as_str());
        assert!(h.get("cookie").is_none() && h.get("x-csrf-token").is_none() && h.get("x-organization-id").is_none());
    }
});

each_backend!(bad_input_is_refused_and_changes_nothing, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let a = owner.create_automation(&register("Crew", &up.url, false)).await.unwrap();
    for (url, code) in [
        ("http://169.254.169.254/latest", "upstream_not_allowed"), ("http://[fe80::1]:8080", "upstream_not_allowed"),
        // Security review item 8: the other clouds' metadata services, and IPv6 forms of them.
        ("http://[fd00:ec2::254]/", "upstream_not_allowed"), ("http://100.100.100.200/", "upstream_not_allowed"), ("http://192.0.0.192/", "upstream_not_allowed"),
        ("http://[64:ff9b::a9fe:a9fe]/", "upstream_not_allowed"), ("http://[64:ff9b:1::a9fe:a9fe]/", "upstream_not_allowed"), ("http://[::ffff:a9fe:a9fe]/", "upstream_not_allowed"),
        ("http://[2002:a9fe:a9fe::1]/", "upstream_not_allowed"), ("http://[64:ff9b::6464:64c8]/", "upstream_not_allowed"),
        ("ftp://x.example", "invalid_upstream_url"), ("http://user:pw@x.example", "invalid_upstream_url"), ("not a url", "invalid_upstream_url"), ("http://x.example/?t=1", "invalid_upstream_url")] {
        let e = owner.create_automation(&register("Other", url, false)).await.unwrap_err();
        assert_eq!(e.code(), Some(code), "{url}");
        if code == "upstream_not_allowed" {
            let e = owner.update_automation(a.id, &UpdateAutomation { upstream_url: Some(url.into()), ..Default::default() }).await.unwrap_err();
            assert_eq!(e.code(), Some(code), "{url}");
        }
    }
    let e = owner.create_automation(&register("crew", &up.url, false)).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::CONFLICT));
    assert_eq!(owner.automations().await.unwrap().len(), 1);

    let e = owner.env_put(&PutEnvVar { name: "MY VAR".into(), value: "x".into(), automation_id: None }).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_name"));
    for bad in ["lower", "1ABC", "A-B", ""] {
        assert!(owner.env_put(&PutEnvVar { name: bad.into(), value: "x".into(), automation_id: None }).await.is_err(), "{bad}");
    }
    let e = owner.env_put(&PutEnvVar { name: "BIG".into(), value: "x".repeat(33 * 1024), automation_id: None }).await.unwrap_err();
    assert_eq!(e.code(), Some("value_too_large"));
    assert!(owner.env_list().await.unwrap().is_empty());

    let big = serde_json::json!({"inputs": {"blob": "x".repeat(1024 * 1024)}});
    let r = owner.request(Method::POST, &format!("/api/v1/automations/{}/kickoff", a.id)).json(&big).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let e = owner.kickoff(a.id, &serde_json::json!("not an object")).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_body"));
    for bad in ["..%2F..%2Fadmin", "a%20b", "x.y", "%2e%2e"] {
        let r = owner.request(Method::GET, &format!("/api/v1/automations/{}/status/{bad}", a.id)).send().await.unwrap();
        // `%2e%2e` is resolved away by the client's URL parser (404: no such route); the rest reach the handler (400).
        assert!(r.status() == StatusCode::BAD_REQUEST || (bad == "%2e%2e" && r.status() == StatusCode::NOT_FOUND), "{bad}: {}", r.status());
    }
    assert!(owner.executions(a.id).await.unwrap().is_empty());
    assert!(up.seen.lock().unwrap().headers.is_empty(), "nothing reached the upstream");
});

each_backend!(failing_upstreams_give_502_and_504_naming_the_automation, Options { extra_env: vec![("PORTCULLIS_UPSTREAM_TIMEOUT", "1s".into())], ..Options::default() }, |srv| async move {
    let owner = srv.owner().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dead = owner.create_automation(&register("Dead Crew", &format!("http://{closed}"), false)).await.unwrap();
    let e = owner.kickoff(dead.id, &serde_json::json!({})).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::BAD_GATEWAY));
    assert!(e.to_string().contains("`Dead Crew` is unreachable"), "{e}");
    let ex = owner.executions(dead.id).await.unwrap();
    assert_eq!(ex[0].state, "failed");
    assert!(ex[0].error.as_deref().unwrap().contains("unreachable"));

    let wrong = Upstream::start("another token").await;
    let rejecting = owner.create_automation(&register("Rejecting Crew", &wrong.url, false)).await.unwrap();
    let e = owner.automation_inputs(rejecting.id).await.unwrap_err();
    assert_eq!(e.code(), Some("upstream_rejected_token"));

    let slow = Upstream::start_with_delay(TOKEN, Duration::from_secs(3)).await;
    let fast = Upstream::start(TOKEN).await;
    let s = owner.create_automation(&register("Slow Crew", &slow.url, false)).await.unwrap();
    let f = owner.create_automation(&register("Fast Crew", &fast.url, false)).await.unwrap();
    let o2 = owner.clone();
    let pending = tokio::spawn(async move { o2.kickoff(s.id, &serde_json::json!({})).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    owner.kickoff(f.id, &serde_json::json!({})).await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(900), "a slow upstream held up another call");
    let e = pending.await.unwrap().unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::GATEWAY_TIMEOUT));
    assert!(e.to_string().contains("`Slow Crew` did not answer"), "{e}");
});

each_backend!(health_is_checked, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let a = owner.create_automation(&register("Crew", &up.url, false)).await.unwrap();
    assert_eq!(a.health.state, "unknown");
    portcullis_server::health::check_all(&srv.state).await;
    let a2 = owner.automation(a.id).await.unwrap();
    assert_eq!(a2.health.state, "healthy");
    assert!(a2.health.checked_at.is_some());
    up.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    portcullis_server::health::check_all(&srv.state).await;
    let a3 = owner.automation(a.id).await.unwrap();
    assert_eq!(a3.health.state, "unhealthy");
    assert_eq!(a3.health.reason.as_deref(), Some("connection failed"));
    let status: serde_json::Value = owner.get("/crewai_plus/api/v1/crews/by-name/crew/status").await.unwrap();
    assert_eq!(status["status"], "unhealthy");
});

each_backend!(environment_variables_are_sealed_masked_and_audited, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let a = owner.create_automation(&register("Crew", &up.url, true)).await.unwrap();
    let org_var = owner.env_put(&PutEnvVar { name: "OPENAI_API_KEY".into(), value: "sk-SECRET-org-value".into(), automation_id: None }).await.unwrap();
    let auto_var = owner.env_put(&PutEnvVar { name: "SERPER_KEY".into(), value: "serper-SECRET-value".into(), automation_id: Some(a.id) }).await.unwrap();
    assert_eq!(org_var.masked_value, "********");
    let list = owner.env_list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(!serde_json::to_string(&list).unwrap().contains("SECRET"));
    assert_eq!(owner.env_value(org_var.id).await.unwrap().value, "sk-SECRET-org-value");
    assert_eq!(owner.env_value(auto_var.id).await.unwrap().value, "serper-SECRET-value");
    // Replacing keeps the id.
    let again = owner.env_put(&PutEnvVar { name: "OPENAI_API_KEY".into(), value: "sk-SECRET-new".into(), automation_id: None }).await.unwrap();
    assert_eq!(again.id, org_var.id);
    assert_eq!(owner.env_value(org_var.id).await.unwrap().value, "sk-SECRET-new");
    let reads = owner.audit("?action=env.read").await.unwrap();
    assert_eq!(reads.len(), 3);
    assert!(!serde_json::to_string(&reads).unwrap().contains("SECRET"));

    // A member sees org-wide names but not the private automation's variable;
    // a role without environment_variables cannot read values.
    let (m, _) = member(&srv, &owner, "m@example.com", None).await;
    let names: Vec<String> = m.env_list().await.unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, vec!["OPENAI_API_KEY"]);
    assert_eq!(m.env_value(auto_var.id).await.unwrap_err().status(), Some(StatusCode::NOT_FOUND));
    let viewer = owner.create_role(&CreateRole { name: "Viewer".into(), permissions: BTreeMap::from([("usage_dashboards".to_string(), "read".to_string())]) }).await.unwrap();
    let (v, _) = member(&srv, &owner, "v@example.com", Some(viewer.id)).await;
    let e = v.env_value(org_var.id).await.unwrap_err();
    assert!(e.to_string().contains("`environment_variables: manage`"), "{e}");

    // A sealed value copied onto another row does not open there.
    srv.db
        .raw_execute(&format!("UPDATE env_vars SET sealed_value = (SELECT sealed_value FROM env_vars WHERE id = '{}') WHERE id = '{}'", auto_var.id, org_var.id))
        .await
        .unwrap();
    let e = owner.env_value(org_var.id).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert!(!e.to_string().contains("SECRET"));
    owner.env_delete(auto_var.id).await.unwrap();
    assert_eq!(owner.env_list().await.unwrap().len(), 1);
});

each_backend!(secrets_never_appear_in_responses_or_the_database, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let a = owner.create_automation(&register("Crew", &up.url, false)).await.unwrap();
    owner.env_put(&PutEnvVar { name: "DB_PASSWORD".into(), value: "pw-SECRET-9c1d".into(), automation_id: None }).await.unwrap();
    owner.kickoff(a.id, &serde_json::json!({"topic": "x"})).await.unwrap();
    for path in ["/api/v1/automations".to_string(), format!("/api/v1/automations/{}", a.id), "/api/v1/env".into(), "/api/v1/dashboard/automations".into(), "/crewai_plus/api/v1/crews".into(), "/api/v1/audit?limit=1000".into(), format!("/api/v1/automations/{}/executions", a.id)] {
        let body = owner.request(Method::GET, &path).send().await.unwrap().text().await.unwrap();
        assert!(!body.contains(TOKEN) && !body.contains("pw-SECRET-9c1d"), "{path}: {body}");
    }
    // Every text column of every table, read straight from the database.
    for (table, cols) in [("automations", "upstream_url || coalesce(upstream_token, '') || name"), ("env_vars", "sealed_value || name"), ("audit_events", "detail || coalesce(target, '')"), ("executions", "coalesce(error, '') || state"), ("key_check", "sealed")] {
        let dump = srv.db.raw_fetch_strings(&format!("SELECT {cols} AS v FROM {table}")).await;
        for v in dump {
            assert!(!v.contains(TOKEN) && !v.contains("pw-SECRET-9c1d"), "{table} holds a secret in clear: {v}");
        }
    }
    if let Some(path) = srv.db.url.strip_prefix("sqlite://").and_then(|p| p.split('?').next()) {
        srv.db.raw_execute("PRAGMA wal_checkpoint(TRUNCATE)").await.ok();
        for f in [path.to_string(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&f) {
                let text = String::from_utf8_lossy(&bytes);
                assert!(!text.contains(TOKEN) && !text.contains("pw-SECRET-9c1d"), "{f} holds a secret in clear");
            }
        }
    }
});

each_backend!(usage_and_dashboard_count_what_happened, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let _ = srv.client().login_local(ADMIN_EMAIL, "wrong password!!").await;
    let a = owner.create_automation(&register("Crew", &up.url, false)).await.unwrap();
    for _ in 0..3 {
        owner.kickoff(a.id, &serde_json::json!({"topic": "x"})).await.unwrap();
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dead = owner.create_automation(&register("Dead", &format!("http://{closed}"), false)).await.unwrap();
    let _ = owner.kickoff(dead.id, &serde_json::json!({})).await;
    srv.state.usage.flush().await;
    let r = owner.usage("?bucket=1h").await.unwrap();
    assert_eq!(r.bucket_seconds, 3600);
    assert_eq!(r.buckets.len(), 24);
    assert_eq!(r.total.kickoffs, 4);
    assert_eq!(r.total.upstream_errors, 1);
    assert_eq!(r.total.signins_success, 1);
    assert_eq!(r.total.signins_failure, 1);
    assert_eq!(r.total.signins_by_provider["local"], 2);
    assert!(r.total.api_calls >= 6);
    assert!(r.total.latency_p50_ms.is_some() && r.total.latency_p95_ms.unwrap() >= r.total.latency_p50_ms.unwrap());
    assert_eq!(r.kickoffs_by_automation[&a.id.to_string()], 3);
    assert_eq!(r.buckets.last().unwrap().kickoffs, 4);
    let day = owner.usage("?bucket=1d").await.unwrap();
    // Day buckets widen the last 24 hours to whole days: one or two of them.
    assert!((1..=2).contains(&day.buckets.len()), "{}", day.buckets.len());
    assert_eq!(day.buckets.iter().map(|b| b.kickoffs).sum::<i64>(), 4);
    assert_eq!(day.total.kickoffs, 4);
    for bad in ["?bucket=90m", "?bucket=x", "?from=yesterday", "?colour=red", "?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z"] {
        assert_eq!(owner.usage(bad).await.unwrap_err().status(), Some(StatusCode::BAD_REQUEST), "{bad}");
    }
    let dash = owner.automations_dashboard().await.unwrap();
    let crew = dash.iter().find(|d| d.automation.name == "Crew").unwrap();
    assert_eq!(crew.executions_24h, 3);
    assert_eq!(crew.failures_24h, 0);
    assert_eq!(crew.last_execution.as_ref().unwrap().state, "running");
    let d = dash.iter().find(|d| d.automation.name == "Dead").unwrap();
    assert_eq!((d.executions_24h, d.failures_24h), (1, 1));
    // A role without usage_dashboards is refused.
    let none = owner.create_role(&CreateRole { name: "Nobody".into(), permissions: BTreeMap::new() }).await.unwrap();
    let (n, _) = member(&srv, &owner, "n@example.com", Some(none.id)).await;
    assert!(n.usage("").await.unwrap_err().to_string().contains("`usage_dashboards: read`"));
});

each_backend!(the_platform_cli_routes, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let a = owner.create_automation(&register("Research Crew", &up.url, false)).await.unwrap();
    let orgs: Vec<serde_json::Value> = owner.get("/crewai_plus/api/v1/me/organizations").await.unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["name"], "Default");
    let org_id = orgs[0]["uuid"].as_str().unwrap().to_owned();
    let r = owner.http().get(srv.url("/crewai_plus/api/v1/crews")).header("x-crewai-organization-id", &org_id).send().await.unwrap();
    let crews: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(crews[0]["uuid"], a.id.to_string());
    let st: serde_json::Value = owner.get(&format!("/crewai_plus/api/v1/crews/{}/status", a.id)).await.unwrap();
    assert_eq!(st["name"], "Research Crew");
    let st: serde_json::Value = owner.get("/crewai_plus/api/v1/crews/by-name/Research%20Crew/status").await.unwrap();
    assert_eq!(st["name"], "Research Crew");
    let logs: serde_json::Value = owner.get(&format!("/crewai_plus/api/v1/crews/{}/logs/deployment", a.id)).await.unwrap();
    assert!(logs["executions"].is_array());
    for (m, p) in [(Method::POST, "/crewai_plus/api/v1/crews".to_string()), (Method::POST, "/crewai_plus/api/v1/crews/zip".into()), (Method::POST, format!("/crewai_plus/api/v1/crews/{}/deploy", a.id)), (Method::POST, "/crewai_plus/api/v1/crews/by-name/x/deploy".into())] {
        let r = owner.request(m, &p).json(&serde_json::json!({})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED, "{p}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert!(b["message"].as_str().unwrap().contains("POST /api/v1/automations"), "{b}");
    }
    owner.send_empty(Method::DELETE, "/crewai_plus/api/v1/crews/by-name/research%20crew").await.unwrap();
    assert!(owner.automations().await.unwrap().is_empty());
});

each_backend!(key_rotation_keeps_every_secret_readable, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let a = owner.create_automation(&register("Crew", &up.url, false)).await.unwrap();
    let v = owner.env_put(&PutEnvVar { name: "K".into(), value: "value-1".into(), automation_id: None }).await.unwrap();
    let old_key = srv.env["PORTCULLIS_SECRET_KEY"].clone();
    let new_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    // A replica with the new key and the old one as previous reads everything.
    let replica = TestServer::on_database(
        portcullis_storage::testing::TestDb::handle(&srv.db),
        Options { bootstrap_admin: false, extra_env: vec![("PORTCULLIS_SECRET_KEY", new_key.into()), ("PORTCULLIS_SECRET_KEY_PREVIOUS", old_key.clone())], listener: None },
    )
    .await;
    let mut r = replica.client();
    r.login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    assert_eq!(r.env_value(v.id).await.unwrap().value, "value-1");
    let rot = portcullis_server::secrets::rotate(&replica.state).await.unwrap();
    assert_eq!((rot.env_vars, rot.automation_tokens), (1, 1));
    assert_eq!(portcullis_server::secrets::rotate(&replica.state).await.unwrap().already_current, 2);
    // After rotation the new key alone suffices, proxied calls included.
    let mut env = srv.env.clone();
    env.insert("PORTCULLIS_SECRET_KEY".into(), new_key.into());
    let config = portcullis_server::config::Config::from_env(&env).unwrap();
    let (state, _, _) = portcullis_server::start(config).await.unwrap();
    let org = portcullis_domain::OrgId(owner.organizations().await.unwrap()[0].id);
    let var = state.store.get_env(org, v.id).await.unwrap().unwrap();
    assert_eq!(portcullis_server::api::env::open(&state, &var).unwrap(), b"value-1");
    assert_eq!(r.automation_inputs(a.id).await.unwrap()["inputs"][0], "topic");
    // A wrong key is detected at start-up.
    env.insert("PORTCULLIS_SECRET_KEY".into(), "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=".into());
    let err = portcullis_server::start(portcullis_server::config::Config::from_env(&env).unwrap()).await.err().unwrap();
    assert!(err.to_string().contains("PORTCULLIS_SECRET_KEY is not the key"), "{err}");
});

each_backend!(the_upstream_allow_list_is_enforced, Options { extra_env: vec![("PORTCULLIS_UPSTREAM_ALLOWED_HOSTS", "crews.internal.example, 127.0.0.1".into())], ..Options::default() }, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let ok = owner.create_automation(&register("Allowed", &up.url, false)).await.unwrap();
    assert_eq!(owner.automation_inputs(ok.id).await.unwrap()["inputs"][0], "topic");
    let e = owner.create_automation(&register("Elsewhere", "https://evil.example", false)).await.unwrap_err();
    assert_eq!(e.code(), Some("upstream_not_allowed"));
    assert!(e.to_string().contains("PORTCULLIS_UPSTREAM_ALLOWED_HOSTS"), "{e}");
    let e = owner.update_automation(ok.id, &UpdateAutomation { upstream_url: Some("http://localhost:1".into()), ..Default::default() }).await.unwrap_err();
    assert_eq!(e.code(), Some("upstream_not_allowed"));
});

// Security review item 3: the automation's token is the key to its own
// host. Someone with `manage_settings` who points the automation at their
// own server receives nothing: the token is dropped with the old host
// (and could not be opened for a new one).
each_backend!(an_automations_token_does_not_follow_a_new_host, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let theirs = Upstream::start("whatever").await;
    let owner = srv.owner().await;
    let (mallory, m) = member(&srv, &owner, "mallory@example.com", None).await;
    let a = owner.create_automation(&register("Crew", &up.url, true)).await.unwrap();
    owner
        .set_automation_access(a.id, &AutomationAccessInfo {
            visibility: "private".into(),
            grants: vec![GrantInfo { subject_type: "user".into(), subject_id: m.user.id, permissions: vec!["run".into(), "manage_settings".into()] }],
        })
        .await
        .unwrap();
    // A new path on the same origin keeps the token.
    let same = mallory.update_automation(a.id, &UpdateAutomation { upstream_url: Some(format!("{}/", up.url)), ..Default::default() }).await.unwrap();
    assert!(same.has_upstream_token);
    // Another port (or host, or scheme) drops it.
    let moved = mallory.update_automation(a.id, &UpdateAutomation { upstream_url: Some(theirs.url.clone()), ..Default::default() }).await.unwrap();
    assert!(!moved.has_upstream_token, "the token followed the automation to {}", theirs.url);
    let e = mallory.kickoff(a.id, &serde_json::json!({"topic": "secrets"})).await.unwrap_err();
    assert_eq!(e.code(), Some("no_upstream_token"), "{e}");
    portcullis_server::health::check_all(&srv.state).await;
    let seen = theirs.seen.lock().unwrap().headers.clone();
    assert!(seen.iter().all(|h| !format!("{h:?}").contains(TOKEN)), "the new host received the token: {seen:?}");
    let audit = owner.audit("?action=automation.update").await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.detail["upstream_token_dropped"] == true).count(), 1, "{audit:?}");
    // Moving back does not bring the old token back; the owner sets one for the new host.
    let back = owner.update_automation(a.id, &UpdateAutomation { upstream_url: Some(up.url.clone()), ..Default::default() }).await.unwrap();
    assert!(!back.has_upstream_token);
    let fixed = owner.update_automation(a.id, &UpdateAutomation { upstream_url: Some(up.url.clone()), upstream_token: Some(TOKEN.into()), ..Default::default() }).await.unwrap();
    assert!(fixed.has_upstream_token);
    assert_eq!(owner.automation_inputs(a.id).await.unwrap()["inputs"][0], "topic");
});

// Security review item 3: health checks apply the host policy at every
// call, as the proxy does. A replica started with a tighter
// `PORTCULLIS_UPSTREAM_ALLOWED_HOSTS` does not call an automation
// registered before.
each_backend!(health_checks_apply_the_host_policy_at_every_call, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let a = owner.create_automation(&register("Crew", &up.url, false)).await.unwrap();
    let tight = Options { bootstrap_admin: false, extra_env: vec![("PORTCULLIS_UPSTREAM_ALLOWED_HOSTS", "crews.internal.example".into())], listener: None };
    let replica = TestServer::on_database(portcullis_storage::testing::TestDb::handle(&srv.db), tight).await;
    portcullis_server::health::check_all(&replica.state).await;
    assert!(up.seen.lock().unwrap().headers.is_empty(), "the replica called a host its policy refuses");
    let checked = owner.automation(a.id).await.unwrap();
    assert_eq!(checked.health.state, "unhealthy");
    assert!(checked.health.reason.as_deref().unwrap_or_default().contains("PORTCULLIS_UPSTREAM_ALLOWED_HOSTS"), "{:?}", checked.health);
});

// Tokens sealed before they were bound to their origin are re-sealed for
// the origin they have at the next start, and keep working.
each_backend!(tokens_from_before_the_origin_binding_keep_working, |srv| async move {
    let up = Upstream::start(TOKEN).await;
    let owner = srv.owner().await;
    let a = owner.create_automation(&register("Crew", &up.url, false)).await.unwrap();
    let id = portcullis_domain::AutomationId(a.id);
    let stored = srv.state.store.get_automation(portcullis_domain::OrgId(owner.organizations().await.unwrap()[0].id), id).await.unwrap().unwrap();
    let current = stored.upstream_token_sealed.unwrap();
    let legacy = srv.state.sealer.seal(TOKEN.as_bytes(), &portcullis_server::crypto::aad(&["automation-token", &a.id.to_string()]));
    assert!(srv.state.store.reseal_automation_token(id, &current, &legacy).await.unwrap());
    srv.state.automations.clear();
    assert!(owner.automation_inputs(a.id).await.is_err(), "a legacy token does not open until it is bound");
    let restarted = TestServer::on_database(portcullis_storage::testing::TestDb::handle(&srv.db), Options { bootstrap_admin: false, ..Options::default() }).await;
    let mut again = restarted.client();
    again.login_local(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    assert_eq!(again.automation_inputs(a.id).await.unwrap()["inputs"][0], "topic");
});
