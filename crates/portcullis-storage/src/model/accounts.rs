//! Organizations, accounts, memberships, sessions, invitations and the
//! records of sign-in (checks, single-use values, activity).

use portcullis_domain::{OrgId, Role, SessionId, SessionTimes, Timestamp, TokenHash, UserId};

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
