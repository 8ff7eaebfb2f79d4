//! One trait for every external identity provider, whatever its protocol:
//! start a sign-in, finish it into an [`Identity`], start a sign-out. The
//! OpenID Connect implementation is `super::oidc::sign_in`, the SAML one
//! `super::saml::sign_in`; the routes in `crate::signin::federated` and
//! `crate::signout` use only this trait, and what they do with a finished
//! sign-in (provisioning, the session, audit, usage) is the same for both.
//!
//! Nothing here holds server state. What a protocol needs while it works is
//! handed in as an [`Exchange`]; what the browser must keep between the trip
//! to the IdP and its return is handed out as a [`Pending`] transaction,
//! which the session layer seals into a cookie (`crate::session::transaction`).

use super::error::SignInError;
use super::identity::Identity;
use super::session_link::NameAtIdp;
use crate::crypto::Sealer;
use async_trait::async_trait;
use portcullis_domain::{Clock, SessionId, UserId};
use portcullis_storage::Store;
use std::time::Duration;

/// What a protocol needs from the server while it works, and no more.
#[derive(Clone)]
pub struct Exchange<'a> {
    /// Where single-use values (`state`, request and assertion ids) are spent.
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    /// For calls to the IdP: no redirects, bounded time.
    pub http: &'a reqwest::Client,
    /// Opens what a session sealed to be named at its IdP.
    pub sealer: &'a Sealer,
    /// `scheme://host[:port]` of this server: `return_to` and RelayState
    /// must stay on it.
    pub public_origin: String,
    /// `/auth/logged-out` on this server, where IdPs send the browser after
    /// signing it out.
    pub logged_out_url: String,
}

/// The protocol, for the audit log and the log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    OpenIdConnect,
    Saml,
}

/// Where a pending transaction is kept: a cookie of this browser.
#[derive(Clone, Debug)]
pub struct PendingCookie {
    /// The cookie's name, without the `__Host-` prefix the session layer adds
    /// over https.
    pub name: String,
    /// What the sealed value is bound to (its provider and purpose), so it
    /// cannot be replayed elsewhere.
    pub aad: String,
    /// The IdP comes back with a cross-site POST (SAML's ACS), so the cookie
    /// must travel on one; otherwise a top-level GET, and `SameSite=Lax` holds.
    pub returns_by_post: bool,
}

/// What the browser keeps, sealed, until the IdP sends it back.
pub struct Pending {
    pub cookie: PendingCookie,
    pub lifetime: Duration,
    /// The transaction, serialized.
    pub value: Vec<u8>,
}

/// A trip to the IdP started: where the browser goes, what it keeps.
pub struct Started {
    pub redirect_to: String,
    pub pending: Option<Pending>,
}

/// What the IdP sent the browser back with.
pub enum Answer<'a> {
    /// OpenID Connect: the callback's query (RFC 6749 §4.1.2, RFC 9207 `iss`).
    Callback { code: Option<&'a str>, state: Option<&'a str>, iss: Option<&'a str>, error: Option<&'a str>, error_description: Option<&'a str> },
    /// SAML: the form posted to the ACS (Bindings §3.5).
    Post { saml_response: &'a str, relay_state: Option<&'a str> },
}

/// A sign-in the IdP vouched for and every check passed.
pub struct Finished {
    pub identity: Identity,
    /// The accounts' key, with the subject: the OpenID issuer or the SAML
    /// IdP's entity id.
    pub issuer: String,
    /// Where the browser goes once signed in (checked to be this server's).
    pub return_to: String,
    /// How the session is named at the IdP, for signing out there.
    pub name_at_idp: Option<NameAtIdp>,
    /// The access token of the code exchange (OpenID Connect), held only
    /// for Test sign-in, which checks it as the API would; never stored or logged.
    pub access_token: Option<AccessToken>,
}

/// An access token in memory: its `Debug` never shows it.
#[derive(Clone)]
pub struct AccessToken(pub String);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(redacted)")
    }
}

/// An identity provider of this installation.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// The path segment of `/auth/<name>/...` (`okta`, `entra_id`, `saml`...).
    fn name(&self) -> &'static str;
    /// The provider's name as people know it, for pages.
    fn display_name(&self) -> &'static str;
    fn protocol(&self) -> Protocol;
    /// The exact URL the IdP sends the browser back to (named in errors).
    fn callback_url(&self) -> &str;
    /// Refuse people with neither `member` nor `factory-admin`.
    fn require_role(&self) -> bool;

    /// Sends the browser to the IdP; `return_to` is already this server's.
    async fn start_sign_in(&self, x: Exchange<'_>, return_to: String) -> Result<Started, SignInError>;
    /// Where the transaction `answer` belongs to is kept (OpenID names it
    /// after `state`; SAML after the provider).
    fn pending_for(&self, answer: &Answer<'_>) -> Option<PendingCookie>;
    /// Checks the IdP's answer against the transaction this browser kept
    /// and reads who signed in. `pending` is the transaction as opened;
    /// empty when the cookie was there but did not open (tampered with, or
    /// sealed for another provider); `None` when the browser sent none.
    async fn finish_sign_in(&self, x: Exchange<'_>, answer: Answer<'_>, pending: Option<Vec<u8>>) -> Result<Finished, SignInError>;
    /// Where to send the browser to end its session at the IdP too, when the
    /// IdP offers that (`None`: this server's sign-out is all there is).
    async fn start_sign_out(&self, x: Exchange<'_>, session: SessionId, user: UserId) -> Option<Started>;
}
