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
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserInfo {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub factory_admin: bool,
    pub disabled: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleInfo {
    pub id: Uuid,
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgMembershipInfo {
    pub id: Uuid,
    pub name: String,
    pub role: RoleInfo,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: Uuid,
    pub provider: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// When the session ends if unused (the earlier of idle and absolute expiry).
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub current: bool,
}

/// `GET /api/v1/me`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Me {
    pub user: UserInfo,
    pub session: SessionInfo,
    pub organizations: Vec<OrgMembershipInfo>,
    /// Send back as `X-CSRF-Token` on state-changing requests made with the
    /// session cookie.
    pub csrf_token: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrganizationInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberInfo {
    pub user: UserInfo,
    pub role: RoleInfo,
    pub joined_at: String,
}

/// `POST /api/v1/invitations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    pub email: String,
    /// Role in the organization once accepted; the Member role when absent.
    #[serde(default)]
    pub role_id: Option<Uuid>,
}

/// A membership waiting for the person invited.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InvitationInfo {
    pub id: Uuid,
    pub email: String,
    pub role: RoleInfo,
    pub invited_by: Uuid,
    pub created_at: String,
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
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

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    pub name: String,
    /// Level per feature; features left out are `none`.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replaces the whole permission set; features left out are `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevokedSessions {
    pub revoked: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HealthInfo {
    /// `unknown`, `healthy` or `unhealthy`.
    pub state: String,
    pub reason: Option<String>,
    pub checked_at: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AutomationInfo {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// `organization` or `private`.
    pub visibility: String,
    pub created_at: String,
    pub updated_at: String,
    /// Base URL of the deployed automation's own API.
    pub upstream_url: String,
    /// Whether an upstream token is stored (the token itself is never returned).
    pub has_upstream_token: bool,
    pub health: HealthInfo,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateAutomation {
    pub name: String,
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

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpdateAutomation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_token: Option<String>,
}

/// One run through the kickoff proxy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub id: Uuid,
    pub automation_id: Uuid,
    pub user_id: Option<Uuid>,
    pub started_at: String,
    pub inputs_bytes: i64,
    pub kickoff_id: Option<String>,
    pub state: String,
    pub upstream_latency_ms: Option<i64>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvVarInfo {
    pub id: Uuid,
    pub name: String,
    /// `None` for organization-wide variables.
    pub automation_id: Option<Uuid>,
    /// Never the value: a fixed mask.
    pub masked_value: String,
    pub value_bytes: i64,
    pub updated_by: Option<Uuid>,
    pub updated_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PutEnvVar {
    pub name: String,
    pub value: String,
    /// Set for a variable of one automation; absent for organization-wide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation_id: Option<Uuid>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvVarValue {
    pub id: Uuid,
    pub name: String,
    pub value: String,
}

/// `GET /api/v1/usage`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UsageReport {
    pub from: String,
    pub to: String,
    pub bucket_seconds: i64,
    pub buckets: Vec<UsageBucket>,
    /// Totals over the whole range.
    pub total: UsageBucket,
    pub kickoffs_by_automation: BTreeMap<String, i64>,
    pub kickoffs_by_user: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UsageBucket {
    pub start: String,
    pub signins_success: i64,
    pub signins_failure: i64,
    pub signins_by_provider: BTreeMap<String, i64>,
    pub api_calls: i64,
    pub kickoffs: i64,
    pub upstream_errors: i64,
    /// Upstream latency percentiles (from a histogram with ~19 % wide buckets), `None` without kickoffs.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

/// One line of `GET /api/v1/dashboard/automations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DashboardAutomation {
    pub automation: AutomationInfo,
    pub last_execution: Option<ExecutionInfo>,
    pub executions_24h: i64,
    pub failures_24h: i64,
}

/// A grant on an automation: `subject_type` is `user` or `role`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GrantInfo {
    pub subject_type: String,
    pub subject_id: Uuid,
    /// Any of `run`, `traces`, `manage_settings`, `human_in_the_loop`, `full_access`.
    pub permissions: Vec<String>,
}

/// `GET`/`PUT /api/v1/automations/{id}/access`: the whole access list. A PUT
/// replaces it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AutomationAccessInfo {
    pub visibility: String,
    pub grants: Vec<GrantInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEventInfo {
    pub id: Uuid,
    pub at: String,
    pub organization_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
}

/// `GET /auth/local/login` with `Accept: application/json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoginForm {
    pub csrf_token: String,
}
