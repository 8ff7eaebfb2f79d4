//! Records as storage returns them.

use portcullis_domain::{TokenHash, 
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
    pub token_hash: TokenHash,
    pub user_id: UserId,
    pub times: SessionTimes,
    pub provider: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The IdP's session id (`sid` claim), for back-channel logout.
    pub idp_sid: Option<String>,
    /// The ID token, sealed by the server, for RP-initiated logout's
    /// `id_token_hint` (SAML: the NameID, sealed, for the LogoutRequest).
    pub id_token_sealed: Option<String>,
    /// SAML: a hash of the IdP, the NameID's format and the NameID, which
    /// the IdP's LogoutRequests name the session by.
    pub idp_name_id_hash: Option<String>,
}

/// The sessions a SAML LogoutRequest names, and the request's id.
#[derive(Clone, Debug)]
pub struct SamlLogout<'a> {
    pub provider: &'a str,
    /// Sessions whose `idp_name_id_hash` is this...
    pub name_id_hash: &'a str,
    /// ...and, when not empty, whose IdP session id is one of these.
    pub session_indexes: &'a [String],
    /// The request's id, spent in `used_once` (kind `saml_logout_request`)
    /// until `request_expires`.
    pub request_key_hash: &'a TokenHash,
    pub request_expires: Timestamp,
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
    /// Chosen by the caller, who needs it to seal the token for this row.
    pub id: AutomationId,
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
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
    pub reason: Option<String>,
    pub checked_at: Option<Timestamp>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Automation {
    pub id: AutomationId,
    pub org_id: OrgId,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub upstream_url: String,
    pub upstream_token_sealed: Option<String>,
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
    pub name: Option<String>,
    pub description: Option<String>,
    pub upstream_url: Option<String>,
    pub upstream_token_sealed: Option<String>,
    /// Forget the stored token (when `upstream_token_sealed` is `None`).
    pub clear_upstream_token: bool,
}

/// One run of an automation through the kickoff proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    pub id: uuid::Uuid,
    pub automation_id: AutomationId,
    pub org_id: OrgId,
    pub user_id: Option<UserId>,
    pub started_at: Timestamp,
    pub inputs_bytes: i64,
    pub kickoff_id: Option<String>,
    /// `pending` (sent), `running`, `completed`, `failed`, ... as the upstream reports.
    pub state: String,
    pub upstream_latency_ms: Option<i64>,
    pub error: Option<String>,
    pub updated_at: Timestamp,
}

/// Per-automation execution figures since a point in time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionStats {
    pub executions: i64,
    pub failures: i64,
    pub last: Option<Execution>,
}

/// An environment variable, its value sealed by the server.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub automation_id: Option<AutomationId>,
    pub name: String,
    pub sealed_value: String,
    pub value_bytes: i64,
    pub updated_by: Option<UserId>,
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

/// One recorded usage event (a sign-in, an API call, a kickoff, an upstream error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageEvent {
    pub at: Timestamp,
    pub org_id: Option<OrgId>,
    /// `signin`, `api_call`, `kickoff`, `upstream_error`.
    pub kind: String,
    pub provider: Option<String>,
    pub success: Option<bool>,
    pub automation_id: Option<AutomationId>,
    pub user_id: Option<UserId>,
    pub latency_ms: Option<i64>,
    /// Latency histogram bucket, computed by the server (see its usage module).
    pub latency_bucket: Option<i64>,
}

/// What a usage report reads: organization (`None`: installation-wide
/// events), the range `[from, to)` (aligned to the period), the period of the
/// roll-ups to read (`daily` or hourly), and the report's bucket size.
#[derive(Clone, Debug)]
pub struct UsageQuery {
    pub org_id: Option<OrgId>,
    pub from: Timestamp,
    pub to: Timestamp,
    pub daily: bool,
    pub bucket_ms: i64,
}

/// Counts per report bucket (index from `from`), kind, provider and outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageKindRow {
    pub bucket: i64,
    pub kind: String,
    pub provider: String,
    pub success: bool,
    pub count: i64,
}

/// Kickoffs per automation or user over the whole range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageSubjectRow {
    /// `automation` or `user`.
    pub subject_type: String,
    pub subject_id: String,
    pub count: i64,
}

/// Latency histogram counts per report bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageLatencyRow {
    pub bucket: i64,
    pub latency_bucket: i64,
    pub count: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageRows {
    pub kinds: Vec<UsageKindRow>,
    pub subjects: Vec<UsageSubjectRow>,
    pub latency: Vec<UsageLatencyRow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub subject: Subject,
    pub permissions: PermSet,
}

/// A change to the executions table, applied in order by the server's
/// background writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecutionOp {
    Insert(Execution),
    /// A state the upstream's status endpoint reported for a kickoff.
    State { automation_id: AutomationId, kickoff_id: String, state: String, at: Timestamp },
}

/// A user as an identity provider describes them at sign-in. The account is
/// keyed on `issuer` + `subject` (OpenID Connect Core §5.7: `sub` is unique
/// only within its issuer), never on the e-mail address.
#[derive(Clone, Debug)]
pub struct IdpUser {
    pub issuer: String,
    pub subject: String,
    pub email: String,
    pub display_name: String,
    /// From the IdP's `factory-admin` role, re-read at every sign-in.
    pub factory_admin: bool,
}

/// A key the `local` authorization server signs access tokens with.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    /// The JWS algorithm (`RS256`).
    pub alg: String,
    /// The private key, sealed with the installation key by the server.
    pub private_sealed: String,
    /// The public key as a JSON Web Key.
    pub public_jwk: String,
    pub created_at: Timestamp,
    /// `None` while it is the signing key.
    pub retired_at: Option<Timestamp>,
    /// Until when a retired key stays published.
    pub publish_until: Option<Timestamp>,
}

// The sealed private key stays out of logs even though it is encrypted.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).field("retired_at", &self.retired_at).finish_non_exhaustive()
    }
}

/// A device authorization request (RFC 8628 §3.1) being created.
#[derive(Clone, Debug)]
pub struct NewDeviceAuthorization {
    pub device_code_hash: TokenHash,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub interval_secs: i64,
    pub client_ip: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A device authorization as stored.
#[derive(Clone, Debug)]
pub struct DeviceAuthorization {
    pub device_code_hash: TokenHash,
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub status: portcullis_domain::DeviceStatus,
    pub interval_secs: i64,
    pub last_polled_at: Option<Timestamp>,
    pub client_ip: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl DeviceAuthorization {
    pub fn grant(&self) -> portcullis_domain::DeviceGrant {
        portcullis_domain::DeviceGrant {
            status: self.status,
            expires_at: self.expires_at,
            interval_secs: self.interval_secs,
            last_polled_at: self.last_polled_at,
        }
    }
}

/// A refresh token being issued: the first of a family (at login) or the
/// successor of a rotated one.
#[derive(Clone, Debug)]
pub struct NewRefreshToken {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    pub client_id: String,
    pub scope: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// No token of the family is valid after this, however often rotated.
    pub family_expires_at: Timestamp,
}

/// A refresh token as stored (the successor, after a rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: TokenHash,
    pub family_id: String,
    pub user_id: UserId,
    pub client_id: String,
    pub scope: String,
    pub expires_at: Timestamp,
    pub family_expires_at: Timestamp,
}

/// A password check about to run.
#[derive(Clone, Debug)]
pub struct SignInCheck {
    pub id: uuid::Uuid,
    /// The normalised e-mail address (or the fingerprint of what was typed).
    pub account: String,
    /// [`portcullis_domain::address_key`] of the client, when known.
    pub address_key: Option<String>,
    pub started_at: Timestamp,
}

/// What a check sees for its account and its address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignInPressure {
    pub account: portcullis_domain::Pressure,
    pub address: portcullis_domain::Pressure,
}

/// How a registered check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The password was wrong (or the account unknown): it counts.
    Failed,
    /// The password was right: the account's failures are forgotten.
    Succeeded,
    /// No password was checked after all (refused by the throttle, an error).
    Withdrawn,
}

/// A membership waiting for the person invited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    /// Lower-cased.
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    /// Whether it is accepted through a link (else at the first IdP sign-in).
    pub has_link: bool,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub email: String,
    pub role_id: portcullis_domain::RoleId,
    pub invited_by: UserId,
    pub token_hash: Option<TokenHash>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Who accepts an invitation.
#[derive(Clone, Debug)]
pub enum Invitee {
    /// An existing account (signed in as the invited address).
    Account(UserId),
    /// A new local account with this password.
    NewLocal { display_name: String, password_hash: String },
    /// An existing local account that has no password yet: it gets one.
    SetPassword { user: UserId, password_hash: String },
}

/// What a single-use key was spent on: each kind is its own namespace of
/// the `used_once` table, so the same hash spent for one purpose stays
/// fresh for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnceKind {
    /// An OpenID sign-in's `state` (its callback is accepted once).
    SsoState,
    /// A SAML AuthnRequest id (one response per request).
    SamlRequest,
    /// A SAML assertion id, per IdP (each assertion signs in once).
    SamlAssertion,
    /// The hand-over from the SAML ACS to `/auth/<p>/complete`.
    SamlCompletion,
    /// An IdP's SAML LogoutRequest id.
    SamlLogoutRequest,
    /// A back-channel logout token's `jti`, per issuer.
    LogoutJti,
}

impl OnceKind {
    /// The stored name (kept as the values written before the enum existed).
    pub fn as_str(self) -> &'static str {
        match self {
            OnceKind::SsoState => "sso_state",
            OnceKind::SamlRequest => "saml_request",
            OnceKind::SamlAssertion => "saml_assertion",
            OnceKind::SamlCompletion => "saml_completion",
            OnceKind::SamlLogoutRequest => "saml_logout_request",
            OnceKind::LogoutJti => "logout_jti",
        }
    }
}
