//! Records as storage returns them.

use portcullis_domain::{
    AutomationId, OrgId, PermSet, Role, SessionId, SessionTimes, Subject, Timestamp, UserId, Visibility,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    /// PHC-format argon2id hash; `None` for users who sign in through an IdP
    /// or have not set a password yet.
    pub password_hash: Option<String>,
    pub factory_admin: bool,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

// The password hash stays out of Debug output.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[redacted]"))
            .field("factory_admin", &self.factory_admin)
            .field("disabled_at", &self.disabled_at)
            .finish()
    }
}

#[derive(Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub factory_admin: bool,
}

/// A user's place in one organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub org: Organization,
    pub role: Role,
}

/// A member as the organization's admin sees them.
#[derive(Clone, Debug)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub joined_at: Timestamp,
}

#[derive(Clone)]
pub struct NewSession {
    pub id: SessionId,
    /// SHA-256 of the cookie value, hex; the value itself is never stored.
    pub token_hash: String,
    pub user_id: UserId,
    pub times: SessionTimes,
    pub provider: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub times: SessionTimes,
    pub provider: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One line of the append-only audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: uuid::Uuid,
    pub at: Timestamp,
    pub org_id: Option<OrgId>,
    pub actor_id: Option<UserId>,
    /// Who acted, as a person would read it (an e-mail address).
    pub actor: Option<String>,
    /// Dotted verb, e.g. `login.failure`, `role.update`.
    pub action: String,
    /// What was acted on, e.g. `user:<id>`, or the account name for sign-ins.
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// JSON object with action-specific detail (never a secret).
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub org_id: Option<OrgId>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub actor_id: Option<UserId>,
    pub action: Option<String>,
    pub limit: i64,
}

#[derive(Clone, Debug)]
pub struct NewAutomation {
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub created_by: Option<UserId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Automation {
    pub id: AutomationId,
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub subject: Subject,
    pub permissions: PermSet,
}
