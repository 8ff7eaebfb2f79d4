//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, built from one table
//! of routes. A test checks the table against the router, so the document
//! cannot silently miss an endpoint.

use axum::Json;
use serde_json::{json, Map, Value};

/// One documented route: (method, path, summary, what it needs, request
/// schema, response schema).
pub type RouteDoc = (&'static str, &'static str, &'static str, &'static str, Option<&'static str>, Option<&'static str>);

pub const ROUTES: &[RouteDoc] = &[
    ("get", "/api/v1/me", "Who am I: user, session, organizations with roles, CSRF token", "a session", None, Some("Me")),
    ("get", "/api/v1/me/sessions", "My active sessions", "a session", None, Some("SessionList")),
    ("delete", "/api/v1/me/sessions/{id}", "End one of my sessions", "a session", None, None),
    ("get", "/api/v1/me/cli-logins", "My CLI logins (device logins and their renewals)", "a session", None, Some("CliLoginList")),
    ("delete", "/api/v1/me/cli-logins/{id}", "End one of my CLI logins: its refresh and access tokens stop working", "a session", None, None),
    ("get", "/api/v1/organizations", "My organizations (every one for a factory-admin)", "a session", None, Some("OrganizationList")),
    ("post", "/api/v1/organizations", "Create an organization; the caller becomes its owner", "factory-admin", Some("CreateOrganization"), Some("Organization")),
    ("get", "/api/v1/users", "Members of the organization", "invitations: read", None, Some("MemberList")),
    ("post", "/api/v1/users", "Create a local account with a password chosen by an administrator (local provider only); invite everyone else", "invitations: manage (+ organization_settings: manage for a role other than Member, an owner for Owner)", Some("CreateUser"), Some("Member")),
    ("get", "/api/v1/invitations", "Pending invitations, each saying whether it ended because its sender may no longer invite", "invitations: read", None, Some("InvitationList")),
    ("post", "/api/v1/invitations", "Invite someone: a one-time link (local provider) or a membership that takes effect at their first IdP sign-in", "invitations: manage (+ organization_settings: manage for a role other than Member, an owner for Owner)", Some("CreateInvitation"), Some("Invitation")),
    ("delete", "/api/v1/invitations/{id}", "Withdraw a pending invitation", "invitations: manage", None, None),
    ("patch", "/api/v1/users/{id}", "Change a member's role, disable or enable the account", "organization_settings: manage", Some("UpdateMember"), Some("Member")),
    ("delete", "/api/v1/users/{id}", "Remove a member from the organization", "organization_settings: manage", None, None),
    ("delete", "/api/v1/users/{id}/sessions", "Revoke every session of a member", "organization_settings: manage", None, Some("RevokedSessions")),
    ("delete", "/api/v1/admin/users/{id}", "Delete an account everywhere (sessions, memberships, grants)", "factory-admin", None, None),
    ("get", "/api/v1/roles", "Roles of the organization", "invitations: read", None, Some("RoleList")),
    ("post", "/api/v1/roles", "Create a custom role", "organization_settings: manage", Some("CreateRole"), Some("Role")),
    ("get", "/api/v1/roles/{id}", "One role", "invitations: read", None, Some("Role")),
    ("patch", "/api/v1/roles/{id}", "Rename a role or replace its permissions", "organization_settings: manage", Some("UpdateRole"), Some("Role")),
    ("delete", "/api/v1/roles/{id}", "Delete a custom role nobody holds", "organization_settings: manage", None, None),
    ("get", "/api/v1/automations", "Automations the caller may view", "a session", None, Some("AutomationList")),
    ("post", "/api/v1/automations", "Register an automation", "crews_dashboards: read", Some("CreateAutomation"), Some("Automation")),
    ("get", "/api/v1/automations/{id}", "One automation (404 if private and not granted)", "view access", None, Some("Automation")),
    ("patch", "/api/v1/automations/{id}", "Change name, description, upstream URL or token", "manage_settings", Some("UpdateAutomation"), Some("Automation")),
    ("delete", "/api/v1/automations/{id}", "Delete an automation", "manage_settings", None, None),
    ("get", "/api/v1/automations/{id}/inputs", "The automation's inputs, from its own API", "run", None, None),
    ("post", "/api/v1/automations/{id}/kickoff", "Start a run: body {\"inputs\": {...}} forwarded to the automation", "run", None, None),
    ("get", "/api/v1/automations/{id}/status/{kickoff_id}", "State of a run, from the automation", "traces", None, None),
    ("get", "/api/v1/automations/{id}/executions", "Runs recorded by Portcullis", "traces", None, Some("ExecutionList")),
    ("get", "/api/v1/env", "Environment variables (values masked)", "a session", None, Some("EnvVarList")),
    ("put", "/api/v1/env", "Create or replace a variable", "environment_variables: manage (+ manage_settings on the automation)", Some("PutEnvVar"), Some("EnvVar")),
    ("delete", "/api/v1/env/{id}", "Delete a variable", "environment_variables: manage", None, None),
    ("get", "/api/v1/env/{id}/value", "A variable's value (audited)", "environment_variables: manage (+ manage_settings on the automation)", None, Some("EnvVarValue")),
    ("get", "/api/v1/usage", "Usage: sign-ins, API calls, kickoffs, upstream errors, latency (from, to, bucket)", "usage_dashboards: read", None, Some("UsageReport")),
    ("get", "/api/v1/dashboard/automations", "Automations with health, last run, runs and failures in 24 h", "crews_dashboards: read", None, Some("Dashboard")),
    ("get", "/api/v1/automations/{id}/access", "Visibility and grants of an automation", "manage_settings", None, Some("AutomationAccess")),
    ("put", "/api/v1/automations/{id}/access", "Replace visibility and grants", "manage_settings", Some("AutomationAccess"), Some("AutomationAccess")),
    ("get", "/api/v1/audit", "Audit log (filters: since, until, actor, action, limit)", "organization_settings: manage, or factory-admin", None, Some("AuditList")),
    ("get", "/api/v1/scim/tokens", "SCIM tokens of the organization (never the tokens themselves)", "organization_settings: manage", None, Some("ScimTokenList")),
    ("post", "/api/v1/scim/tokens", "Create a SCIM token for the identity provider; the answer carries it once, with the SCIM base URL", "organization_settings: manage", Some("CreateScimToken"), Some("CreatedScimToken")),
    ("delete", "/api/v1/scim/tokens/{id}", "Revoke a SCIM token (refused at once on every replica)", "organization_settings: manage", None, None),
    ("get", "/api/v1/group-rules", "The organization's group-to-role rules, in order, and what happens when none matches", "invitations: read", None, Some("GroupRules")),
    ("put", "/api/v1/group-rules", "Replace the group-to-role rules whole, if still at `version` (409 changed_meanwhile otherwise); the next sign-in applies them", "organization_settings: manage", Some("PutGroupRules"), Some("GroupRules")),
    ("post", "/api/v1/group-rules/dry-run", "Which rules match pasted claims and/or a person's SCIM groups, and which role results (nothing is saved)", "organization_settings: manage", Some("GroupRulesDryRun"), Some("DryRunResult")),
    ("get", "/api/v1/openapi.json", "This document", "nothing", None, None),
];

fn obj(props: &[(&str, Value)], required: &[&str]) -> Value {
    let p: Map<String, Value> = props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    json!({ "type": "object", "properties": p, "required": required, "additionalProperties": false })
}

fn s() -> Value {
    json!({ "type": "string" })
}
fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
}
fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}
fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}
fn list(name: &str) -> Value {
    json!({ "type": "array", "items": r(name) })
}

/// Invitations' schemas (apart: one `json!` for every schema would pass the
/// macro's recursion limit).
fn invitation_schemas() -> Vec<(&'static str, Value)> {
    vec![
        ("CreateInvitation", obj(&[("email", s()), ("role_id", uuid())], &["email"])),
        (
            "Invitation",
            obj(
                &[("id", uuid()), ("email", s()), ("role", r("Role")), ("invited_by", uuid()), ("created_at", time()), ("expires_at", time()), ("accepted_by", json!({"enum":["link","first_sign_in"]})), ("invite_url", s()), ("ended", s())],
                &["id", "email", "role", "invited_by", "created_at", "expires_at", "accepted_by"],
            ),
        ),
        ("InvitationList", list("Invitation")),
    ]
}

fn schemas() -> Value {
    let levels = json!({ "type": "object", "additionalProperties": { "enum": ["none", "read", "write", "manage"] },
        "description": "Level per feature (usage_dashboards, crews_dashboards, invitations, training_ui, tools, agents, environment_variables, llm_connections, default_settings, organization_settings, studio_projects)" });
    let mut all = json!({
        "Error": obj(&[("error", s()), ("message", s()), ("request_id", s())], &["error", "message"]),
        "User": obj(&[("id", uuid()), ("email", s()), ("display_name", s()), ("factory_admin", json!({"type":"boolean"})), ("disabled", json!({"type":"boolean"}))], &["id", "email"]),
        "Role": obj(&[("id", uuid()), ("name", s()), ("key", s()), ("kind", json!({"enum":["owner","member","custom"]})), ("permissions", levels.clone())], &["id", "name", "key", "kind", "permissions"]),
        "RoleList": list("Role"),
        "Session": obj(&[("id", uuid()), ("provider", s()), ("created_at", time()), ("last_seen_at", time()), ("expires_at", time()), ("ip", s()), ("user_agent", s()), ("current", json!({"type":"boolean"}))], &["id"]),
        "SessionList": list("Session"),
        "Me": obj(&[("user", r("User")), ("session", r("Session")), ("organizations", json!({"type":"array","items": obj(&[("id", uuid()), ("name", s()), ("role", r("Role"))], &["id","name","role"])})), ("csrf_token", s())], &["user", "session", "organizations", "csrf_token"]),
        "Organization": obj(&[("id", uuid()), ("name", s()), ("created_at", time())], &["id", "name"]),
        "OrganizationList": list("Organization"),
        "CreateOrganization": obj(&[("name", json!({"type":"string","minLength":1,"maxLength":64}))], &["name"]),
        "Member": obj(&[("user", r("User")), ("role", r("Role")), ("joined_at", time())], &["user", "role"]),
        "MemberList": list("Member"),
        "CreateUser": obj(&[("email", s()), ("display_name", s()), ("password", json!({"type":"string","minLength":12,"description":"leave out to get a one-time invitation link"})), ("role_id", uuid())], &["email"]),
        "UpdateMember": obj(&[("role_id", uuid()), ("disabled", json!({"type":"boolean"}))], &[]),
        "RevokedSessions": obj(&[("revoked", json!({"type":"integer"}))], &["revoked"]),
        "CreateRole": obj(&[("name", json!({"type":"string","minLength":1,"maxLength":64})), ("permissions", levels.clone())], &["name"]),
        "UpdateRole": obj(&[("name", s()), ("permissions", levels)], &[]),
        "Automation": obj(&[("id", uuid()), ("name", s()), ("description", s()), ("visibility", json!({"enum":["organization","private"]})), ("created_at", time()), ("updated_at", time()), ("upstream_url", s()), ("has_upstream_token", json!({"type":"boolean"})), ("health", obj(&[("state", json!({"enum":["unknown","healthy","unhealthy"]})), ("reason", s()), ("checked_at", time())], &["state"]))], &["id", "name"]),
        "UpdateAutomation": obj(&[("name", s()), ("description", s()), ("upstream_url", s()), ("upstream_token", s())], &[]),
        "Execution": obj(&[("id", uuid()), ("automation_id", uuid()), ("user_id", uuid()), ("started_at", time()), ("inputs_bytes", json!({"type":"integer"})), ("kickoff_id", s()), ("state", s()), ("upstream_latency_ms", json!({"type":"integer"})), ("error", s())], &["id", "state"]),
        "ExecutionList": list("Execution"),
        "EnvVar": obj(&[("id", uuid()), ("name", s()), ("automation_id", uuid()), ("masked_value", s()), ("value_bytes", json!({"type":"integer"})), ("updated_by", uuid()), ("updated_at", time())], &["id", "name"]),
        "EnvVarList": list("EnvVar"),
        "PutEnvVar": obj(&[("name", json!({"type":"string","pattern":"^[A-Z_][A-Z0-9_]*$","maxLength":128})), ("value", s()), ("automation_id", uuid())], &["name", "value"]),
        "EnvVarValue": obj(&[("id", uuid()), ("name", s()), ("value", s())], &["id", "name", "value"]),
        "UsageReport": json!({"type": "object", "description": "from, to, bucket_seconds, buckets[], total, kickoffs_by_automation, kickoffs_by_user; each bucket: start, signins_success, signins_failure, signins_by_provider, api_calls, kickoffs, upstream_errors, latency_p50_ms, latency_p95_ms"}),
        "Dashboard": json!({"type": "array", "items": obj(&[("automation", r("Automation")), ("last_execution", r("Execution")), ("executions_24h", json!({"type":"integer"})), ("failures_24h", json!({"type":"integer"}))], &["automation"])}),
        "AutomationList": list("Automation"),
        "CreateAutomation": obj(&[("name", s()), ("description", s()), ("visibility", json!({"enum":["organization","private"]})), ("upstream_url", s()), ("upstream_token", s())], &["name", "upstream_url", "upstream_token"]),
        "AutomationAccess": obj(&[("visibility", json!({"enum":["organization","private"]})), ("grants", json!({"type":"array","items": obj(&[("subject_type", json!({"enum":["user","role"]})), ("subject_id", uuid()), ("permissions", json!({"type":"array","items":{"enum":["run","traces","manage_settings","human_in_the_loop","full_access"]}}))], &["subject_type","subject_id","permissions"])}))], &["visibility", "grants"]),
        "AuditEvent": obj(&[("id", uuid()), ("at", time()), ("organization_id", uuid()), ("actor_id", uuid()), ("actor", s()), ("action", s()), ("target", s()), ("outcome", json!({"enum":["success","failure"]})), ("ip", s()), ("request_id", s()), ("detail", json!({"type":"object"}))], &["id", "at", "action", "outcome"]),
        "AuditList": list("AuditEvent"),
    });
    // Added apart: one json! literal this long reaches the macro recursion limit.
    all["CliLogin"] = obj(&[("id", s()), ("client_id", s()), ("scope", s()), ("started_at", time()), ("last_used_at", time()), ("expires_at", time())], &["id", "client_id", "started_at", "expires_at"]);
    all["CliLoginList"] = list("CliLogin");
    all["ScimToken"] = obj(&[("id", uuid()), ("name", s()), ("created_at", time()), ("last_used_at", time()), ("revoked_at", time())], &["id", "name", "created_at"]);
    all["ScimTokenList"] = list("ScimToken");
    all["CreateScimToken"] = obj(&[("name", json!({"type":"string","minLength":1,"maxLength":64}))], &["name"]);
    all["CreatedScimToken"] = obj(&[("id", uuid()), ("name", s()), ("created_at", time()), ("token", s()), ("base_url", s())], &["id", "name", "token", "base_url"]);
    let role_ref = obj(&[("kind", json!({"enum":["owner","member"]})), ("id", uuid()), ("key", s()), ("name", json!({"type":"string","readOnly":true}))], &[]);
    let rule = obj(
        &[("source", json!({"enum":["idp_roles","claim","scim_group"]})), ("claim", json!({"type":"string","description":"dotted claim path, for source claim"})), ("match", json!({"enum":["exact","glob"]})), ("pattern", s()), ("role", role_ref.clone())],
        &["source", "match", "pattern", "role"],
    );
    let no_match = obj(&[("action", json!({"enum":["refuse","default"]})), ("role", role_ref.clone())], &["action"]);
    let rules = json!({"type":"array","items": rule});
    all["GroupRules"] = obj(&[("enabled", json!({"type":"boolean"})), ("rules", rules.clone()), ("no_match", no_match.clone()), ("version", json!({"type":"integer"})), ("seeded_from_env", json!({"type":"boolean"})), ("updated_at", time())], &["enabled", "rules", "no_match", "version"]);
    all["PutGroupRules"] = obj(&[("enabled", json!({"type":"boolean"})), ("rules", rules), ("no_match", no_match), ("version", json!({"type":"integer","description":"0 when there is no rule set yet"}))], &["enabled", "rules", "no_match", "version"]);
    all["GroupRulesDryRun"] = obj(&[("claims", json!({"type":"object"})), ("user_id", uuid()), ("rules", r("PutGroupRules"))], &[]);
    all["DryRunResult"] = obj(
        &[("matches", json!({"type":"array","items": obj(&[("position", json!({"type":"integer"})), ("values", json!({"type":"array","items":{"type":"string"}})), ("status", json!({"enum":["decided","later","role_missing"]}))], &["position","values","status"])})), ("outcome", json!({"enum":["rule","default","refused","default_missing"]})), ("role", role_ref)],
        &["matches", "outcome"],
    );
    all
}

pub fn build() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, needs, req, resp) in ROUTES {
        let mut op = json!({
            "summary": summary,
            "description": format!("Needs: {needs}. With a session cookie, state-changing requests need the X-CSRF-Token header. X-Organization-Id selects the organization."),
            "responses": {
                "default": { "description": "Error", "content": { "application/json": { "schema": r("Error") } } }
            }
        });
        let ok = match resp {
            Some(name) => json!({ "description": "OK", "content": { "application/json": { "schema": r(name) } } }),
            None => json!({ "description": "Done" }),
        };
        op["responses"][if *method == "post" && !path.ends_with("/dry-run") { "201" } else if resp.is_none() && *method == "delete" { "204" } else { "200" }] = ok;
        if let Some(name) = req {
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": r(name) } } });
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    let mut all_schemas = schemas();
    for (name, schema) in invitation_schemas() {
        all_schemas[name] = schema;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Portcullis API", "version": env!("CARGO_PKG_VERSION") },
        "components": {
            "schemas": all_schemas,
            "securitySchemes": { "session": { "type": "apiKey", "in": "cookie", "name": "portcullis_session" } }
        },
        "security": [{ "session": [] }],
        "paths": paths,
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}
