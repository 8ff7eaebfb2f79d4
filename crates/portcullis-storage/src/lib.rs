//! Portcullis storage.
//!
//! The server sees storage only through the [`Store`] trait (split into one
//! trait per concern). [`SqlStore`] implements it once with sqlx for both
//! SQLite (the embedded default) and PostgreSQL (for several replicas); the
//! conformance suite in `tests/it/conformance.rs` runs against both.
//!
//! Invariants live in the schema: names are unique through `UNIQUE`
//! constraints (never read-then-insert), a member's role must belong to the
//! same organization (composite foreign key), and the audit log refuses
//! updates and deletes (triggers).

mod error;
mod model;
mod sql;

pub use error::StoreError;
pub use model::*;
pub use sql::{Backend, Notice, SqlStore};

use async_trait::async_trait;
use portcullis_domain::{TokenHash, 
    AutomationAcl, AutomationId, FeaturePermissions, OrgId, PermSet, RoleId, SessionId,
    Subject, Timestamp, UserId, Visibility,
};

/// What every store method returns.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Organizations, their roles and their members.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Creates an organization with its predefined Owner and Member roles.
    async fn create_org(&self, name: &str, now: Timestamp) -> Result<Organization>;
    /// The organization `id`.
    async fn get_org(&self, id: OrgId) -> Result<Option<Organization>>;
    /// Every organization, oldest first.
    async fn list_orgs(&self) -> Result<Vec<Organization>>;
    /// How many organizations there are.
    async fn count_orgs(&self) -> Result<i64>;

    /// The roles of `org`: owner, member, then custom roles by name.
    async fn list_roles(&self, org: OrgId) -> Result<Vec<portcullis_domain::Role>>;
    /// The role `id` of `org`.
    async fn get_role(&self, org: OrgId, id: RoleId) -> Result<Option<portcullis_domain::Role>>;
    /// The owner or member role of `org` (every organization has both).
    async fn get_predefined_role(&self, org: OrgId, kind: portcullis_domain::RoleKind) -> Result<portcullis_domain::Role>;
    /// A custom role; its key is the slug of its first name, fixed for good.
    async fn create_role(&self, org: OrgId, name: &str, perms: FeaturePermissions, now: Timestamp) -> Result<portcullis_domain::Role>;
    /// Renames and/or sets permissions. Owner permissions cannot be changed
    /// ([`StoreError::Predefined`]).
    async fn update_role(&self, org: OrgId, id: RoleId, name: Option<&str>, perms: Option<FeaturePermissions>, now: Timestamp) -> Result<portcullis_domain::Role>;
    /// Deletes a custom role; refused for predefined roles and for roles
    /// that members still hold ([`StoreError::InUse`]).
    async fn delete_role(&self, org: OrgId, id: RoleId) -> Result<()>;

    /// Makes `user` a member of `org` with `role`.
    async fn create_member(&self, org: OrgId, user: UserId, role: RoleId, now: Timestamp) -> Result<()>;
    /// Changes a member's role; refused if it would leave the organization
    /// without an owner ([`StoreError::LastOwner`]).
    async fn update_member_role(&self, org: OrgId, user: UserId, role: RoleId, now: Timestamp) -> Result<()>;
    /// Ends `user`'s membership of `org` (never the last owner's).
    async fn delete_member(&self, org: OrgId, user: UserId, now: Timestamp) -> Result<()>;
    /// The members of `org`, by e-mail address.
    async fn list_members(&self, org: OrgId) -> Result<Vec<Member>>;
    /// The membership of `user` in `org`.
    async fn get_member(&self, org: OrgId, user: UserId) -> Result<Option<Member>>;
    /// Every organization the user belongs to, with the role held there.
    async fn list_memberships(&self, user: UserId) -> Result<Vec<Membership>>;
}

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// A new account.
    async fn create_user(&self, new: NewUser, now: Timestamp) -> Result<User>;
    /// The account `id`.
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;
    /// The local account (with the `local` provider's password) of this address.
    async fn find_local_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// How many accounts there are.
    async fn count_users(&self) -> Result<i64>;
    /// Sets a local account's password hash (argon2id, PHC string).
    async fn update_password_hash(&self, id: UserId, hash: &str) -> Result<()>;
    /// Disables or enables an account (disabling keeps its data).
    async fn update_user_disabled(&self, id: UserId, disabled: bool, now: Timestamp) -> Result<()>;
    /// Deletes the user, their sessions, memberships and grants; refused
    /// when they are the last owner of an organization.
    async fn delete_user(&self, id: UserId) -> Result<()>;
}

/// Sessions, setup links, and what ends them.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// A new session; also records it as the account's last sign-in.
    async fn create_session(&self, new: NewSession) -> Result<()>;
    /// What each member of `org` has been doing: last sign-in, live
    /// browser sessions and CLI logins at `now`.
    async fn list_member_activity(&self, org: OrgId, now: Timestamp) -> Result<std::collections::HashMap<UserId, MemberActivity>>;
    /// The session whose cookie hashes to `token_hash`.
    async fn find_session_by_token_hash(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>>;
    /// Records that the session was used at `now`.
    async fn update_session_last_seen(&self, id: SessionId, now: Timestamp) -> Result<()>;
    /// Sessions that are not revoked and not past their absolute lifetime.
    async fn list_sessions(&self, user: UserId, now: Timestamp) -> Result<Vec<SessionRecord>>;
    /// Revokes one of the user's sessions; false if there is no such
    /// active session.
    async fn revoke_session(&self, user: UserId, id: SessionId, now: Timestamp) -> Result<bool>;
    /// Ends every session of `user`; returns how many.
    async fn revoke_user_sessions(&self, user: UserId, now: Timestamp) -> Result<u64>;
    /// Deletes sessions that ended before `before` (housekeeping).
    async fn purge_sessions(&self, before: Timestamp) -> Result<u64>;

    /// Stores a setup token, replacing any unused one.
    async fn create_setup_token(&self, token_hash: &TokenHash, org: OrgId, now: Timestamp, expires_at: Timestamp) -> Result<()>;
    /// Checks a setup token without using it.
    async fn find_setup_token(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<OrgId>>;
    /// Uses a setup token exactly once (atomic across replicas).
    async fn consume_setup_token(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<OrgId>>;

}

/// Invitations: memberships that wait for the person invited to accept.
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// A new pending invitation; [`StoreError::Conflict`] while one for the
    /// same organization and address is pending.
    async fn create_invitation(&self, new: &NewInvitation) -> Result<Invitation>;
    /// The pending, unexpired invitation behind a link.
    async fn find_invitation_by_token(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<Invitation>>;
    /// Pending, unexpired invitations for an address (any organization).
    async fn list_invitations_for_email(&self, email: &str, now: Timestamp) -> Result<Vec<Invitation>>;
    /// Pending, unexpired invitations of an organization, newest first.
    async fn list_invitations(&self, org: OrgId, now: Timestamp) -> Result<Vec<Invitation>>;
    /// Withdraws an invitation of `org`; `false` when there is none.
    async fn delete_invitation(&self, org: OrgId, id: uuid::Uuid) -> Result<bool>;
    /// Accepts a pending invitation exactly once, in one transaction with
    /// what acceptance does: the membership (an existing one is kept as it
    /// is), and the account when `who` asks for one. `None` when it was
    /// accepted, withdrawn or expired meanwhile.
    async fn consume_invitation(&self, id: uuid::Uuid, who: &Invitee, now: Timestamp) -> Result<Option<UserId>>;
}

/// What sign-in through an external identity provider needs.
#[async_trait]
pub trait IdpStore: Send + Sync {
    /// Creates the user on first sign-in or refreshes e-mail, name and the
    /// factory-admin flag; one statement (`ON CONFLICT (idp_issuer,
    /// idp_subject)`), so concurrent first sign-ins create one account.
    /// Returns the user and whether it was created.
    async fn upsert_idp_user(&self, user: &IdpUser, now: Timestamp) -> Result<(User, bool)>;
    /// The account an IdP knows as `subject` of `issuer`.
    async fn find_user_by_idp(&self, issuer: &str, subject: &str) -> Result<Option<User>>;
    /// The sealed ID token kept with a session (for `id_token_hint`).
    async fn get_session_id_token(&self, id: SessionId) -> Result<Option<String>>;
    /// Ends the sessions an OpenID back-channel logout token names: those of
    /// `provider` with IdP session id `sid` and/or of the user `issuer` +
    /// `subject`. Returns the users whose sessions ended.
    async fn revoke_idp_sessions(
        &self,
        provider: &str,
        issuer: &str,
        sid: Option<&str>,
        subject: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<UserId>>;
    /// A SAML LogoutRequest (Core §3.7.3.2), in one transaction: spends its
    /// id and ends the sessions it names (see [`SamlLogout`]). `None` when
    /// the id was spent before (a replay), and nothing ends; if ending
    /// fails, the id stays unspent.
    async fn revoke_saml_sessions_once(&self, request: &SamlLogout<'_>, now: Timestamp) -> Result<Option<Vec<UserId>>>;
    /// Records a one-time value; `false` if it was already used (the primary
    /// key decides, so two replicas cannot both accept it).
    async fn consume_once(&self, kind: OnceKind, key_hash: &TokenHash, expires_at: Timestamp) -> Result<bool>;
    /// Forgets single-use values past their expiry; returns how many.
    async fn purge_used_once(&self, now: Timestamp) -> Result<u64>;
}

/// The `local` provider's authorization server: signing keys, device
/// authorizations (RFC 8628) and refresh tokens.
#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// The active signing key and the retired ones still published at `now`.
    async fn list_signing_keys(&self, now: Timestamp) -> Result<Vec<SigningKey>>;
    /// Every signing key (for resealing after an installation-key rotation).
    async fn list_all_signing_keys(&self) -> Result<Vec<SigningKey>>;
    /// Adds `key` as the active key unless there is one already (another
    /// replica may have won the race); returns whether it was added.
    async fn create_first_signing_key(&self, key: &SigningKey) -> Result<bool>;
    /// Retires the active key (published until `publish_old_until`) and makes
    /// `key` the active one, in one transaction.
    async fn rotate_signing_key(&self, key: &SigningKey, publish_old_until: Timestamp, now: Timestamp) -> Result<()>;
    /// Replaces a sealed private key if it is still `old` (compare-and-swap).
    async fn reseal_signing_key(&self, kid: &str, old: &str, new: &str) -> Result<bool>;

    /// Stores a new device authorization; [`StoreError::Conflict`] when its
    /// user code is taken (draw another).
    async fn create_device_authorization(&self, new: &NewDeviceAuthorization) -> Result<()>;
    /// The device authorization whose device code hashes to `device_code_hash`.
    async fn find_device_by_code(&self, device_code_hash: &TokenHash) -> Result<Option<DeviceAuthorization>>;
    /// The device authorization of a user code (as normalised).
    async fn find_device_by_user_code(&self, user_code: &str) -> Result<Option<DeviceAuthorization>>;
    /// Records a poll at `now`, and a new interval after a `slow_down`.
    async fn update_device_poll(&self, device_code_hash: &TokenHash, now: Timestamp, new_interval_secs: Option<i64>) -> Result<()>;
    /// Approves (for `user`) or denies a pending, unexpired authorization;
    /// `None` when there is none with that user code any more.
    async fn update_device_decision(&self, user_code: &str, user: UserId, approve: bool, now: Timestamp) -> Result<Option<DeviceAuthorization>>;
    /// Marks an approved authorization redeemed; `false` when it was not
    /// approved or already redeemed (tokens are issued once).
    async fn consume_device(&self, device_code_hash: &TokenHash) -> Result<bool>;

    /// Stores the first refresh token of a new family (at login).
    async fn create_refresh_token(&self, new: &NewRefreshToken) -> Result<RefreshToken>;
    /// Uses the token with hash `presented` and issues `successor` in its
    /// family, in one transaction. A token used before revokes its family
    /// ([`RefreshOutcome::Reused`]). The successor never outlives the family.
    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        successor: &NewRefreshToken,
        now: Timestamp,
    ) -> Result<portcullis_domain::RefreshOutcome<RefreshToken>>;
    /// Revokes the family of the token with this hash (RFC 7009); returns
    /// the family, or `None` when no such token exists.
    async fn revoke_refresh_family(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<String>>;
    /// Whether the login (refresh-token family) an access token came from
    /// is still alive: not revoked, not past its end.
    async fn get_refresh_family_active(&self, family_id: &str, now: Timestamp) -> Result<bool>;
    /// Revokes every refresh token of a user (account disabled, sessions revoked).
    async fn revoke_user_refresh_tokens(&self, user: UserId, now: Timestamp) -> Result<u64>;
    /// The CLI logins of `user` that still work at `now` (one per refresh
    /// token family), the most recently used first.
    async fn list_refresh_families(&self, user: UserId, now: Timestamp) -> Result<Vec<RefreshFamily>>;
    /// Revokes the family `family_id`, if it is `user`'s; `false` when it is
    /// not (or was revoked already).
    async fn revoke_user_refresh_family(&self, user: UserId, family_id: &str, now: Timestamp) -> Result<bool>;
    /// Deletes expired device authorizations and refresh-token families, and
    /// retired keys no longer published.
    async fn purge_oauth(&self, now: Timestamp) -> Result<u64>;
}

/// The append-only audit log (triggers refuse updates and deletes).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;
    /// Entries matching `filter`, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>>;
}

/// Limits shared by every replica.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Registers a password check about to run, then counts, for its
    /// account and its address: failed checks since `since` (for the
    /// account, only those after its last success) and checks running now
    /// (started after `running_since`), this one included.
    async fn create_sign_in_check(&self, check: &SignInCheck, since: Timestamp, running_since: Timestamp) -> Result<SignInPressure>;
    /// Ends a registered check.
    async fn update_sign_in_check(&self, id: uuid::Uuid, account: &str, outcome: CheckOutcome, now: Timestamp) -> Result<()>;
    /// Counts one hit of `key` in its fixed window of `window_ms` and
    /// returns the count, this hit included, and the window's start.
    async fn upsert_limit(&self, key: &str, window_ms: i64, now: Timestamp) -> Result<(i64, Timestamp)>;
    /// Takes a hit back (it turned out not to count), if its window is still the current one.
    async fn update_limit_refund(&self, key: &str, window_start: Timestamp) -> Result<()>;
    /// Forgets checks and counters older than `before`.
    async fn purge_limits(&self, before: Timestamp) -> Result<u64>;
}

/// Automations, their access lists and their executions.
#[async_trait]
pub trait AutomationStore: Send + Sync {
    /// A new automation.
    async fn create_automation(&self, new: NewAutomation, now: Timestamp) -> Result<Automation>;
    /// The automation `id` of `org`.
    async fn get_automation(&self, org: OrgId, id: AutomationId) -> Result<Option<Automation>>;
    /// The automations of `org`, by name.
    async fn list_automations(&self, org: OrgId) -> Result<Vec<Automation>>;
    /// Deletes an automation and its grants; `false` when there is none.
    async fn delete_automation(&self, org: OrgId, id: AutomationId) -> Result<bool>;
    /// Sets what a subject holds on the automation (an empty set removes the grant).
    async fn upsert_grant(&self, org: OrgId, id: AutomationId, subject: Subject, perms: PermSet) -> Result<()>;
    /// The grants of an automation.
    async fn list_grants(&self, id: AutomationId) -> Result<Vec<Grant>>;
    /// Replaces visibility and every grant in one transaction.
    async fn update_access(&self, org: OrgId, id: AutomationId, v: Visibility, grants: &[Grant], now: Timestamp) -> Result<()>;
    /// The automation's access list, ready for the RBAC decision.
    async fn get_acl(&self, automation: &Automation) -> Result<AutomationAcl>;
    /// Every automation of the organization with its access list (two queries, whatever the count).
    async fn list_automations_with_acls(&self, org: OrgId) -> Result<Vec<(Automation, AutomationAcl)>>;
    /// Changes what `update` names.
    async fn update_automation(&self, org: OrgId, id: AutomationId, update: AutomationUpdate, now: Timestamp) -> Result<Automation>;
    /// Every automation of the installation (for the health checker).
    async fn list_all_automations(&self) -> Result<Vec<Automation>>;
    /// Records a health check's result.
    async fn update_health(&self, id: AutomationId, state: &str, reason: Option<&str>, now: Timestamp) -> Result<()>;
    /// Every sealed upstream token, for key rotation.
    async fn reseal_automation_token(&self, id: AutomationId, old_sealed: &str, new_sealed: &str) -> Result<bool>;

    /// Applies usage events and execution changes, in order, in one transaction.
    async fn append_usage_batch(&self, usage: &[UsageEvent], executions: &[ExecutionOp]) -> Result<()>;
    /// An automation's latest `limit` executions, newest first.
    async fn list_executions(&self, automation: AutomationId, limit: i64) -> Result<Vec<Execution>>;
    /// Executions and failures since `since`, and the last execution, per automation of the organization.
    async fn list_execution_stats(&self, org: OrgId, since: Timestamp) -> Result<std::collections::HashMap<AutomationId, ExecutionStats>>;
}

/// Environment variables, their values sealed by the server.
#[async_trait]
pub trait EnvStore: Send + Sync {
    /// Creates or replaces a variable (unique per organization, scope and name).
    async fn upsert_env(&self, var: &EnvVar) -> Result<EnvVar>;
    /// The variables of `org` (organization-wide and per automation).
    async fn list_env(&self, org: OrgId) -> Result<Vec<EnvVar>>;
    /// The variable `id` of `org`.
    async fn get_env(&self, org: OrgId, id: uuid::Uuid) -> Result<Option<EnvVar>>;
    /// Deletes a variable; `false` when there is none.
    async fn delete_env(&self, org: OrgId, id: uuid::Uuid) -> Result<bool>;
    /// Every variable of the installation (for key rotation).
    async fn list_all_env(&self) -> Result<Vec<EnvVar>>;
    /// Replaces a sealed value if it is still `old` (compare-and-swap, so a
    /// concurrent write is never overwritten by a rotation).
    async fn reseal_env(&self, id: uuid::Uuid, old: &str, new: &str) -> Result<bool>;
    /// The sealed check value that tells whether the server key is the one the data was sealed with.
    async fn get_key_check(&self) -> Result<Option<String>>;
    /// Stores the key check value unless one exists; returns the stored one.
    async fn get_or_create_key_check(&self, sealed: &str) -> Result<String>;
    /// Replaces the check value (after a key rotation).
    async fn update_key_check(&self, sealed: &str) -> Result<()>;
}

/// Usage events and their roll-ups.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Appends events and updates the hourly and daily roll-ups in one transaction.
    async fn append_usage(&self, events: &[UsageEvent]) -> Result<()>;
    /// The roll-ups of a range, aggregated into report buckets by the database.
    async fn list_usage_rows(&self, q: &UsageQuery) -> Result<UsageRows>;
}

/// SCIM provisioning (RFC 7644): an organization's tokens, and the users
/// and groups its identity provider provisions.
#[async_trait]
pub trait ScimStore: Send + Sync {
    /// Stores a new token (its hash only).
    async fn create_scim_token(&self, new: &NewScimToken) -> Result<ScimToken>;
    /// The tokens of `org`, newest first, revoked ones included.
    async fn list_scim_tokens(&self, org: OrgId) -> Result<Vec<ScimToken>>;
    /// Revokes a token of `org`; `false` when there is no such live token.
    async fn revoke_scim_token(&self, org: OrgId, id: uuid::Uuid, now: Timestamp) -> Result<bool>;
    /// The live token whose hash this is, recording its use (`last_used_at`,
    /// brought up to date at most once a minute).
    async fn use_scim_token(&self, token_hash: &TokenHash, now: Timestamp) -> Result<Option<ScimToken>>;

    /// A provisioned user with a new account, and (if active) a Member
    /// membership, in one transaction. [`StoreError::Conflict`] when
    /// `userName` or `externalId` is taken in the organization.
    async fn create_scim_user(&self, org: OrgId, id: uuid::Uuid, fields: &ScimUserFields, now: Timestamp) -> Result<ScimUser>;
    /// The provisioned user `id` of `org`.
    async fn get_scim_user(&self, org: OrgId, id: uuid::Uuid) -> Result<Option<ScimUser>>;
    /// Provisioned users by an indexed attribute.
    async fn find_scim_users(&self, org: OrgId, key: ScimKey, value: &str) -> Result<Vec<ScimUser>>;
    /// A page of provisioned users, oldest first, and how many there are.
    async fn list_scim_users(&self, org: OrgId, offset: i64, limit: Option<i64>) -> Result<(Vec<ScimUser>, i64)>;
    /// Replaces what a provisioned user says, if it is still at
    /// `if_version` ([`StoreError::Stale`] otherwise). Deactivation ends the
    /// membership, sessions and CLI logins in the same transaction
    /// ([`StoreError::LastOwner`] for the last owner); reactivation
    /// restores the membership with the role held before.
    async fn update_scim_user(&self, org: OrgId, id: uuid::Uuid, fields: &ScimUserFields, if_version: Option<i64>, now: Timestamp) -> Result<(ScimUser, AccessChange)>;
    /// Deletes a provisioned user: their access ends as at deactivation,
    /// the account stays (disabled when no membership is left); the
    /// account's id, or `None` when there was no such user.
    async fn delete_scim_user(&self, org: OrgId, id: uuid::Uuid, now: Timestamp) -> Result<Option<UserId>>;
    /// Ends the membership of `org` of the provisioned user `id` as
    /// deactivation does (browser sessions and CLI logins with it), while
    /// their SCIM account stays active: for the group rules, when they left
    /// the last group that gave them a role. Their account, or `None` when
    /// they held no membership ([`StoreError::LastOwner`] for the last owner).
    async fn end_scim_membership(&self, org: OrgId, id: uuid::Uuid, now: Timestamp) -> Result<Option<UserId>>;
    /// Which of the provisioned users `ids` are active and hold no
    /// membership of `org` (SCIM id, account), in one query.
    async fn list_scim_users_without_membership(&self, org: OrgId, ids: &[uuid::Uuid]) -> Result<Vec<(uuid::Uuid, UserId)>>;
    /// The groups each of the provisioned users `ids` is in, as the group
    /// rules know groups (name, id and external id), in one query.
    async fn list_scim_member_groups(&self, org: OrgId, ids: &[uuid::Uuid]) -> Result<std::collections::HashMap<uuid::Uuid, Vec<portcullis_domain::group_rules::KnownGroup>>>;
    /// The groups of each of `users`.
    async fn list_scim_user_groups(&self, org: OrgId, users: &[uuid::Uuid]) -> Result<std::collections::HashMap<uuid::Uuid, Vec<ScimMember>>>;
    /// At a first IdP sign-in: links the provisioned account whose
    /// `externalId` is `subject` (or whose `userName` is the verified
    /// address) to `issuer` + `subject`; the account, or `None`.
    async fn link_scim_user(&self, issuer: &str, subject: &str, verified_email: Option<&str>) -> Result<Option<UserId>>;
    /// The organizations whose directory has deactivated `user`.
    async fn list_scim_deactivated_orgs(&self, user: UserId) -> Result<Vec<OrgId>>;

    /// A provisioned group with its members. [`StoreError::Conflict`] for a
    /// taken `displayName` or `externalId`, [`StoreError::NotFound`] for a
    /// member who is not a provisioned user of the organization.
    async fn create_scim_group(&self, org: OrgId, id: uuid::Uuid, fields: &ScimGroupFields, members: &[uuid::Uuid], now: Timestamp) -> Result<ScimGroup>;
    /// The group `id` of `org`, with its members.
    async fn get_scim_group(&self, org: OrgId, id: uuid::Uuid) -> Result<Option<ScimGroup>>;
    /// Groups by an indexed attribute.
    async fn find_scim_groups(&self, org: OrgId, key: ScimKey, value: &str) -> Result<Vec<ScimGroup>>;
    /// A page of groups, oldest first, and how many there are.
    async fn list_scim_groups(&self, org: OrgId, offset: i64, limit: Option<i64>) -> Result<(Vec<ScimGroup>, i64)>;
    /// Replaces what a group says and adds and removes members, if it is
    /// still at `if_version`.
    #[allow(clippy::too_many_arguments)]
    async fn update_scim_group(&self, org: OrgId, id: uuid::Uuid, fields: &ScimGroupFields, add: &[uuid::Uuid], remove: &[uuid::Uuid], if_version: Option<i64>, now: Timestamp) -> Result<ScimGroup>;
    /// Deletes a group; `false` when there is none.
    async fn delete_scim_group(&self, org: OrgId, id: uuid::Uuid) -> Result<bool>;
}

/// Group-to-role rules ([`portcullis_domain::group_rules`]), one set per organization.
#[async_trait]
pub trait GroupRuleStore: Send + Sync {
    /// The rule set of `org`, if it has one.
    async fn get_group_rules(&self, org: OrgId) -> Result<Option<StoredRuleSet>>;
    /// Every enabled rule set (what a sign-in applies).
    async fn list_enabled_group_rules(&self) -> Result<Vec<StoredRuleSet>>;
    /// Replaces the rule set of `org` in one transaction, if it is still at
    /// `if_version` (`None`: if it has none yet); [`StoreError::Stale`]
    /// otherwise. The result is no longer `seeded_from_env`.
    async fn put_group_rules(&self, org: OrgId, set: &portcullis_domain::group_rules::RuleSet, enabled: bool, if_version: Option<i64>, now: Timestamp) -> Result<StoredRuleSet>;
    /// Writes `set` as seeded from the environment, enabled, unless `org`
    /// has a rule set already (whether enabled or not); whether it did.
    async fn seed_group_rules(&self, org: OrgId, set: &portcullis_domain::group_rules::RuleSet, now: Timestamp) -> Result<bool>;
    /// The SCIM groups of `org`, each by its name, id and external id, and
    /// whether `user` is one of its members (what rules match groups with).
    async fn known_groups(&self, org: OrgId, user: UserId) -> Result<Vec<portcullis_domain::group_rules::KnownGroup>>;
}

/// Everything the server needs from storage.
#[async_trait]
pub trait Store: OrgStore + UserStore + SessionStore + InvitationStore + IdpStore + OAuthStore + AuditStore + LimitStore + AutomationStore + EnvStore + UsageStore + ScimStore + GroupRuleStore {
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;
    /// Which database this is.
    fn backend(&self) -> Backend;
    /// The connection pool's state now (for the metrics).
    fn pool_stats(&self) -> PoolStats;
    /// Tells every replica on this database to drop `message`'s subject
    /// from its caches (PostgreSQL `NOTIFY`; nothing on SQLite, which has
    /// one replica).
    async fn publish_invalidation(&self, message: &str) -> Result<()>;
    /// What any replica published, from now on, with a [`Notice::Gap`]
    /// after a lost connection; `None` on SQLite.
    async fn subscribe_invalidations(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Notice>>>;
}

/// A connection pool's state at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open, idle or in use.
    pub size: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

#[cfg(feature = "testing")]
pub mod testing;
