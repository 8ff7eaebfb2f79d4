//! The audit log and recorded usage, as written and as read back.

use portcullis_domain::{AutomationId, OrgId, Timestamp, UserId};

/// One line of the append-only audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Its id.
    pub id: uuid::Uuid,
    /// When it happened.
    pub at: Timestamp,
    /// The organization it concerns, if one.
    pub org_id: Option<OrgId>,
    /// Who acted (account id).
    pub actor_id: Option<UserId>,
    /// Who acted, as a person would read it (an e-mail address).
    pub actor: Option<String>,
    /// Dotted verb, e.g. `login.failure`, `role.update`.
    pub action: String,
    /// What was acted on, e.g. `user:<id>`, or the account name for sign-ins.
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// The client address.
    pub ip: Option<String>,
    /// The request's id (the server log has more under it).
    pub request_id: Option<String>,
    /// JSON object with action-specific detail (never a secret).
    pub detail: serde_json::Value,
}

/// Which audit entries to read.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this organization's.
    pub org_id: Option<OrgId>,
    /// Not before this.
    pub since: Option<Timestamp>,
    /// Before this.
    pub until: Option<Timestamp>,
    /// Only this actor's.
    pub actor_id: Option<UserId>,
    /// Only this action.
    pub action: Option<String>,
    /// Only entries whose target starts with this (`automation:`,
    /// `user:<id>`, an e-mail address).
    pub target_prefix: Option<String>,
    /// At most this many (newest first).
    pub limit: i64,
}

/// One recorded usage event (a sign-in, an API call, a kickoff, an upstream error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageEvent {
    /// When it happened.
    pub at: Timestamp,
    /// The organization; `None` for installation-wide events.
    pub org_id: Option<OrgId>,
    /// `signin`, `api_call`, `kickoff`, `upstream_error`.
    pub kind: String,
    /// The provider of a sign-in.
    pub provider: Option<String>,
    /// Whether a sign-in or call succeeded.
    pub success: Option<bool>,
    /// The automation of a kickoff.
    pub automation_id: Option<AutomationId>,
    /// Who acted.
    pub user_id: Option<UserId>,
    /// The upstream latency of a kickoff.
    pub latency_ms: Option<i64>,
    /// Latency histogram bucket, computed by the server (see its usage module).
    pub latency_bucket: Option<i64>,
    /// How many identical events this record stands for (1 for one event).
    /// The roll-ups add it; a kind kept as rows ([`UsageEvent::kept_as_row`])
    /// still gets one row per record.
    pub count: i64,
}

impl UsageEvent {
    /// Whether the event is kept as a row of its own besides the roll-ups.
    /// API calls and kickoffs are not: their roll-ups (and the executions
    /// table) are their record, and a row each would double the write load
    /// of the busiest paths. Sign-ins and upstream errors are kept.
    pub fn kept_as_row(&self) -> bool {
        self.kind != "api_call" && self.kind != "kickoff"
    }
}

/// What a usage report reads: organization (`None`: installation-wide
/// events), the range `[from, to)` (aligned to the period), the period of the
/// roll-ups to read (`daily` or hourly), and the report's bucket size.
#[derive(Clone, Debug)]
pub struct UsageQuery {
    /// The organization; `None` for installation-wide events.
    pub org_id: Option<OrgId>,
    /// Start of the range.
    pub from: Timestamp,
    /// End of the range (excluded).
    pub to: Timestamp,
    /// Read the daily roll-ups (else the hourly ones).
    pub daily: bool,
    /// The report's bucket size.
    pub bucket_ms: i64,
}

/// Counts per report bucket (index from `from`), kind, provider and outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageKindRow {
    /// The report bucket (index from `from`).
    pub bucket: i64,
    /// The event kind.
    pub kind: String,
    /// The provider (empty when none).
    pub provider: String,
    /// The outcome.
    pub success: bool,
    /// How many.
    pub count: i64,
}

/// Kickoffs per automation or user over the whole range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageSubjectRow {
    /// `automation` or `user`.
    pub subject_type: String,
    /// The automation's or user's id.
    pub subject_id: String,
    /// How many kickoffs.
    pub count: i64,
}

/// Latency histogram counts per report bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageLatencyRow {
    /// The report bucket (index from `from`).
    pub bucket: i64,
    /// The latency histogram bucket.
    pub latency_bucket: i64,
    /// How many kickoffs fell in it.
    pub count: i64,
}

/// What a usage report is computed from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageRows {
    /// Counts by kind, provider and outcome.
    pub kinds: Vec<UsageKindRow>,
    /// Kickoffs per automation and per user.
    pub subjects: Vec<UsageSubjectRow>,
    /// The latency histogram.
    pub latency: Vec<UsageLatencyRow>,
}
