//! Group-to-role rules end to end, on SQLite and PostgreSQL: seeded from
//! `PORTCULLIS_ROLE_MAPPING`, replaced through the API over their version,
//! applied at sign-in through the real OpenID provider peer (Okta's layout,
//! whose `groups` claim carries alice's `member` and `factory-admin` and
//! bob's `member`; carol has none), in order, with globs, refusing or
//! giving the default, and unmoved by a renamed role; tried in a dry run.

use crate::support::browser::Browser;
use crate::support::oidc_peer::{sign_in, OidcPeer};
use crate::support::{on_both_backends, Db, Options, TestServer};
use portcullis_api::{CreateRole, CreateUser, GroupRuleInfo, GroupRulesDryRun, NoMatchInfo, PutGroupRules, RoleRef, UpdateRole};
use reqwest::StatusCode;

async fn start(db: Db) -> Option<(OidcPeer, TestServer)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = OidcPeer::start(&format!("http://{}", listener.local_addr().unwrap())).await;
    let mut env = vec![("PORTCULLIS_AUTH_PROVIDERS", "okta,local".to_owned())];
    env.extend(peer.env("okta"));
    let srv = TestServer::start_with(db, Options { bootstrap_admin: true, extra_env: env, listener: Some(listener) }).await?;
    Some((peer, srv))
}

fn rule(source: &str, claim: Option<&str>, glob: bool, pattern: &str, role: RoleRef) -> GroupRuleInfo {
    GroupRuleInfo { source: source.into(), claim: claim.map(str::to_owned), match_: if glob { "glob" } else { "exact" }.into(), pattern: pattern.into(), role }
}

fn kind(k: &str) -> RoleRef {
    RoleRef { kind: Some(k.into()), ..Default::default() }
}

/// The role (`name`, `kind`) `b` holds in the default organization, if any.
async fn role_in_default(b: &mut Browser, srv: &TestServer) -> Option<(String, String)> {
    let (status, me) = b.me(&srv.base).await;
    assert_eq!(status, 200, "{me}");
    let org = me["organizations"].as_array().unwrap().iter().find(|o| o["name"] == "Default")?.clone();
    Some((org["role"]["name"].as_str().unwrap().to_owned(), org["role"]["kind"].as_str().unwrap().to_owned()))
}

async fn rules_decide_memberships_at_sign_in(db: Db) {
    let Some((_peer, srv)) = start(db).await else { return };
    let owner = srv.owner().await;

    // The default mapping is the initial rule set.
    let seeded = owner.group_rules().await.unwrap();
    assert!(seeded.enabled && seeded.seeded_from_env, "{seeded:?}");
    assert_eq!(seeded.rules.iter().map(|r| (r.source.as_str(), r.pattern.as_str())).collect::<Vec<_>>(), vec![("idp_roles", "factory-admin"), ("idp_roles", "member")]);
    assert_eq!((seeded.no_match.action.as_str(), seeded.no_match.role.as_ref().and_then(|r| r.kind.as_deref())), ("default", Some("member")));

    let dev = owner.create_role(&CreateRole { name: "Developer".into(), permissions: Default::default() }).await.unwrap();
    let by_id = RoleRef { id: Some(dev.id), ..Default::default() };
    let put = PutGroupRules {
        enabled: true,
        rules: vec![
            rule("claim", Some("groups"), true, "factory-*", by_id.clone()),
            rule("claim", Some("groups"), false, "member", kind("member")),
        ],
        no_match: NoMatchInfo { action: "refuse".into(), role: None },
        version: seeded.version,
    };
    let saved = owner.put_group_rules(&put).await.unwrap();
    assert_eq!((saved.version, saved.seeded_from_env), (seeded.version + 1, false));
    assert_eq!(saved.rules[0].role.name.as_deref(), Some("Developer"));

    // Order and globs: alice's factory-admin matches the first rule, bob only the second.
    let (mut alice, mut bob, mut carol) = (Browser::new(), Browser::new(), Browser::new());
    assert_eq!(sign_in(&mut alice, &srv.base, "okta", "alice").await.status(), 303);
    assert_eq!(role_in_default(&mut alice, &srv).await, Some(("Developer".into(), "custom".into())));
    assert_eq!(sign_in(&mut bob, &srv.base, "okta", "bob").await.status(), 303);
    assert_eq!(role_in_default(&mut bob, &srv).await, Some(("Member".into(), "member".into())));
    // Nothing matches carol (Okta sent her no groups claim): refused, and told what to configure.
    let r = sign_in(&mut carol, &srv.base, "okta", "carol").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains("no group rule gives you a role"), "{page}");
    assert!(page.contains("Okta sent no") && page.contains("Sign On tab"), "the Okta hint: {page}");
    assert!(!carol.has_session());

    // A renamed role: the rule names it by id, so alice keeps it, called
    // anything, even the Owner role's old name.
    let owner_role = owner.roles().await.unwrap().into_iter().find(|r| r.kind == "owner").unwrap();
    owner.update_role(owner_role.id, &UpdateRole { name: Some("Boss".into()), permissions: None }).await.unwrap();
    owner.update_role(dev.id, &UpdateRole { name: Some("Owner".into()), permissions: None }).await.unwrap();
    let mut alice = Browser::new();
    assert_eq!(sign_in(&mut alice, &srv.base, "okta", "alice").await.status(), 303);
    assert_eq!(role_in_default(&mut alice, &srv).await, Some(("Owner".into(), "custom".into())), "still the custom role, not the Owner role");

    // A writer over the old version is told to re-read.
    let e = owner.put_group_rules(&put).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(StatusCode::CONFLICT), Some("changed_meanwhile")), "{e}");
    assert!(e.to_string().contains("GET /api/v1/group-rules"), "{e}");

    // The default instead of refusing: carol becomes a member.
    let mut with_default = put.clone();
    with_default.version = saved.version;
    with_default.no_match = NoMatchInfo { action: "default".into(), role: Some(kind("member")) };
    owner.put_group_rules(&with_default).await.unwrap();
    let mut carol = Browser::new();
    assert_eq!(sign_in(&mut carol, &srv.base, "okta", "carol").await.status(), 303);
    assert_eq!(role_in_default(&mut carol, &srv).await, Some(("Member".into(), "member".into())));
    srv.cleanup().await;
}

async fn bad_rules_say_what_is_wrong_and_members_cannot_change_them(db: Db) {
    let Some((_peer, srv)) = start(db).await else { return };
    let owner = srv.owner().await;
    let version = owner.group_rules().await.unwrap().version;
    let base = PutGroupRules { enabled: true, rules: vec![], no_match: NoMatchInfo { action: "refuse".into(), role: None }, version };
    for (rules, no_match, says) in [
        (vec![rule("claim", Some("groups"), false, "eng", RoleRef { name: Some("Developer".into()), ..Default::default() })], None, "never by its display name"),
        (vec![rule("claim", Some("groups"), false, "eng", RoleRef { id: Some(uuid::Uuid::new_v4()), ..Default::default() })], None, "GET /api/v1/roles"),
        (vec![rule("header", None, false, "eng", kind("member"))], None, "idp_roles, claim or scim_group"),
        (vec![rule("claim", None, false, "eng", kind("member"))], None, "names it"),
        (vec![rule("claim", Some("groups"), false, "  ", kind("member"))], None, "must not be empty"),
        (vec![rule("scim_group", None, false, "eng", kind("custom"))], None, "owner` or `member"),
        (vec![], Some(NoMatchInfo { action: "default".into(), role: None }), "names its role"),
        (vec![], Some(NoMatchInfo { action: "maybe".into(), role: None }), "refuse or default"),
    ] {
        let mut body = base.clone();
        body.rules = rules;
        if let Some(n) = no_match {
            body.no_match = n;
        }
        let e = owner.put_group_rules(&body).await.unwrap_err();
        assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST), "{e}");
        assert!(e.to_string().contains(says), "{says}: {e}");
    }
    assert_eq!(owner.group_rules().await.unwrap().version, version, "nothing was saved");

    // A member may read the rules (as the roles) but not change them or run a dry run.
    owner.create_user(&CreateUser { email: "m@example.com".into(), display_name: None, password: Some("member passphrase 1".into()), role_id: None }).await.unwrap();
    let mut member = srv.client();
    member.login_local("m@example.com", "member passphrase 1").await.unwrap();
    assert!(member.group_rules().await.is_ok());
    let e = member.put_group_rules(&base).await.unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::FORBIDDEN), "{e}");
    assert!(e.to_string().contains("organization_settings: manage"), "{e}");
    assert_eq!(member.dry_run_group_rules(&GroupRulesDryRun::default()).await.unwrap_err().status(), Some(StatusCode::FORBIDDEN));
    srv.cleanup().await;
}

async fn a_dry_run_shows_every_matching_rule_and_the_result(db: Db) {
    let Some((_peer, srv)) = start(db).await else { return };
    let owner = srv.owner().await;
    let dev = owner.create_role(&CreateRole { name: "Developer".into(), permissions: Default::default() }).await.unwrap();
    let rules = PutGroupRules {
        enabled: true,
        rules: vec![
            rule("claim", Some("groups"), true, "eng-*", RoleRef { id: Some(dev.id), ..Default::default() }),
            rule("claim", Some("groups"), true, "*", kind("member")),
            rule("claim", Some("realm_access.roles"), false, "admin", kind("owner")),
        ],
        no_match: NoMatchInfo { action: "refuse".into(), role: None },
        version: 0,
    };
    // Unsaved rules, pasted claims.
    let run = GroupRulesDryRun { claims: Some(serde_json::json!({ "groups": ["eng-platform", "everyone"] })), user_id: None, rules: Some(rules.clone()) };
    let r = owner.dry_run_group_rules(&run).await.unwrap();
    assert_eq!(r.outcome, "rule");
    assert_eq!(r.role.as_ref().and_then(|r| r.name.as_deref()), Some("Developer"));
    assert_eq!(r.matches.iter().map(|m| (m.position, m.status.as_str())).collect::<Vec<_>>(), vec![(1, "decided"), (2, "later")]);
    assert_eq!(r.matches[1].values, vec!["eng-platform".to_string(), "everyone".to_string()]);
    // A nested claim path; and nothing at all refuses.
    let run = GroupRulesDryRun { claims: Some(serde_json::json!({ "realm_access": { "roles": ["admin"] } })), user_id: None, rules: Some(rules.clone()) };
    assert_eq!(owner.dry_run_group_rules(&run).await.unwrap().role.and_then(|r| r.kind), Some("owner".into()));
    let run = GroupRulesDryRun { claims: Some(serde_json::json!({})), user_id: None, rules: Some(rules) };
    let r = owner.dry_run_group_rules(&run).await.unwrap();
    assert_eq!((r.outcome.as_str(), r.role, r.matches.len()), ("refused", None, 0));
    // Claims that are not an object are refused with an example.
    let run = GroupRulesDryRun { claims: Some(serde_json::json!(["eng"])), user_id: None, rules: None };
    let e = owner.dry_run_group_rules(&run).await.unwrap_err();
    assert!(e.to_string().contains("JSON object"), "{e}");
    srv.cleanup().await;
}

async fn the_check_access_page_runs_the_same_rules(db: Db) {
    let Some((_peer, srv)) = start(db).await else { return };
    let owner = srv.owner().await;
    let dev = owner.create_role(&CreateRole { name: "Developer".into(), permissions: Default::default() }).await.unwrap();
    let version = owner.group_rules().await.unwrap().version;
    owner
        .put_group_rules(&PutGroupRules {
            enabled: true,
            rules: vec![rule("claim", Some("groups"), true, "eng-*", RoleRef { id: Some(dev.id), ..Default::default() }), rule("claim", Some("groups"), true, "*", kind("member"))],
            no_match: NoMatchInfo { action: "refuse".into(), role: None },
            version,
        })
        .await
        .unwrap();
    let mut b = srv.owner_browser().await;
    let q = |claims: &str| format!("/settings/check-access?dry_run=1&claims={}", url_escape(claims));
    let page = b.get(&srv.url(&q(r#"{"groups": ["eng-platform", "everyone"]}"#))).await.text().await.unwrap();
    assert!(page.contains("Rule 1 gives the role Developer"), "{page}");
    assert!(page.contains("matches too, but an earlier rule decided"), "{page}");
    let page = b.get(&srv.url(&q("{}"))).await.text().await.unwrap();
    assert!(page.contains("No rule matches: refused"), "{page}");
    let page = b.get(&srv.url(&q("{not json"))).await.text().await.unwrap();
    assert!(page.contains("The claims are not JSON"), "{page}");
    srv.cleanup().await;
}

fn url_escape(s: &str) -> String {
    s.bytes().map(|c| if c.is_ascii_alphanumeric() { (c as char).to_string() } else { format!("%{c:02X}") }).collect()
}

on_both_backends!(check_access_page, super::the_check_access_page_runs_the_same_rules);
on_both_backends!(sign_in_rules, super::rules_decide_memberships_at_sign_in);
on_both_backends!(validation, super::bad_rules_say_what_is_wrong_and_members_cannot_change_them);
on_both_backends!(dry_run, super::a_dry_run_shows_every_matching_rule_and_the_result);

/// Settings → Group rules: the rules edited in one form (reordered by
/// number, removed, added), saved through the API's own checks; a refused
/// save shows what was typed and why; a member may only look.
async fn the_editor_page_saves_reorders_and_keeps_what_was_typed(db: Db) {
    let Some((_peer, srv)) = start(db).await else { return };
    let owner = srv.owner().await;
    let dev = owner.create_role(&CreateRole { name: "Developer".into(), permissions: Default::default() }).await.unwrap();
    let seeded = owner.group_rules().await.unwrap();
    let mut b = srv.owner_browser().await;
    let (_, me) = b.me(&srv.base).await;
    let org = me["organizations"].as_array().unwrap().iter().find(|o| o["name"] == "Default").unwrap()["id"].as_str().unwrap().to_owned();
    let page_url = srv.url(&format!("/settings/group-rules?org={org}"));
    let page = b.get(&page_url).await.text().await.unwrap();
    assert!(page.contains("<h1>Group rules</h1>") && page.contains("PORTCULLIS_ROLE_MAPPING"), "{page}");
    assert!(page.contains(r#"name="rule-0-pattern" value="factory-admin""#) && page.contains(r#"name="rule-1-pattern" value="member""#), "{page}");
    let csrf = crate::support::oidc_peer::hidden(&page, "csrf_token");
    let version = seeded.version.to_string();
    let dev_role = format!("id:{}", dev.id);
    let form = |rows: &[[&str; 6]], version: &str| {
        let mut f: Vec<(String, String)> = vec![("csrf_token".into(), csrf.clone()), ("version".into(), version.into()), ("enabled".into(), "1".into()), ("no_match".into(), "refuse".into()), ("default_role".into(), "kind:member".into())];
        for (i, [order, source, claim, match_, pattern, role]) in rows.iter().enumerate() {
            for (k, v) in [("order", order), ("source", source), ("claim", claim), ("match", match_), ("pattern", pattern), ("role", role)] {
                f.push((format!("rule-{i}-{k}"), (*v).to_owned()));
            }
        }
        f
    };
    // Reordered (factory-admin last), one added between, one row left empty, one removed.
    let mut f = form(
        &[["3", "idp_roles", "", "exact", "factory-admin", "kind:owner"], ["1", "idp_roles", "", "exact", "member", "kind:member"], ["1.5", "claim", "groups", "glob", "eng-*", &dev_role], ["4", "claim", "groups", "exact", "", "kind:member"], ["5", "scim_group", "", "exact", "gone", "kind:member"]],
        &version,
    );
    f.push(("rule-4-remove".into(), "1".into()));
    let r = post_rules(&mut b, &srv, &org, f).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    assert!(crate::support::browser::location(&r).contains("saved=1"));
    let saved = owner.group_rules().await.unwrap();
    assert_eq!(saved.rules.iter().map(|r| r.pattern.as_str()).collect::<Vec<_>>(), vec!["member", "eng-*", "factory-admin"]);
    assert_eq!((saved.rules[1].match_.as_str(), saved.rules[1].role.id, saved.no_match.action.as_str()), ("glob", Some(dev.id), "refuse"));
    assert!(!saved.seeded_from_env);

    // A claim rule without its claim: refused, and the form keeps what was typed.
    let r = post_rules(&mut b, &srv, &org, form(&[["1", "claim", "", "exact", "platform-team", "kind:member"]], &saved.version.to_string())).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("Not saved: rule 1: claim: must name a claim"), "{page}");
    assert!(page.contains(r#"value="platform-team""#), "what was typed is still there: {page}");
    // Over an old version: told someone else saved, still shown unsaved.
    let r = post_rules(&mut b, &srv, &org, form(&[["1", "idp_roles", "", "exact", "late-change", "kind:member"]], &version)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("Someone else saved the rules") && page.contains(r#"value="late-change""#), "{page}");
    assert_eq!(owner.group_rules().await.unwrap().version, saved.version, "nothing was saved");
    // A forged post changes nothing.
    let mut forged = form(&[["1", "idp_roles", "", "exact", "x", "kind:member"]], &saved.version.to_string());
    forged[0].1 = "forged".into();
    assert_eq!(post_rules(&mut b, &srv, &org, forged).await.status(), StatusCode::FORBIDDEN);

    // bob, a member, may look (he sees the roles) but is offered no form.
    let mut bob = Browser::new();
    assert_eq!(sign_in(&mut bob, &srv.base, "okta", "bob").await.status(), 303);
    let page = bob.get(&page_url).await.text().await.unwrap();
    assert!(page.contains("You may look") && page.contains("eng-*") && page.contains("Developer"), "{page}");
    assert!(!page.contains(r#"<form method="post" action="/settings/group-rules"#), "{page}");
    srv.cleanup().await;
}

async fn post_rules(b: &mut Browser, srv: &TestServer, org: &str, f: Vec<(String, String)>) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post_form(&srv.url(&format!("/settings/group-rules?org={org}")), &pairs, Some(&srv.base)).await
}

on_both_backends!(editor_page, super::the_editor_page_saves_reorders_and_keeps_what_was_typed);
