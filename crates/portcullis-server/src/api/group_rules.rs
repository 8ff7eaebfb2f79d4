//! `/api/v1/group-rules`: the organization's group-to-role rules, read by
//! anyone who may see the roles, replaced whole (over the version read) by
//! `organization_settings: manage`, and tried out in a dry run.

use super::Json;
use crate::audit::{self, Entry};
use crate::error::{ApiError, ApiResult};
use crate::session::OrgScope;
use crate::state::AppState;
use crate::timestamps::rfc3339;
use axum::extract::State;
use portcullis_api as api;
use portcullis_domain::group_rules::{ClaimPath, Evaluation, GroupRule, GroupSource, NoMatch, Outcome, Pattern, RoleChoice, RuleSet, Skipped};
use portcullis_domain::{Action, Feature, Level, Role, RoleId, RoleKind, ValidationError};
use portcullis_storage::StoredRuleSet;

fn role_ref(choice: &RoleChoice, roles: &[Role]) -> api::RoleRef {
    let name = choice.resolve(roles).map(|r| r.name.clone());
    match choice {
        RoleChoice::Kind(k) => api::RoleRef { kind: Some(k.as_str().into()), name, ..Default::default() },
        RoleChoice::Id(id) => api::RoleRef { id: Some(id.0), name, ..Default::default() },
        RoleChoice::Key(key) => api::RoleRef { key: Some(key.clone()), name, ..Default::default() },
    }
}

fn bad(field: &'static str, problem: impl Into<String>) -> ApiError {
    ValidationError::new(field, problem).into()
}

/// A wire role as a choice, checked against the organization's roles: a
/// role named by id or key must exist when the rules are saved.
fn role_choice(r: &api::RoleRef, roles: &[Role], field: &'static str) -> ApiResult<RoleChoice> {
    let choice = match (&r.kind, &r.id, &r.key) {
        (Some(kind), None, None) => match RoleKind::parse(kind) {
            Some(k) if k.is_predefined() => RoleChoice::Kind(k),
            _ => return Err(bad(field, format!("kind `{kind}` is not a predefined role: use `owner` or `member`, or name a custom role by `id` or `key`"))),
        },
        (None, Some(id), None) => RoleChoice::Id(RoleId(*id)),
        (None, None, Some(key)) => RoleChoice::Key(key.trim().to_lowercase()),
        _ => return Err(bad(field, "name the role by exactly one of `kind` (owner, member), `id` or `key`, never by its display name")),
    };
    if choice.resolve(roles).is_none() {
        return Err(bad(field, "no such role in this organization; GET /api/v1/roles lists them"));
    }
    Ok(choice)
}

fn rule_in(r: &api::GroupRuleInfo, roles: &[Role]) -> ApiResult<GroupRule> {
    let source = match (r.source.as_str(), &r.claim) {
        ("idp_roles", None) => GroupSource::IdpRoles,
        ("scim_group", None) => GroupSource::ScimGroup,
        ("claim", Some(path)) => GroupSource::Claim(ClaimPath::parse(path)?),
        ("claim", None) => return Err(bad("claim", "a rule on a claim names it (e.g. \"groups\")")),
        ("idp_roles" | "scim_group", Some(_)) => return Err(bad("claim", "only a rule with source `claim` names a claim")),
        (other, _) => return Err(bad("source", format!("`{other}` is not a source: use idp_roles, claim or scim_group"))),
    };
    let glob = match r.match_.as_str() {
        "exact" => false,
        "glob" => true,
        other => return Err(bad("match", format!("`{other}` is not a way to match: use exact or glob"))),
    };
    Ok(GroupRule { source, pattern: Pattern::parse(glob, &r.pattern)?, role: role_choice(&r.role, roles, "role")? })
}

/// The wire rule set as the domain's, validated.
pub fn rule_set_in(body: &api::PutGroupRules, roles: &[Role]) -> ApiResult<RuleSet> {
    // Errors name the rule by its place (1-based), as the panel numbers them.
    let rules = body
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            rule_in(r, roles).map_err(|mut e| {
                e.message = format!("rule {}: {}", i + 1, e.message);
                e
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let no_match = match (body.no_match.action.as_str(), &body.no_match.role) {
        ("refuse", None) => NoMatch::Refuse,
        ("default", Some(r)) => NoMatch::Default(role_choice(r, roles, "no_match.role")?),
        ("default", None) => return Err(bad("no_match.role", "a default names its role (e.g. {\"kind\": \"member\"})")),
        ("refuse", Some(_)) => return Err(bad("no_match.role", "refuse takes no role; use action default to give one")),
        (other, _) => return Err(bad("no_match.action", format!("`{other}` is not an answer: use refuse or default"))),
    };
    let set = RuleSet { rules, no_match };
    set.validate()?;
    Ok(set)
}

fn rule_out(r: &GroupRule, roles: &[Role]) -> api::GroupRuleInfo {
    let (source, claim) = match &r.source {
        GroupSource::IdpRoles => ("idp_roles", None),
        GroupSource::Claim(p) => ("claim", Some(p.as_str().to_owned())),
        GroupSource::ScimGroup => ("scim_group", None),
    };
    let match_ = if matches!(r.pattern, Pattern::Glob(_)) { "glob" } else { "exact" };
    api::GroupRuleInfo { source: source.into(), claim, match_: match_.into(), pattern: r.pattern.as_str().into(), role: role_ref(&r.role, roles) }
}

/// The stored rule set as the API shows it (an empty, refusing, disabled one when there is none).
pub fn info(stored: Option<&StoredRuleSet>, roles: &[Role]) -> api::GroupRulesInfo {
    let Some(s) = stored else {
        return api::GroupRulesInfo { enabled: false, rules: vec![], no_match: api::NoMatchInfo { action: "refuse".into(), role: None }, version: 0, seeded_from_env: false, updated_at: None };
    };
    let no_match = match &s.set.no_match {
        NoMatch::Refuse => api::NoMatchInfo { action: "refuse".into(), role: None },
        NoMatch::Default(c) => api::NoMatchInfo { action: "default".into(), role: Some(role_ref(c, roles)) },
    };
    api::GroupRulesInfo {
        enabled: s.enabled,
        rules: s.set.rules.iter().map(|r| rule_out(r, roles)).collect(),
        no_match,
        version: s.version,
        seeded_from_env: s.seeded_from_env,
        updated_at: Some(rfc3339(s.updated_at)),
    }
}

/// The organization's rule set, after seeding it from the environment if it names this organization.
pub async fn load(state: &AppState, scope: &OrgScope) -> ApiResult<Option<StoredRuleSet>> {
    crate::signin::role_mapping::governed_sets(state).await?;
    Ok(state.store.get_group_rules(scope.org.id).await?)
}

/// `GET /api/v1/group-rules` (needs `invitations: read`, as the roles do).
pub async fn get(State(state): State<AppState>, scope: OrgScope) -> ApiResult<axum::Json<api::GroupRulesInfo>> {
    scope.authorize(Action::Feature(Feature::Invitations, Level::Read), "group rules")?;
    let stored = load(&state, &scope).await?;
    let roles = state.store.list_roles(scope.org.id).await?;
    Ok(axum::Json(info(stored.as_ref(), &roles)))
}

/// `PUT /api/v1/group-rules` (needs `organization_settings: manage`).
pub async fn put(State(state): State<AppState>, scope: OrgScope, Json(body): Json<api::PutGroupRules>) -> ApiResult<axum::Json<api::GroupRulesInfo>> {
    Ok(axum::Json(save(&state, &scope, &body).await?))
}

/// Replaces the rule set; audited. The next sign-in of each person applies it.
pub async fn save(state: &AppState, scope: &OrgScope, body: &api::PutGroupRules) -> ApiResult<api::GroupRulesInfo> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "group rules")?;
    let roles = state.store.list_roles(scope.org.id).await?;
    let set = rule_set_in(body, &roles)?;
    let if_version = (body.version > 0).then_some(body.version);
    let stored = state.store.put_group_rules(scope.org.id, &set, body.enabled, if_version, state.clock.now()).await.map_err(|e| match e {
        portcullis_storage::StoreError::Stale => ApiError::conflict(
            "changed_meanwhile",
            format!("the group rules changed since version {} was read (someone else saved them); GET /api/v1/group-rules, reapply your change, and send the new version", body.version),
        ),
        other => other.into(),
    })?;
    let actor = &scope.caller.ctx.user;
    let out = info(Some(&stored), &roles);
    audit::record(
        state,
        Entry::new("group_rules.update", true).org(scope.org.id).actor(actor.id, &actor.email).target("group-rules").detail(serde_json::json!({ "version": out.version, "enabled": out.enabled, "rules": out.rules, "no_match": out.no_match })),
    )
    .await;
    Ok(out)
}

/// `POST /api/v1/group-rules/dry-run` (needs `organization_settings: manage`:
/// it reads a person's groups).
pub async fn dry_run(State(state): State<AppState>, scope: OrgScope, Json(body): Json<api::GroupRulesDryRun>) -> ApiResult<axum::Json<api::DryRunResult>> {
    Ok(axum::Json(run(&state, &scope, &body).await?))
}

/// What the rules (stored, or the ones in `body`) decide for the claims and person in `body`.
pub async fn run(state: &AppState, scope: &OrgScope, body: &api::GroupRulesDryRun) -> ApiResult<api::DryRunResult> {
    scope.authorize(Action::Feature(Feature::OrganizationSettings, Level::Manage), "the group rules' dry run")?;
    let roles = state.store.list_roles(scope.org.id).await?;
    let set = match &body.rules {
        Some(rules) => StoredRuleSet { org_id: scope.org.id, set: rule_set_in(rules, &roles)?, enabled: true, seeded_from_env: false, version: 0, updated_at: state.clock.now() },
        None => load(state, scope).await?.ok_or_else(|| ApiError::bad_request("no_group_rules", "this organization has no group rules yet; send `rules` to try some, or save them first"))?,
    };
    let claims = match &body.claims {
        None => serde_json::json!({}),
        Some(c @ serde_json::Value::Object(_)) => c.clone(),
        Some(_) => return Err(bad("claims", "must be a JSON object, as in the token's payload ({\"groups\": [\"engineering\"]})")),
    };
    let known = match body.user_id {
        None => vec![],
        Some(id) => {
            let user = portcullis_domain::UserId(id);
            if !state.store.list_members(scope.org.id).await?.iter().any(|m| m.user.id == user) {
                return Err(ApiError::not_found("member"));
            }
            state.store.known_groups(scope.org.id, user).await?
        }
    };
    let idp_roles = adapter_roles(state, &claims);
    let evaluation = crate::signin::group_rules::evaluate(&set, &idp_roles, &claims, &known, &roles);
    Ok(result(&evaluation, &roles))
}

/// What the configured providers' adapters read as roles from `claims`.
fn adapter_roles(state: &AppState, claims: &serde_json::Value) -> Vec<String> {
    use crate::idp::vendors::VendorOf;
    let mut out: Vec<String> = Vec::new();
    if state.config.sso.providers.is_empty() {
        for path in ["roles", "groups"] {
            out.extend(crate::signin::group_rules::claim_strings(claims, &ClaimPath::parse(path).expect("a valid path")));
        }
    }
    for p in &state.config.sso.providers {
        out.extend(p.vendor().roles(p, claims));
    }
    out.sort();
    out.dedup();
    out
}

fn result(e: &Evaluation, roles: &[Role]) -> api::DryRunResult {
    let matches = e
        .matches
        .iter()
        .map(|m| api::DryRunMatch {
            position: m.index + 1,
            values: m.values.clone(),
            status: match m.skipped {
                None => "decided",
                Some(Skipped::Later) => "later",
                Some(Skipped::RoleMissing) => "role_missing",
            }
            .into(),
        })
        .collect();
    let (outcome, role) = match &e.outcome {
        Outcome::Rule { role, .. } => ("rule", Some(role)),
        Outcome::Default { role } => ("default", Some(role)),
        Outcome::Refused => ("refused", None),
        Outcome::DefaultMissing => ("default_missing", None),
    };
    let role = role.map(|r| role_ref(&if r.kind.is_predefined() { RoleChoice::Kind(r.kind) } else { RoleChoice::Id(r.id) }, roles));
    api::DryRunResult { matches, outcome: outcome.into(), role }
}
