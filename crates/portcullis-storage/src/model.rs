//! Records as storage returns them.

use portcullis_domain::{TokenHash, 
    AutomationId, OrgId, PermSet, Role, SessionId, SessionTimes, Subject, Timestamp, UserId, Visibility,
};

/// An organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    /// Its id.
    pub id: OrgId,
    /// Its name (unique, case-insensitively).
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// An account.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its e-mail address (lower-cased).
    pub email: String,
    /// The name shown for it.
    pub display_name: String,
    /// PHC-format argon2id hash; `None` for users who sign in through an IdP
    /// or have not set a password yet.
    pub password_hash: Option<String>,
    /// Whether it holds the installation-wide `factory-admin` role.
    pub factory_admin: bool,
    /// When it was disabled, if it is.
    pub disabled_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
}

impl User {
    /// Whether the account is disabled.
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

/// An account being created.
#[derive(Clone)]
pub struct NewUser {
    /// Its e-mail address.
    pub email: String,
    /// The name shown for it.
    pub display_name: String,
    /// Its password hash, for a local account.
    pub password_hash: Option<String>,
    /// Whether it holds `factory-admin`.
    pub factory_admin: bool,
}

/// A user's place in one organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The organization.
    pub org: Organization,
    /// The user's role there.
    pub role: Role,
}

/// A member as the organization's admin sees them.
#[derive(Clone, Debug)]
pub struct Member {
    /// The account.
    pub user: User,
    /// Its role in the organization.
    pub role: Role,
    /// When it joined.
    pub joined_at: Timestamp,
}

/// A session being created.
#[derive(Clone)]
pub struct NewSession {
    /// Its id.
    pub id: SessionId,
    /// SHA-256 of the cookie value, hex; the value itself is never stored.
    pub token_hash: TokenHash,
    /// Whose session it is.
    pub user_id: UserId,
    /// When it started, was last used, and ends.
    pub times: SessionTimes,
    /// The provider signed in with.
    pub provider: String,
    /// The client address it started from.
    pub ip: Option<String>,
    /// The browser that started it.
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
    /// The SAML provider the request came to.
    pub provider: &'a str,
    /// Sessions whose `idp_name_id_hash` is this...
    pub name_id_hash: &'a str,
    /// ...and, when not empty, whose IdP session id is one of these.
    pub session_indexes: &'a [String],
    /// The request's id, spent in `used_once` (kind `saml_logout_request`)
    /// until `request_expires`.
    pub request_key_hash: &'a TokenHash,
    /// When the spent request id may be forgotten.
    pub request_expires: Timestamp,
}

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Its id.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// When it started, was last used, ends, or was revoked.
    pub times: SessionTimes,
    /// The provider signed in with.
    pub provider: String,
    /// The client address it started from.
    pub ip: Option<String>,
    /// The browser that started it.
    pub user_agent: Option<String>,
}

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

/// A user as an identity provider describes them at sign-in. The account is
/// keyed on `issuer` + `subject` (OpenID Connect Core §5.7: `sub` is unique
/// only within its issuer), never on the e-mail address.
#[derive(Clone, Debug)]
pub struct IdpUser {
    /// The IdP (OpenID issuer or SAML entity id).
    pub issuer: String,
    /// Its name for the person (`sub`, or the SAML subject).
    pub subject: String,
    /// Their e-mail address.
    pub email: String,
    /// Their name.
    pub display_name: String,
    /// From the IdP's `factory-admin` role, re-read at every sign-in.
    pub factory_admin: bool,
}

/// A key the `local` authorization server signs access tokens with.
#[derive(Clone)]
pub struct SigningKey {
    /// The key id (`kid`), an RFC 7638 thumbprint.
    pub kid: String,
    /// The JWS algorithm (`RS256`).
    pub alg: String,
    /// The private key, sealed with the installation key by the server.
    pub private_sealed: String,
    /// The public key as a JSON Web Key.
    pub public_jwk: String,
    /// When it was made.
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
    /// The device code's hash (the code itself is never stored).
    pub device_code_hash: TokenHash,
    /// The code the person types (normalised).
    pub user_code: String,
    /// The client that asked.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// The polling interval, in seconds.
    pub interval_secs: i64,
    /// The address that asked.
    pub client_ip: Option<String>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When the codes stop working.
    pub expires_at: Timestamp,
}

/// A device authorization as stored.
#[derive(Clone, Debug)]
pub struct DeviceAuthorization {
    /// The device code's hash.
    pub device_code_hash: TokenHash,
    /// The code the person types.
    pub user_code: String,
    /// The client that asked.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// Pending, approved, denied or redeemed.
    pub status: portcullis_domain::DeviceStatus,
    /// The polling interval, in seconds (raised by `slow_down`).
    pub interval_secs: i64,
    /// When the client last polled.
    pub last_polled_at: Option<Timestamp>,
    /// The address that asked.
    pub client_ip: Option<String>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When the codes stop working.
    pub expires_at: Timestamp,
}

impl DeviceAuthorization {
    /// What the poll decision needs of it.
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
    /// The token's hash.
    pub token_hash: TokenHash,
    /// Whose it is.
    pub user_id: UserId,
    /// The client it was issued to.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working if not used.
    pub expires_at: Timestamp,
    /// No token of the family is valid after this, however often rotated.
    pub family_expires_at: Timestamp,
}

/// A refresh token as stored (the successor, after a rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    /// The token's hash.
    pub token_hash: TokenHash,
    /// The login it belongs to: every rotation stays in the family, and reuse ends it.
    pub family_id: String,
    /// Whose it is.
    pub user_id: UserId,
    /// The client it was issued to.
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// When it stops working if not used.
    pub expires_at: Timestamp,
    /// No token of the family works after this.
    pub family_expires_at: Timestamp,
}

/// A password check about to run.
#[derive(Clone, Debug)]
pub struct SignInCheck {
    /// Its id.
    pub id: uuid::Uuid,
    /// The normalised e-mail address (or the fingerprint of what was typed).
    pub account: String,
    /// [`portcullis_domain::address_key`] of the client, when known.
    pub address_key: Option<String>,
    /// When the check started.
    pub started_at: Timestamp,
}

/// What a check sees for its account and its address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignInPressure {
    /// Of the account.
    pub account: portcullis_domain::Pressure,
    /// Of the client address.
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
    /// Its id.
    pub id: uuid::Uuid,
    /// The organization it is to.
    pub org_id: OrgId,
    /// Lower-cased.
    pub email: String,
    /// The role it grants.
    pub role: Role,
    /// Who sent it.
    pub invited_by: UserId,
    /// Whether it is accepted through a link (else at the first IdP sign-in).
    pub has_link: bool,
    /// When it was sent.
    pub created_at: Timestamp,
    /// When it can no longer be accepted.
    pub expires_at: Timestamp,
}

/// An invitation being created.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    /// Its id.
    pub id: uuid::Uuid,
    /// The organization it is to.
    pub org_id: OrgId,
    /// The address invited.
    pub email: String,
    /// The role it grants.
    pub role_id: portcullis_domain::RoleId,
    /// Who sent it.
    pub invited_by: UserId,
    /// The hash of its link's token; `None` for acceptance at the first IdP sign-in.
    pub token_hash: Option<TokenHash>,
    /// When it was sent.
    pub created_at: Timestamp,
    /// When it can no longer be accepted.
    pub expires_at: Timestamp,
}

/// Who accepts an invitation.
#[derive(Clone, Debug)]
pub enum Invitee {
    /// An existing account (signed in as the invited address).
    Account(UserId),
    /// A new local account with this password.
    NewLocal {
        /// The name shown.
        display_name: String,
        /// The password chosen, hashed.
        password_hash: String,
    },
    /// An existing local account that has no password yet: it gets one.
    SetPassword {
        /// The account.
        user: UserId,
        /// The password chosen, hashed.
        password_hash: String,
    },
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

/// What a member has been doing, for the Members page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberActivity {
    /// When the account last started a browser session.
    pub last_sign_in_at: Option<Timestamp>,
    /// The provider it signed in with then.
    pub last_sign_in_provider: Option<String>,
    /// Its browser sessions that are still live.
    pub browser_sessions: i64,
    /// Its CLI logins (refresh-token families) that are still live.
    pub cli_logins: i64,
}

/// A CLI login: one refresh-token family, from the device login through
/// every rotation since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshFamily {
    /// The family, as access tokens name it.
    pub family_id: String,
    /// The client that logged in (the CLI's device client).
    pub client_id: String,
    /// The scope granted.
    pub scope: String,
    /// When the device login happened.
    pub started_at: Timestamp,
    /// When its newest refresh token was issued (its last renewal).
    pub last_used_at: Timestamp,
    /// No token of the family works after this, however often renewed.
    pub expires_at: Timestamp,
}
