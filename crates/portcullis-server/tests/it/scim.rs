//! `/scim/v2` over HTTP on SQLite and PostgreSQL: the compliance checker
//! scim2-tester (PyPI) with no error, the request sequences Okta and Entra
//! ID send as their documentation shows them, and SCIM tokens.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A SCIM client with an organization's token.
pub struct Scim {
    pub base: String,
    pub token: String,
    http: reqwest::Client,
}

impl Scim {
    /// A token created by the owner through `POST /api/v1/scim/tokens`.
    pub async fn new(owner: &portcullis_api::Client, name: &str) -> Scim {
        let created = owner.create_scim_token(name).await.unwrap();
        assert!(created.token.starts_with("pcs_scim_"));
        Scim { base: created.base_url, token: created.token, http: reqwest::Client::new() }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut rb = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.header("content-type", "application/scim+json").body(b.to_string());
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        if status != StatusCode::NO_CONTENT {
            assert_eq!(resp.headers()["content-type"], "application/scim+json", "{path}");
        }
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, ops: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops }))).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, None).await
    }
}

fn checker() -> std::path::PathBuf {
    std::env::var("PORTCULLIS_SCIM_TESTER_PY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/scim-tester-venv/bin/python"))
}

each_backend!(the_compliance_checker_finds_no_error, |srv| async move {
    let py = checker();
    assert!(py.exists(), "scim2-tester is not installed at {}: run scripts/test.sh (it installs tests/scim/requirements.txt into target/scim-tester-venv)", py.display());
    let scim = Scim::new(&srv.owner().await, "scim2-tester").await;
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/scim/check_compliance.py");
    let out = tokio::process::Command::new(&py).arg(script).arg(&scim.base).arg(&scim.token).output().await.unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(out.status.success(), "scim2-tester found errors:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary = report.lines().find(|l| l.starts_with("summary:")).unwrap();
    assert!(!summary.contains("ERROR") && !summary.contains("CRITICAL") && !summary.contains("SKIPPED"), "{summary}");
    let success: usize = summary.split("SUCCESS=").nth(1).and_then(|s| s.split(',').next()).unwrap().trim().parse().unwrap();
    assert!(success >= 94, "every check runs: {summary}");
});

// Okta: connection test, lookup before create, create, duplicate,
// deactivation without a path and with a PUT, group pushes.
each_backend!(okta_request_shapes, |srv| async move {
    let owner = srv.owner().await;
    let scim = Scim::new(&owner, "Okta").await;
    let (s, page) = scim.get("/Users?startIndex=1&count=2").await;
    assert_eq!(s, 200);
    assert_eq!((page["totalResults"].as_u64(), page["Resources"].as_array().map(Vec::len)), (Some(0), Some(0)));
    let (s, none) = scim.get("/Users?filter=userName%20eq%20%22dana%40example.com%22&startIndex=1&count=100").await;
    assert_eq!((s, none["totalResults"].as_u64()), (StatusCode::OK, Some(0)), "no match is a 200 with an empty list");
    let dana = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "dana@example.com",
        "name": { "givenName": "Dana", "familyName": "Scully" },
        "emails": [{ "primary": true, "value": "dana@example.com", "type": "work" }],
        "displayName": "Dana Scully",
        "locale": "en-US",
        "externalId": "00u1dana",
        "groups": [],
        "password": "ignored-by-portcullis",
        "active": true
    });
    let (s, created) = scim.post("/Users", dana.clone()).await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created.get("password").is_none(), "attributes Portcullis does not keep are not echoed");
    let member = owner.members().await.unwrap().into_iter().find(|m| m.user.email == "dana@example.com").expect("a member before the first sign-in");
    assert_eq!(member.role.name, "Member");
    let (s, dup) = scim.post("/Users", dana.clone()).await;
    assert_eq!((s, dup["scimType"].as_str()), (StatusCode::CONFLICT, Some("uniqueness")), "{dup}");
    assert!(dup["detail"].as_str().unwrap().contains(&id), "the conflict names the holder: {dup}");
    let (s, found) = scim.get("/Users?filter=userName%20eq%20%22DANA%40example.com%22").await;
    assert_eq!((s, found["totalResults"].as_u64(), found["Resources"][0]["id"].as_str()), (StatusCode::OK, Some(1), Some(id.as_str())));

    // Deactivation, Okta's way: a replace with no path.
    let (s, off) = scim.patch(&format!("/Users/{id}"), json!([{ "op": "replace", "value": { "active": false } }])).await;
    assert_eq!((s, &off["active"]), (StatusCode::OK, &json!(false)), "{off}");
    assert!(owner.members().await.unwrap().iter().all(|m| m.user.email != "dana@example.com"), "deactivated: no longer a member");
    // Reactivation with a full PUT, as Okta also does.
    let mut back = dana.clone();
    back["active"] = json!(true);
    let (s, on) = scim.put(&format!("/Users/{id}"), back).await;
    assert_eq!((s, &on["active"]), (StatusCode::OK, &json!(true)));
    assert!(owner.members().await.unwrap().iter().any(|m| m.user.email == "dana@example.com"));

    // Group push: create, add members, remove one by filter, rename.
    let (_, eve) = scim.post("/Users", json!({ "userName": "eve@example.com", "externalId": "00u1eve" })).await;
    let eve_id = eve["id"].as_str().unwrap().to_owned();
    let (s, g) = scim.post("/Groups", json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": [] })).await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();
    let (s, g) = scim.patch(&format!("/Groups/{gid}"), json!([{ "op": "add", "path": "members", "value": [{ "value": id, "display": "dana@example.com" }, { "value": eve_id, "display": "eve@example.com" }] }])).await;
    assert_eq!((s, g["members"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{g}");
    let (_, user) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(user["groups"][0]["display"], "Engineering", "{user}");
    let (s, g) = scim.patch(&format!("/Groups/{gid}"), json!([{ "op": "remove", "path": format!("members[value eq \"{eve_id}\"]") }])).await;
    assert_eq!((s, g["members"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (s, g) = scim.patch(&format!("/Groups/{gid}"), json!([{ "op": "replace", "value": { "id": gid, "displayName": "Platform Engineering" } }])).await;
    assert_eq!((s, g["displayName"].as_str()), (StatusCode::OK, Some("Platform Engineering")));
    let (s, g) = scim.get("/Groups?filter=displayName%20eq%20%22platform%20engineering%22&excludedAttributes=members").await;
    assert_eq!((s, g["totalResults"].as_u64()), (StatusCode::OK, Some(1)));
    assert!(g["Resources"][0].get("members").is_none());
    let (s, bad) = scim.patch(&format!("/Groups/{gid}"), json!([{ "op": "add", "path": "members", "value": [{ "value": "not-a-user" }] }])).await;
    assert_eq!((s, bad["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidValue")), "{bad}");
    let (s, _) = scim.delete(&format!("/Groups/{gid}")).await;
    assert_eq!(s, 204);
    let (s, _) = scim.delete(&format!("/Users/{eve_id}")).await;
    assert_eq!(s, 204);
    let (s, gone) = scim.get(&format!("/Users/{eve_id}")).await;
    assert_eq!((s, gone["status"].as_str()), (StatusCode::NOT_FOUND, Some("404")));
});

// Entra ID: capitalised `op`, booleans as strings, filtered paths that
// create what they name, removal of members with a value list, and
// unassignment as a PATCH of `active`.
each_backend!(entra_id_request_shapes, |srv| async move {
    let owner = srv.owner().await;
    let scim = Scim::new(&owner, "Entra ID").await;
    let (s, _) = scim.get("/Users?filter=userName+eq+%22AdeleV%40contoso.com%22").await;
    assert_eq!(s, 200);
    let (s, adele) = scim
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "AdeleV@contoso.com",
                "active": "True",
                "displayName": "Adele Vance",
                "emails": [{ "primary": true, "type": "work", "value": "Adele@contoso.com" }],
                "name": { "formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele" },
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Sales" }
            }),
        )
        .await;
    assert_eq!(s, 201, "{adele}");
    assert_eq!(adele["active"], json!(true), "the string \"True\" is a boolean");
    let id = adele["id"].as_str().unwrap().to_owned();
    let (s, u) = scim
        .patch(
            &format!("/Users/{id}"),
            json!([
                { "op": "Replace", "path": "displayName", "value": "Adele V." },
                { "op": "Add", "path": "emails[type eq \"home\"].value", "value": "adele@home.example" },
                { "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Marketing" },
                { "op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100" }
            ]),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["displayName"], "Adele V.");
    assert_eq!(u["emails"][1], json!({ "type": "home", "value": "adele@home.example" }));
    assert_eq!(u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "Marketing");
    let (s, g) = scim.post("/Groups", json!({ "displayName": "Sales", "externalId": "8e7f", "members": [{ "value": id }] })).await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();
    let (s, g) = scim.patch(&format!("/Groups/{gid}"), json!([{ "op": "Remove", "path": "members", "value": [{ "value": id }] }])).await;
    assert_eq!((s, g.get("members")), (StatusCode::OK, None), "{g}");
    // Unassignment: never a DELETE, a PATCH of active to "False".
    let (s, off) = scim.patch(&format!("/Users/{id}"), json!([{ "op": "Replace", "path": "active", "value": "False" }])).await;
    assert_eq!((s, &off["active"]), (StatusCode::OK, &json!(false)));
    let filter = portcullis_storage::AuditFilter { action: Some("scim.user.deactivate".into()), limit: 10, ..Default::default() };
    let audit = srv.state.store.list_audit(&filter).await.unwrap();
    assert_eq!(audit.len(), 1, "the deactivation is audited");
    assert_eq!(audit[0].detail["scim_token"], "Entra ID");
    // A malformed request says what is wrong, in the SCIM error schema.
    let (s, e) = scim.patch(&format!("/Users/{id}"), json!([{ "op": "Update", "path": "active", "value": true }])).await;
    assert_eq!((s, e["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidSyntax")));
    assert!(e["detail"].as_str().unwrap().contains("add, replace or remove"), "{e}");
    let (s, e) = scim.get("/Users?filter=userName%20is%20%22x%22").await;
    assert_eq!((s, e["scimType"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidFilter")));
});

each_backend!(scim_tokens_belong_to_one_organization_and_stop_when_revoked, |srv| async move {
    let signed_in = srv.owner().await;
    let default_org = signed_in.organizations().await.unwrap().into_iter().find(|o| o.name == "Default").unwrap();
    let owner = signed_in.clone().with_org(default_org.id);
    let scim = Scim::new(&owner, "Okta").await;
    let (s, _) = scim.post("/Users", json!({ "userName": "gus@example.com" })).await;
    assert_eq!(s, 201);
    // Another organization's token sees nothing of this one.
    let other_org = owner.create_organization("Other Co").await.unwrap();
    let other = Scim::new(&owner.clone().with_org(other_org.id), "Other IdP").await;
    let (s, page) = other.get("/Users").await;
    assert_eq!((s, page["totalResults"].as_u64()), (StatusCode::OK, Some(0)));
    let http = reqwest::Client::new();
    let (nobody, wrong) = (http.get(format!("{}/Users", scim.base)).send().await.unwrap(), http.get(format!("{}/Users", scim.base)).bearer_auth("pcs_scim_guessed").send().await.unwrap());
    assert_eq!((nobody.status(), wrong.status()), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    let listed = owner.scim_tokens().await.unwrap();
    let mine = listed.iter().find(|t| t.name == "Okta").unwrap();
    assert!(mine.last_used_at.is_some());
    owner.revoke_scim_token(mine.id).await.unwrap();
    let (s, e) = scim.get("/Users").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(e["detail"].as_str().unwrap().contains("revoked"), "{e}");
    // Only those who manage the organization's settings hold tokens.
    owner.create_user(&portcullis_api::CreateUser { email: "member@example.com".into(), display_name: None, password: Some("member passphrase 1".into()), role_id: None }).await.unwrap();
    let mut member = srv.client();
    member.login_local("member@example.com", "member passphrase 1").await.unwrap();
    let refused = member.create_scim_token("mine").await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::FORBIDDEN));
    let (s, e) = scim.get("/Nothing").await;
    assert_eq!((s, e["status"].as_str()), (StatusCode::NOT_FOUND, Some("404")));
});

// Settings → Provisioning: a token made in the panel is shown once (never
// cached), works at /scim/v2, is listed, and stops when revoked there.
each_backend!(the_provisioning_page_makes_shows_once_and_revokes_tokens, |srv| async move {
    let mut b = srv.owner_browser().await;
    let page = b.get(&srv.url("/settings/provisioning")).await.text().await.unwrap();
    assert!(page.contains("No SCIM token yet") && page.contains("/scim/v2"), "{page}");
    let csrf = crate::support::oidc_peer::hidden(&page, "csrf_token");
    let org = srv.owner().await.organizations().await.unwrap().into_iter().find(|o| o.name == "Default").unwrap().id;
    let r = b.post_form(&srv.url(&format!("/settings/provisioning/tokens?org={org}")), &[("csrf_token", &csrf), ("name", "Entra ID")], Some(&srv.base)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = r.text().await.unwrap();
    let at = page.find("pcs_scim_").expect("the token, shown once");
    let token: String = page[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    let users = |t: &str| reqwest::Client::new().get(srv.url("/scim/v2/Users?startIndex=1&count=2")).bearer_auth(t.to_owned()).send();
    assert_eq!(users(&token).await.unwrap().status(), StatusCode::OK);
    // Listed, never shown again.
    let page = b.get(&srv.url("/settings/provisioning")).await.text().await.unwrap();
    assert!(page.contains("Entra ID") && !page.contains(&token), "{page}");
    // A form without the CSRF token changes nothing.
    let id = srv.owner().await.scim_tokens().await.unwrap()[0].id;
    let r = b.post_form(&srv.url(&format!("/settings/provisioning/tokens/{id}/revoke?org={org}")), &[("csrf_token", "forged")], Some(&srv.base)).await;
    assert_ne!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(users(&token).await.unwrap().status(), StatusCode::OK);
    let r = b.post_form(&srv.url(&format!("/settings/provisioning/tokens/{id}/revoke?org={org}")), &[("csrf_token", &csrf)], Some(&srv.base)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(users(&token).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let page = b.get(&srv.url("/settings/provisioning")).await.text().await.unwrap();
    assert!(page.contains("revoked"), "{page}");
});
