//! The admin API and RBAC, end to end over HTTP on SQLite and PostgreSQL:
//! roles, members, automations with visibility and grants, organizations,
//! the audit log, and bad input refused without changing anything.


use portcullis_api::*;
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;
use crate::support::*;

fn perms(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Creates a member with `role` (Member when None) and returns a client
/// signed in as them.
async fn member(srv: &TestServer, owner: &Client, email: &str, role: Option<uuid::Uuid>) -> (Client, MemberInfo) {
    let m = owner
        .create_user(&CreateUser { email: email.into(), display_name: None, password: Some("member passphrase 1".into()), role_id: role })
        .await
        .unwrap();
    let mut c = srv.client();
    c.login_local(email, "member passphrase 1").await.unwrap();
    (c, m)
}

async fn status_and_body(r: reqwest::Response) -> (StatusCode, serde_json::Value) {
    let s = r.status();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

each_backend!(custom_roles_and_their_validation, |srv| async move {
    let owner = srv.owner().await;
    let dev = owner
        .create_role(&CreateRole { name: "Developer".into(), permissions: perms(&[("crews_dashboards", "write"), ("environment_variables", "manage")]) })
        .await
        .unwrap();
    assert_eq!(dev.kind, "custom");
    assert_eq!(dev.permissions["crews_dashboards"], "write");
    assert_eq!(dev.permissions["usage_dashboards"], "none");

    let bad = [
        (serde_json::json!({"name": "Viewer", "permissions": {"environment_variables": "read"}}), StatusCode::BAD_REQUEST, "allowed levels are: none, manage"),
        (serde_json::json!({"name": "Viewer", "permissions": {"billing": "read"}}), StatusCode::BAD_REQUEST, "unknown feature `billing`"),
        (serde_json::json!({"name": "Viewer", "permissions": {"tools": "admin"}}), StatusCode::BAD_REQUEST, "valid levels are"),
        (serde_json::json!({"name": "x".repeat(65)}), StatusCode::BAD_REQUEST, "65 characters long; the limit is 64"),
        (serde_json::json!({"name": "  "}), StatusCode::BAD_REQUEST, "must not be empty"),
        (serde_json::json!({"name": "Viewer", "colour": "red"}), StatusCode::UNPROCESSABLE_ENTITY, "unknown field `colour`"),
        (serde_json::json!({"permissions": {}}), StatusCode::UNPROCESSABLE_ENTITY, "missing field `name`"),
        (serde_json::json!({"name": "developer"}), StatusCode::CONFLICT, "already exists"),
    ];
    for (body, status, text) in bad {
        let (s, b) = status_and_body(owner.request(Method::POST, "/api/v1/roles").json(&body).send().await.unwrap()).await;
        assert_eq!(s, status, "{body}: {b}");
        assert!(b["message"].as_str().unwrap().contains(text), "{body}: {b}");
    }
    let r = owner.request(Method::POST, "/api/v1/roles").header("content-type", "application/json").body("{\"name\": ").send().await.unwrap();
    let (s, b) = status_and_body(r).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"], "invalid_body");
    // None of that changed anything.
    assert_eq!(owner.roles().await.unwrap().len(), 3);

    // Predefined roles: Owner cannot be restricted, neither can be deleted.
    let roles = owner.roles().await.unwrap();
    let owner_role = roles.iter().find(|r| r.kind == "owner").unwrap();
    let member_role = roles.iter().find(|r| r.kind == "member").unwrap();
    let e = owner.update_role(owner_role.id, &UpdateRole { name: None, permissions: Some(perms(&[("tools", "read")])) }).await.unwrap_err();
    assert_eq!(e.code(), Some("predefined_role"));
    assert_eq!(owner.delete_role(owner_role.id).await.unwrap_err().code(), Some("predefined_role"));
    assert_eq!(owner.delete_role(member_role.id).await.unwrap_err().code(), Some("predefined_role"));
    // The Member role can be adjusted.
    let m = owner.update_role(member_role.id, &UpdateRole { name: None, permissions: Some(perms(&[("usage_dashboards", "read")])) }).await.unwrap();
    assert_eq!(m.permissions["tools"], "none");

    // A role held by someone cannot be deleted; a free one can.
    let (_, m) = member(&srv, &owner, "dev@example.com", Some(dev.id)).await;
    assert_eq!(owner.delete_role(dev.id).await.unwrap_err().code(), Some("in_use"));
    owner.update_member(m.user.id, &UpdateMember { role_id: Some(member_role.id), disabled: None }).await.unwrap();
    owner.delete_role(dev.id).await.unwrap();
    assert_eq!(owner.roles().await.unwrap().len(), 2);
    let actions: Vec<String> = owner.audit("?limit=50").await.unwrap().into_iter().map(|e| e.action).collect();
    for a in ["role.create", "role.update", "role.delete", "member.role_change", "user.create"] {
        assert!(actions.iter().any(|x| x == a), "{a} not audited: {actions:?}");
    }
});

each_backend!(concurrent_role_creation_yields_one, |srv| async move {
    let owner = srv.owner().await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let c = owner.clone();
        tasks.push(tokio::spawn(async move { c.create_role(&CreateRole { name: "Ops".into(), permissions: BTreeMap::new() }).await }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) => assert_eq!(e.status(), Some(StatusCode::CONFLICT), "{e}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(owner.roles().await.unwrap().iter().filter(|r| r.name == "Ops").count(), 1);
});

each_backend!(members_are_refused_what_their_role_lacks, |srv| async move {
    let owner = srv.owner().await;
    let (mc, m) = member(&srv, &owner, "mia@example.com", None).await;
    let me = mc.clone().me().await.unwrap();
    assert_eq!(me.organizations[0].role.kind, "member");
    assert!(!me.user.factory_admin);
    // Reading members and roles is fine (invitations: read) ...
    assert_eq!(mc.members().await.unwrap().len(), 2);
    assert_eq!(mc.roles().await.unwrap().len(), 2);
    // ... changing them is not, and the refusal names the permission.
    let e = mc.create_role(&CreateRole { name: "Mine".into(), permissions: BTreeMap::new() }).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
    assert!(e.to_string().contains("`organization_settings: manage`"), "{e}");
    let e = mc.create_user(&CreateUser { email: "x@example.com".into(), display_name: None, password: Some("long enough pass".into()), role_id: None }).await.unwrap_err();
    assert!(e.to_string().contains("`invitations: manage`"), "{e}");
    assert_eq!(mc.audit("").await.unwrap_err().status(), Some(StatusCode::FORBIDDEN));
    let e = mc.create_organization("Mine").await.unwrap_err();
    assert!(e.to_string().contains("factory-admin"), "{e}");
    // A custom role with organization_settings: manage still cannot touch an owner.
    let admin_role = owner.create_role(&CreateRole { name: "Org Admin".into(), permissions: perms(&[("organization_settings", "manage"), ("invitations", "manage")]) }).await.unwrap();
    owner.update_member(m.user.id, &UpdateMember { role_id: Some(admin_role.id), disabled: None }).await.unwrap();
    let owner_id = owner.clone().me().await.unwrap().user.id;
    let owner_role = owner.roles().await.unwrap().into_iter().find(|r| r.kind == "owner").unwrap();
    let e = mc.update_member(owner_id, &UpdateMember { role_id: None, disabled: Some(true) }).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
    let e = mc.update_member(m.user.id, &UpdateMember { role_id: Some(owner_role.id), disabled: None }).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::FORBIDDEN), "no self-promotion to owner");
    // But can manage an ordinary member.
    let (mut other, o) = member(&srv, &owner, "otto@example.com", None).await;
    let updated = mc.update_member(o.user.id, &UpdateMember { role_id: None, disabled: Some(true) }).await.unwrap();
    assert!(updated.user.disabled);
    // Disabling ends the account's sessions at once.
    let e = other.me().await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
    let e = srv.client().login_local("otto@example.com", "member passphrase 1").await.unwrap_err();
    assert_eq!(e.code(), Some("account_disabled"));
});

each_backend!(the_last_owner_stays, |srv| async move {
    let owner = srv.owner().await;
    let me = owner.clone().me().await.unwrap();
    let member_role = owner.roles().await.unwrap().into_iter().find(|r| r.kind == "member").unwrap();
    let e = owner.update_member(me.user.id, &UpdateMember { role_id: Some(member_role.id), disabled: None }).await.unwrap_err();
    assert_eq!(e.code(), Some("last_owner"));
    assert!(e.to_string().contains("make another member an owner first"));
    let e = owner.remove_member(me.user.id).await.unwrap_err();
    assert_eq!(e.code(), Some("last_owner"));
    let e = owner.update_member(me.user.id, &UpdateMember { role_id: None, disabled: Some(true) }).await.unwrap_err();
    assert_eq!(e.code(), Some("self_disable"));
    assert_eq!(owner.members().await.unwrap()[0].role.kind, "owner");
});

each_backend!(admin_revokes_all_sessions_of_a_member, |srv| async move {
    let owner = srv.owner().await;
    let (mut a, m) = member(&srv, &owner, "sam@example.com", None).await;
    let mut b = srv.client();
    b.login_local("sam@example.com", "member passphrase 1").await.unwrap();
    assert_eq!(owner.revoke_user_sessions(m.user.id).await.unwrap().revoked, 2);
    assert!(a.me().await.is_err() && b.me().await.is_err());
});

each_backend!(private_automations_are_invisible_without_a_grant, |srv| async move {
    let owner = srv.owner().await;
    let (alice, alice_m) = member(&srv, &owner, "alice@example.com", None).await;
    let (bob, _) = member(&srv, &owner, "bob@example.com", None).await;
    let public = owner.create_automation(&CreateAutomation { name: "Public Crew".into(), description: "for all".into(), visibility: None, upstream_url: "http://127.0.0.1:9".into(), upstream_token: "t0ken".into() }).await.unwrap();
    let secret = owner.create_automation(&CreateAutomation { name: "Secret Crew".into(), description: "".into(), visibility: Some("private".into()), upstream_url: "http://127.0.0.1:9".into(), upstream_token: "t0ken".into() }).await.unwrap();
    let names = |v: Vec<AutomationInfo>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(names(owner.automations().await.unwrap()), vec!["Public Crew", "Secret Crew"]);
    assert_eq!(names(bob.automations().await.unwrap()), vec!["Public Crew"]);
    let e = bob.automation(secret.id).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::NOT_FOUND), "private and not granted: 404, not 403");
    assert_eq!(bob.delete_automation(secret.id).await.unwrap_err().status(), Some(StatusCode::NOT_FOUND));
    // Whitelist Alice with `run`.
    let access = AutomationAccessInfo {
        visibility: "private".into(),
        grants: vec![GrantInfo { subject_type: "user".into(), subject_id: alice_m.user.id, permissions: vec!["run".into()] }],
    };
    owner.set_automation_access(secret.id, &access).await.unwrap();
    assert_eq!(names(alice.automations().await.unwrap()), vec!["Public Crew", "Secret Crew"]);
    assert_eq!(alice.automation(secret.id).await.unwrap().name, "Secret Crew");
    let e = alice.delete_automation(secret.id).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
    assert!(e.to_string().contains("`manage_settings`"), "{e}");
    assert_eq!(names(bob.automations().await.unwrap()), vec!["Public Crew"]);
    // A grant to the Member role opens it to Bob too.
    let member_role = owner.roles().await.unwrap().into_iter().find(|r| r.kind == "member").unwrap();
    let mut access2 = access.clone();
    access2.grants.push(GrantInfo { subject_type: "role".into(), subject_id: member_role.id, permissions: vec!["traces".into()] });
    owner.set_automation_access(secret.id, &access2).await.unwrap();
    assert_eq!(bob.automation(secret.id).await.unwrap().name, "Secret Crew");
    assert_eq!(owner.automation_access(secret.id).await.unwrap().grants.len(), 2);
    // Members can view but not manage an organization-wide automation.
    assert_eq!(bob.delete_automation(public.id).await.unwrap_err().status(), Some(StatusCode::FORBIDDEN));
    // Bad access lists are refused and change nothing.
    let bad = [
        serde_json::json!({"visibility": "secret", "grants": []}),
        serde_json::json!({"visibility": "private", "grants": [{"subject_type": "group", "subject_id": alice_m.user.id, "permissions": ["run"]}]}),
        serde_json::json!({"visibility": "private", "grants": [{"subject_type": "user", "subject_id": uuid::Uuid::new_v4(), "permissions": ["run"]}]}),
        serde_json::json!({"visibility": "private", "grants": [{"subject_type": "user", "subject_id": alice_m.user.id, "permissions": ["fly"]}]}),
        serde_json::json!({"visibility": "private", "grants": [{"subject_type": "user", "subject_id": alice_m.user.id, "permissions": []}]}),
    ];
    for body in bad {
        let r = owner.request(Method::PUT, &format!("/api/v1/automations/{}/access", secret.id)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let mut now = owner.automation_access(secret.id).await.unwrap();
    now.grants.sort_by_key(|g| g.subject_type.clone());
    let mut expected = access2.clone();
    expected.grants.sort_by_key(|g| g.subject_type.clone());
    assert_eq!(now, expected);
    // Duplicate names are refused.
    let e = owner.create_automation(&CreateAutomation { name: "public crew".into(), description: "".into(), visibility: None, upstream_url: "http://127.0.0.1:9".into(), upstream_token: "t0ken".into() }).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::CONFLICT));
    // A member who creates a private automation can see it.
    let mine = bob.create_automation(&CreateAutomation { name: "Bob's".into(), description: "".into(), visibility: Some("private".into()), upstream_url: "http://127.0.0.1:9".into(), upstream_token: "t0ken".into() }).await.unwrap();
    assert!(names(bob.automations().await.unwrap()).contains(&"Bob's".to_string()));
    assert_eq!(alice.automation(mine.id).await.unwrap_err().status(), Some(StatusCode::NOT_FOUND));
    owner.delete_automation(mine.id).await.unwrap();
});

each_backend!(organizations_and_the_org_header, |srv| async move {
    let owner = srv.owner().await;
    let acme = owner.create_organization("Acme").await.unwrap();
    assert_eq!(owner.create_organization("ACME").await.unwrap_err().status(), Some(StatusCode::CONFLICT));
    assert_eq!(owner.organizations().await.unwrap().len(), 2);
    // With two organizations the caller must choose.
    let mut o = srv.owner().await;
    let e = o.roles().await.unwrap_err();
    assert_eq!(e.code(), Some("organization_required"));
    assert!(e.to_string().contains("Acme") && e.to_string().contains("Default"));
    o.set_org(Some(acme.id));
    assert_eq!(o.roles().await.unwrap().len(), 2);
    let r = o.request(Method::GET, "/api/v1/roles").header("x-organization-id", "not-a-uuid").send().await.unwrap();
    // Our header wins over nothing; a bad one is named.
    assert!(r.status() == StatusCode::OK || r.status() == StatusCode::BAD_REQUEST);
    // The platform CLI's header works the same way.
    let r = owner.http().get(srv.url("/api/v1/roles")).header("x-crewai-organization-id", acme.id.to_string()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A member of one organization cannot reach another.
    let default_id = owner.organizations().await.unwrap().into_iter().find(|x| x.name == "Default").unwrap().id;
    let mut ow = srv.owner().await;
    ow.set_org(Some(default_id));
    let (m, _) = member(&srv, &ow, "max@example.com", None).await;
    let r = m.http().get(srv.url("/api/v1/roles")).header("x-organization-id", acme.id.to_string()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
});

each_backend!(audit_log_filters, |srv| async move {
    let owner = srv.owner().await;
    owner.create_role(&CreateRole { name: "A".into(), permissions: BTreeMap::new() }).await.unwrap();
    let all = owner.audit("").await.unwrap();
    assert!(all.iter().any(|e| e.action == "login.success" && e.actor.as_deref() == Some(ADMIN_EMAIL)));
    let roles = owner.audit("?action=role.create").await.unwrap();
    assert_eq!(roles.len(), 1);
    assert!(roles[0].request_id.is_some());
    let actor = owner.clone().me().await.unwrap().user.id;
    assert_eq!(owner.audit(&format!("?actor={actor}&action=role.create")).await.unwrap().len(), 1);
    assert_eq!(owner.audit("?since=2999-01-01T00:00:00Z").await.unwrap().len(), 0);
    for bad in ["?since=yesterday", "?limit=0", "?limit=5000", "?colour=red", "?actor=x"] {
        let e = owner.audit(bad).await.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST), "{bad}");
    }
});

each_backend!(internal_errors_are_generic_and_carry_a_request_id, |srv| async move {
    let owner = srv.owner().await;
    srv.db.raw_execute("DROP TABLE automation_grants").await.unwrap();
    owner.create_automation(&CreateAutomation { name: "X".into(), description: "".into(), visibility: None, upstream_url: "http://127.0.0.1:9".into(), upstream_token: "t0ken".into() }).await.unwrap();
    let r = owner.request(Method::GET, "/api/v1/automations").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["error"], "internal");
    assert_eq!(b["message"], "internal error");
    assert_eq!(b["request_id"], rid.as_str());
    assert!(!b.to_string().to_lowercase().contains("automation_grants"));
});

each_backend!(every_documented_route_exists, |srv| async move {
    let owner = srv.owner().await;
    let doc: serde_json::Value = owner.get("/api/v1/openapi.json").await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path, ..) in portcullis_server::api::openapi::ROUTES {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from the document");
        let concrete = path.replace("{id}", &uuid::Uuid::new_v4().to_string()).replace("{kickoff_id}", "k1");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = owner.request(m, &concrete).json(&serde_json::json!({})).send().await.unwrap();
        let s = r.status();
        let b: serde_json::Value = r.json().await.unwrap_or_default();
        assert!(!(s == StatusCode::NOT_FOUND && b["message"].as_str().is_some_and(|m| m.contains("no API endpoint"))), "{method} {path} is documented but not routed");
        assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    let r = owner.request(Method::GET, "/api/v1/nope").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
});

each_backend!(health_and_readiness, |srv| async move {
    let http = reqwest::Client::new();
    assert_eq!(http.get(srv.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
    let r: serde_json::Value = http.get(srv.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["database"], "ok");
    let big = "x".repeat(portcullis_server::MAX_BODY_BYTES + 1);
    let owner = srv.owner().await;
    let r = owner.request(Method::POST, "/api/v1/roles").header("content-type", "application/json").body(big).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
});

/// The hidden CSRF field of a served form.
fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf_token\" value=\"").expect("csrf field") + 25;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

each_backend!(invited_users_choose_their_password_once, |srv| async move {
    let owner = srv.owner().await;
    let inv = owner.invite(&CreateInvitation { email: "ivy@example.com".into(), role_id: None }).await.unwrap();
    let link = inv.invite_url.clone().expect("an invitation link");
    assert!(link.starts_with(&format!("{}/invite?token=", srv.base)), "{link}");
    assert_eq!(inv.accepted_by, "link");
    // Nobody joined yet, and no account exists.
    assert!(owner.members().await.unwrap().iter().all(|m| m.user.email != "ivy@example.com"));
    assert!(srv.client().login_local("ivy@example.com", "anything at all").await.is_err());
    let pending = owner.invitations().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].invite_url.is_none() && pending[0].ended.is_none(), "links are shown once");
    let c = srv.client();
    let page = c.http().get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("ivy@example.com") && page.contains("Default") && page.contains("Member"), "{page}");
    let csrf = csrf_field(&page);
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let form = |pw: &str| vec![("token", token.clone()), ("csrf_token", csrf.clone()), ("password", pw.to_owned()), ("password_confirm", pw.to_owned())];
    let r = c.http().post(srv.url("/invite")).form(&form("short")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c.http().post(srv.url("/invite")).form(&form("ivy's long passphrase")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(c.clone().me().await.unwrap().user.email, "ivy@example.com");
    assert!(owner.members().await.unwrap().iter().any(|m| m.user.email == "ivy@example.com"));
    let r = c.http().post(srv.url("/invite")).form(&form("another passphrase!")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "used once");
    srv.client().login_local("ivy@example.com", "ivy's long passphrase").await.unwrap();
    assert_eq!(owner.audit("?action=invitation.accept").await.unwrap().len(), 1);
    assert!(owner.invitations().await.unwrap().is_empty());
    // Without a password, POST /users names the way that works.
    let e = owner.create_user(&CreateUser { email: "jo@example.com".into(), display_name: None, password: None, role_id: None }).await.unwrap_err();
    assert!(e.to_string().contains("POST /api/v1/invitations"), "{e}");
});

each_backend!(accounts_join_other_organizations_and_are_deleted_by_a_factory_admin, |srv| async move {
    let owner = srv.owner().await;
    let default_id = owner.organizations().await.unwrap()[0].id;
    let acme = owner.create_organization("Acme").await.unwrap();
    let mut o = srv.owner().await;
    o.set_org(Some(default_id));
    let (mut m, mi) = member(&srv, &o, "multi@example.com", None).await;
    o.set_org(Some(acme.id));
    // Security review item 12: an existing account is never added without
    // its consent. Creating it again is refused; an invitation waits until
    // its owner, signed in as that address, accepts.
    let e = o.create_user(&CreateUser { email: "multi@example.com".into(), display_name: None, password: Some("another long pass".into()), role_id: None }).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::CONFLICT));
    assert!(e.to_string().contains("invite it"), "{e}");
    let inv = o.invite(&CreateInvitation { email: "multi@example.com".into(), role_id: None }).await.unwrap();
    let link = inv.invite_url.unwrap();
    assert_eq!(m.clone().me().await.unwrap().organizations.len(), 1, "not a member before accepting");
    let e = o.invite(&CreateInvitation { email: "multi@example.com".into(), role_id: None }).await.unwrap_err();
    assert_eq!(e.code(), Some("already_invited"));
    // Someone else's browser cannot accept it; an anonymous one is sent to sign in.
    let r = o.http().get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("signed in as owner@example.com"));
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = anon.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/auth/local/login?return_to=%2Finvite%3Ftoken%3D"));
    // Its owner joins.
    let page = m.http().get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Acme") && page.contains(">Join<"), "{page}");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let r = m.http().post(srv.url("/invite")).form(&[("token", token.as_str()), ("csrf_token", csrf_field(&page).as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(m.clone().me().await.unwrap().organizations.len(), 2);
    let e = o.invite(&CreateInvitation { email: "multi@example.com".into(), role_id: None }).await.unwrap_err();
    assert_eq!(e.code(), Some("already_member"));
    // A member of two organizations cannot be disabled by one organization's non-factory admins;
    // the factory-admin deletes the account everywhere.
    let e = m.send_empty(Method::DELETE, &format!("/api/v1/admin/users/{}", mi.user.id)).await.unwrap_err();
    assert!(e.to_string().contains("factory-admin"), "{e}");
    owner.send_empty(Method::DELETE, &format!("/api/v1/admin/users/{}", mi.user.id)).await.unwrap();
    assert_eq!(m.me().await.unwrap_err().status(), Some(StatusCode::UNAUTHORIZED));
    let me = owner.clone().me().await.unwrap().user.id;
    let e = owner.send_empty(Method::DELETE, &format!("/api/v1/admin/users/{me}")).await.unwrap_err();
    assert_eq!(e.code(), Some("self_delete"));
    assert_eq!(owner.audit("?action=user.delete").await.unwrap().len(), 1);
});
