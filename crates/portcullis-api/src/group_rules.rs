//! Group-to-role rules (`/api/v1/group-rules`): how an organization's
//! memberships follow the identity provider's groups.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A role, by what no rename changes: exactly one of `kind` (`owner`,
/// `member`), `id`, or `key` (a custom role's, fixed at creation).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleRef {
    /// `owner` or `member`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A role's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// A custom role's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// In answers: the role's display name now, or none when it no longer exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One rule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupRuleInfo {
    /// `idp_roles` (what the provider's adapter reads as roles), `claim` (a
    /// claim of the token, named by `claim`) or `scim_group`.
    pub source: String,
    /// The claim path (`groups`, `realm_access.roles`), for `source: claim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// `exact` or `glob` (`*` any run of characters, `?` one).
    #[serde(rename = "match")]
    pub match_: String,
    /// The group name or id, or the glob.
    pub pattern: String,
    /// The role it gives.
    pub role: RoleRef,
}

/// What happens when no rule matches: `refuse`, or `default` with a `role`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoMatchInfo {
    /// `refuse` or `default`.
    pub action: String,
    /// The default role, for `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleRef>,
}

/// `GET /api/v1/group-rules`: the organization's rule set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupRulesInfo {
    /// Whether sign-ins apply the rules (memberships then follow the IdP).
    pub enabled: bool,
    /// In order: the first that matches, with a role that exists, decides.
    pub rules: Vec<GroupRuleInfo>,
    /// When none matches.
    pub no_match: NoMatchInfo,
    /// The version to send back with a change (0: no rule set yet).
    pub version: i64,
    /// Written from `PORTCULLIS_ROLE_MAPPING` and not edited since.
    pub seeded_from_env: bool,
    /// When it last changed (RFC 3339), if ever.
    pub updated_at: Option<String>,
}

/// `PUT /api/v1/group-rules`: the whole rule set, replacing the stored one
/// if it is still at `version`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PutGroupRules {
    /// Whether sign-ins apply the rules.
    pub enabled: bool,
    /// In order.
    pub rules: Vec<GroupRuleInfo>,
    /// When none matches.
    pub no_match: NoMatchInfo,
    /// The version the change was made from (`GroupRulesInfo::version`).
    pub version: i64,
}

/// `POST /api/v1/group-rules/dry-run`: which rules match, and which role
/// results, for pasted claims and/or a person's SCIM groups.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GroupRulesDryRun {
    /// The token's claims, as the IdP sends them (an object). Rules on
    /// `idp_roles` see what each configured provider's adapter reads from
    /// them (or `roles` and `groups`, with no OpenID provider configured).
    #[serde(default)]
    pub claims: Option<serde_json::Value>,
    /// A person of the organization: their SCIM groups are used.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// Rules to try instead of the stored ones (not saved).
    #[serde(default)]
    pub rules: Option<PutGroupRules>,
}

/// A rule that matched.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DryRunMatch {
    /// Its place in the set (1-based, as the panel numbers them).
    pub position: usize,
    /// The group values it matched.
    pub values: Vec<String>,
    /// `decided`, `later` (an earlier rule decided) or `role_missing`.
    pub status: String,
}

/// The answer to a dry run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DryRunResult {
    /// Every rule that matched, in order.
    pub matches: Vec<DryRunMatch>,
    /// `rule`, `default`, `refused` or `default_missing`.
    pub outcome: String,
    /// The role that results, if any.
    pub role: Option<RoleRef>,
}
