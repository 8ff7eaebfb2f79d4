//! Automations, their grants, executions and environment variables.

use portcullis_domain::{AutomationId, OrgId, PermSet, Subject, Timestamp, UserId, Visibility};

/// An automation being registered.
#[derive(Clone, Debug)]
pub struct NewAutomation {
    /// Chosen by the caller, who needs it to seal the token for this row.
    pub id: AutomationId,
    /// The organization it belongs to.
    pub org_id: OrgId,
    /// Its name (unique in the organization).
    pub name: String,
    /// What it does.
    pub description: String,
    /// Organization-wide or private.
    pub visibility: Visibility,
    /// Who registered it.
    pub created_by: Option<UserId>,
    /// Base URL of the deployed automation's own API.
    pub upstream_url: String,
    /// Its bearer token, sealed by the server (storage never sees it in clear).
    pub upstream_token_sealed: Option<String>,
}

/// The last known health of an automation's upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// `unknown`, `healthy` or `unhealthy`.
    pub state: String,
    /// Why it is unhealthy (the check's error).
    pub reason: Option<String>,
    /// When it was last checked.
    pub checked_at: Option<Timestamp>,
}

/// An automation: a deployed crew behind the kickoff proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct Automation {
    /// Its id.
    pub id: AutomationId,
    /// The organization it belongs to.
    pub org_id: OrgId,
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Organization-wide or private.
    pub visibility: Visibility,
    /// Who registered it.
    pub created_by: Option<UserId>,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
    /// Base URL of the deployed automation's own API.
    pub upstream_url: String,
    /// Its bearer token, sealed by the server and bound to the URL's origin.
    pub upstream_token_sealed: Option<String>,
    /// Its last health check.
    pub health: Health,
}

impl std::fmt::Debug for Automation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Automation")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .field("visibility", &self.visibility)
            .field("upstream_url", &self.upstream_url)
            .field("upstream_token_sealed", &self.upstream_token_sealed.as_ref().map(|_| "[sealed]"))
            .field("health", &self.health)
            .finish()
    }
}

/// Changes to an automation; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AutomationUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new base URL.
    pub upstream_url: Option<String>,
    /// A new token, sealed by the server.
    pub upstream_token_sealed: Option<String>,
    /// Forget the stored token (when `upstream_token_sealed` is `None`).
    pub clear_upstream_token: bool,
}

/// One run of an automation through the kickoff proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// Its id.
    pub id: uuid::Uuid,
    /// The automation run.
    pub automation_id: AutomationId,
    /// Its organization.
    pub org_id: OrgId,
    /// Who started it.
    pub user_id: Option<UserId>,
    /// When it started.
    pub started_at: Timestamp,
    /// The size of the inputs sent.
    pub inputs_bytes: i64,
    /// The automation's own id for the run.
    pub kickoff_id: Option<String>,
    /// `pending` (sent), `running`, `completed`, `failed`, ... as the upstream reports.
    pub state: String,
    /// How long the automation took to answer the kickoff.
    pub upstream_latency_ms: Option<i64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// When its state last changed.
    pub updated_at: Timestamp,
}

/// Per-automation execution figures since a point in time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionStats {
    /// Runs since then.
    pub executions: i64,
    /// Failed runs since then.
    pub failures: i64,
    /// The latest run.
    pub last: Option<Execution>,
}

/// An environment variable, its value sealed by the server.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its organization.
    pub org_id: OrgId,
    /// The automation it is for; `None` for organization-wide.
    pub automation_id: Option<AutomationId>,
    /// Its name.
    pub name: String,
    /// The value, sealed by the server.
    pub sealed_value: String,
    /// The value's length.
    pub value_bytes: i64,
    /// Who set it last.
    pub updated_by: Option<UserId>,
    /// When it was set last.
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvVar")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("automation_id", &self.automation_id)
            .field("name", &self.name)
            .field("sealed_value", &"[sealed]")
            .finish()
    }
}

/// A grant on an automation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Who holds it.
    pub subject: Subject,
    /// What it allows.
    pub permissions: PermSet,
}

/// A change to the executions table, applied in order by the server's
/// background writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecutionOp {
    /// A new execution.
    Insert(Execution),
    /// A state the upstream's status endpoint reported for a kickoff.
    State {
        /// The automation.
        automation_id: AutomationId,
        /// Its own id for the run.
        kickoff_id: String,
        /// The state it reported.
        state: String,
        /// When.
        at: Timestamp,
    },
}
