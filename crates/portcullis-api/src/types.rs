//! Request and response bodies of the JSON API (`/api/v1`). Request types
//! refuse unknown fields, so a typo is an error rather than silently ignored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Every error response: a stable machine-readable code and a message that
/// says what was wrong and how to fix it. 5xx bodies carry only a generic
/// message and the request id under which the detail was logged.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// A stable code for programs (`csrf`, `not_found`, `validation`, ...).
    pub error: String,
    /// What was wrong and how to fix it.
    pub message: String,
    /// The id the server logged the detail under (5xx, and sign-in errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserInfo {
    /// Its id.
    pub id: Uuid,
    /// Its e-mail address.
    pub email: String,
    /// The name shown for it.
    pub display_name: String,
    /// Whether it holds the installation-wide `factory-admin` role.
    pub factory_admin: bool,
    /// A disabled account cannot sign in, and its sessions and tokens stop working.
    pub disabled: bool,
}

/// A role of an organization.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleInfo {
    /// Its id.
    pub id: Uuid,
    /// Its display name.
    pub name: String,
    /// What `PORTCULLIS_ROLE_MAPPING` names the role by: `owner`, `member`,
    /// or a custom role's key, fixed when it was created (renaming the role
    /// does not change it).
    #[serde(default)]
    pub key: String,
    /// `owner`, `member` or `custom`.
    pub kind: String,
    /// Level per feature: `none`, `read`, `write` or `manage`.
    pub permissions: BTreeMap<String, String>,
}

/// One organization of the caller, with their role there.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgMembershipInfo {
    /// The organization's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The caller's role there.
    pub role: RoleInfo,
}

/// A session (or, for bearer callers, the token standing for one).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its id.
    pub id: Uuid,
    /// The provider signed in with (`local`, `okta`, ...).
    pub provider: String,
    /// When it started; RFC 3339, UTC.
    pub created_at: String,
    /// When it was last used; RFC 3339, UTC.
    pub last_seen_at: String,
    /// When the session ends if unused (the earlier of idle and absolute expiry).
    pub expires_at: String,
    /// The client address it started from.
    pub ip: Option<String>,
    /// The browser that started it.
    pub user_agent: Option<String>,
    /// Whether it is the session of this request.
    pub current: bool,
}

/// `GET /api/v1/me`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Me {
    /// Who is calling.
    pub user: UserInfo,
    /// The session of this request.
    pub session: SessionInfo,
    /// The caller's organizations and roles.
    pub organizations: Vec<OrgMembershipInfo>,
    /// Send back as `X-CSRF-Token` on state-changing requests made with the
    /// session cookie.
    pub csrf_token: String,
}

/// An organization.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrganizationInfo {
    /// Its id.
    pub id: Uuid,
    /// Its name (unique, case-insensitively).
    pub name: String,
    /// When it was created; RFC 3339, UTC.
    pub created_at: String,
}

/// `POST /api/v1/organizations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// The new organization's name.
    pub name: String,
}

/// A member of the current organization.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberInfo {
    /// The account.
    pub user: UserInfo,
    /// Its role in the organization.
    pub role: RoleInfo,
    /// When it joined; RFC 3339, UTC.
    pub joined_at: String,
}

/// `POST /api/v1/invitations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// The address invited.
    pub email: String,
    /// Role in the organization once accepted; the Member role when absent.
    #[serde(default)]
    pub role_id: Option<Uuid>,
}

/// A membership waiting for the person invited.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InvitationInfo {
    /// Its id.
    pub id: Uuid,
    /// The address invited.
    pub email: String,
    /// The role it grants once accepted.
    pub role: RoleInfo,
    /// Who sent it.
    pub invited_by: Uuid,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// After this it can no longer be accepted; RFC 3339, UTC.
    pub expires_at: String,
    /// `link`: the person opens the link (signed in as this address, or
    /// choosing a password for a new account) and accepts; `first_sign_in`:
    /// it takes effect when they first sign in through the identity
    /// provider with this (verified) address.
    pub accepted_by: String,
    /// Only in the answer that created it: the one-time link. Hand it over privately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_url: Option<String>,
    /// Set when it can no longer be accepted although it has not expired:
    /// why (the person who sent it may no longer invite to this role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// `POST /api/v1/users`: a local account (the `local` provider only).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Its e-mail address.
    pub email: String,
    /// The name shown; the address when absent.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The new local account's password, at least 12 characters (the
    /// `local` provider only). To add someone who should choose their own,
    /// or who has an account already, invite them: `POST /api/v1/invitations`.
    #[serde(default)]
    pub password: Option<String>,
    /// Role in the organization; the Member role when absent.
    #[serde(default)]
    pub role_id: Option<Uuid>,
}

/// `PATCH /api/v1/users/{user}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// The member's new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<Uuid>,
    /// Disable or enable the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// `POST /api/v1/roles`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// The display name (unique in the organization).
    pub name: String,
    /// Level per feature; features left out are `none`.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
}

/// `PATCH /api/v1/roles/{id}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// The new display name (the role's key does not change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replaces the whole permission set; features left out are `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, String>>,
}

/// The answer of `DELETE /api/v1/users/{user}/sessions`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevokedSessions {
    /// How many sessions ended.
    pub revoked: u64,
}

/// An automation's last health check.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HealthInfo {
    /// `unknown`, `healthy` or `unhealthy`.
    pub state: String,
    /// Why it is unhealthy (the check's error).
    pub reason: Option<String>,
    /// When it was last checked; RFC 3339, UTC.
    pub checked_at: Option<String>,
}

/// An automation: a deployed crew behind the kickoff proxy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AutomationInfo {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// `organization` or `private`.
    pub visibility: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    /// Base URL of the deployed automation's own API.
    pub upstream_url: String,
    /// Whether an upstream token is stored (the token itself is never returned).
    pub has_upstream_token: bool,
    /// Its last health check.
    pub health: HealthInfo,
}

/// `POST /api/v1/automations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateAutomation {
    /// Its name (unique in the organization).
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// `organization` (default) or `private`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Base URL of the deployed automation (http or https).
    pub upstream_url: String,
    /// The automation's own bearer token; stored sealed, never returned.
    pub upstream_token: String,
}

/// `PATCH /api/v1/automations/{id}`: what is given changes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpdateAutomation {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new base URL (the stored token is dropped unless a new one is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_url: Option<String>,
    /// A new token (stored sealed, never returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_token: Option<String>,
}

/// One run through the kickoff proxy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecutionInfo {
    /// Its id.
    pub id: Uuid,
    /// The automation run.
    pub automation_id: Uuid,
    /// Who started it.
    pub user_id: Option<Uuid>,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// The size of the inputs sent.
    pub inputs_bytes: i64,
    /// The automation's own id for the run.
    pub kickoff_id: Option<String>,
    /// `running` once kicked off, `failed` when the kickoff failed, then
    /// what the automation's status endpoint last reported.
    pub state: String,
    /// How long the automation took to answer the kickoff.
    pub upstream_latency_ms: Option<i64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// An environment variable, never with its value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvVarInfo {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// `None` for organization-wide variables.
    pub automation_id: Option<Uuid>,
    /// Never the value: a fixed mask.
    pub masked_value: String,
    /// The value's length.
    pub value_bytes: i64,
    /// Who set it last.
    pub updated_by: Option<Uuid>,
    /// When it was set last; RFC 3339, UTC.
    pub updated_at: String,
}

/// `PUT /api/v1/env`: creates the variable or replaces its value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PutEnvVar {
    /// Its name (letters, digits and `_`).
    pub name: String,
    /// The value (stored sealed).
    pub value: String,
    /// Set for a variable of one automation; absent for organization-wide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation_id: Option<Uuid>,
}

/// A revealed value (`GET /api/v1/env/{id}/value`, audited).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvVarValue {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The value.
    pub value: String,
}

/// `GET /api/v1/usage`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UsageReport {
    /// Start of the range; RFC 3339, UTC.
    pub from: String,
    /// End of the range; RFC 3339, UTC.
    pub to: String,
    /// The width of each bucket.
    pub bucket_seconds: i64,
    /// The range, bucket by bucket.
    pub buckets: Vec<UsageBucket>,
    /// Totals over the whole range.
    pub total: UsageBucket,
    /// Kickoffs per automation id over the range.
    pub kickoffs_by_automation: BTreeMap<String, i64>,
    /// Kickoffs per user id over the range.
    pub kickoffs_by_user: BTreeMap<String, i64>,
}

/// The usage of one time bucket.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UsageBucket {
    /// The bucket's start; RFC 3339, UTC.
    pub start: String,
    /// Sign-ins that succeeded.
    pub signins_success: i64,
    /// Sign-ins that failed.
    pub signins_failure: i64,
    /// Sign-ins per provider.
    pub signins_by_provider: BTreeMap<String, i64>,
    /// Calls of the API.
    pub api_calls: i64,
    /// Kickoffs through the proxy.
    pub kickoffs: i64,
    /// Kickoffs the automation answered with an error, or not at all.
    pub upstream_errors: i64,
    /// Upstream latency percentiles (from a histogram with ~19 % wide buckets), `None` without kickoffs.
    pub latency_p50_ms: Option<f64>,
    /// The 95th percentile of upstream latency.
    pub latency_p95_ms: Option<f64>,
}

/// One line of `GET /api/v1/dashboard/automations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DashboardAutomation {
    /// The automation.
    pub automation: AutomationInfo,
    /// Its latest run.
    pub last_execution: Option<ExecutionInfo>,
    /// Runs in the last 24 hours.
    pub executions_24h: i64,
    /// Failed runs in the last 24 hours.
    pub failures_24h: i64,
}

/// A grant on an automation: `subject_type` is `user` or `role`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GrantInfo {
    /// `user` or `role`.
    pub subject_type: String,
    /// The user's or the role's id.
    pub subject_id: Uuid,
    /// Any of `run`, `traces`, `manage_settings`, `human_in_the_loop`, `full_access`.
    pub permissions: Vec<String>,
}

/// `GET`/`PUT /api/v1/automations/{id}/access`: the whole access list. A PUT
/// replaces it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AutomationAccessInfo {
    /// `organization` or `private`.
    pub visibility: String,
    /// Every grant.
    pub grants: Vec<GrantInfo>,
}

/// An entry of the audit log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEventInfo {
    /// Its id.
    pub id: Uuid,
    /// When it happened; RFC 3339, UTC.
    pub at: String,
    /// The organization it concerns, if one.
    pub organization_id: Option<Uuid>,
    /// Who did it (account id).
    pub actor_id: Option<Uuid>,
    /// Who did it (as shown).
    pub actor: Option<String>,
    /// What was done (`login`, `role.update`, `env.reveal`, ...).
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// The client address.
    pub ip: Option<String>,
    /// The request's id (the server log has more under it).
    pub request_id: Option<String>,
    /// Details of the action.
    pub detail: serde_json::Value,
}

/// `GET /auth/local/login` with `Accept: application/json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginForm {
    /// The token the form must send back.
    pub csrf_token: String,
}

/// A CLI login of the caller (`GET /api/v1/me/cli-logins`): a device login
/// and every renewal of its tokens since.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CliLoginInfo {
    /// The login's id (its refresh-token family).
    pub id: String,
    /// The client that logged in.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// When the device login happened; RFC 3339, UTC.
    pub started_at: String,
    /// When its tokens were last renewed; RFC 3339, UTC.
    pub last_used_at: String,
    /// When it ends however often renewed; RFC 3339, UTC.
    pub expires_at: String,
}
