//! What every replica must forget at once: a revoked session, an ended CLI
//! login, a disabled person, a changed role or grant, a rotated key.
//!
//! [`broadcast`] drops it from this replica's caches now and queues it for
//! the others, which receive it through the store's `LISTEN`/`NOTIFY`
//! channel ([`spawn`]) and drop it too, typically within milliseconds. The
//! caches' TTL (`PORTCULLIS_SESSION_CACHE_TTL`, 1 s by default) stays the
//! fallback: a notice lost while the database is away is covered by it, and
//! a listener that reconnects empties its caches, as it may have missed some.

use crate::state::AppState;
use portcullis_domain::{AutomationId, UserId};
use portcullis_storage::Notice;

/// One thing to forget. The wire form is `kind:argument`, small enough for
/// `NOTIFY`'s 8000-byte payload limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// One browser session, by the hash of its token (never the token).
    Session(String),
    /// Every cached session and API context of a person (disabled, role
    /// changed, signed out everywhere).
    UserSessions(UserId),
    /// Every verified bearer token of a person.
    UserTokens(UserId),
    /// The access tokens of one CLI login (its refresh-token family).
    CliLogin(String),
    /// One automation and its access list.
    Automation(AutomationId),
    /// Every automation (a change of roles or memberships changes who sees what).
    AllAutomations,
    /// Every session (a role's permissions changed).
    AllSessions,
    /// The local authorization server's signing keys (rotated).
    SigningKeys,
}

impl Invalidation {
    pub fn encode(&self) -> String {
        match self {
            Invalidation::Session(h) => format!("session:{h}"),
            Invalidation::UserSessions(u) => format!("user:{u}"),
            Invalidation::UserTokens(u) => format!("user-tokens:{u}"),
            Invalidation::CliLogin(f) => format!("cli-login:{f}"),
            Invalidation::Automation(a) => format!("automation:{a}"),
            Invalidation::AllAutomations => "automations".into(),
            Invalidation::AllSessions => "sessions".into(),
            Invalidation::SigningKeys => "signing-keys".into(),
        }
    }

    /// The message a replica sent; `None` for one this version does not
    /// know (a newer replica during an upgrade), which is ignored.
    pub fn decode(s: &str) -> Option<Self> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        Some(match kind {
            "session" if !arg.is_empty() => Invalidation::Session(arg.to_owned()),
            "user" => Invalidation::UserSessions(arg.parse().ok()?),
            "user-tokens" => Invalidation::UserTokens(arg.parse().ok()?),
            "cli-login" if !arg.is_empty() => Invalidation::CliLogin(arg.to_owned()),
            "automation" => Invalidation::Automation(arg.parse().ok()?),
            "automations" => Invalidation::AllAutomations,
            "sessions" => Invalidation::AllSessions,
            "signing-keys" => Invalidation::SigningKeys,
            _ => return None,
        })
    }
}

/// Drops `what` from this replica's caches.
pub fn apply(state: &AppState, what: &Invalidation) {
    match what {
        Invalidation::Session(hash) => state.sessions.evict(hash),
        Invalidation::UserSessions(u) => state.sessions.evict_user(*u),
        Invalidation::UserTokens(u) => state.bearer.tokens.retain(|v| v.user_id != *u),
        Invalidation::CliLogin(family) => state.bearer.tokens.retain(|v| v.family.as_deref() != Some(family.as_str())),
        Invalidation::Automation(a) => state.automations.evict(a),
        Invalidation::AllAutomations => state.automations.clear(),
        Invalidation::AllSessions => state.sessions.clear(),
        Invalidation::SigningKeys => state.oauth.keys.forget(),
    }
}

/// Everything cached, forgotten (after a gap in the notices).
fn forget_everything(state: &AppState) {
    state.sessions.clear();
    state.automations.clear();
    state.bearer.tokens.clear();
    state.bearer.users.clear();
    state.oauth.keys.forget();
}

/// Forgets `what` here at once, and tells the other replicas. Does not
/// wait: the notice is sent in order by one task, so a handler never
/// stalls on it (and a failed send is logged; the TTL covers it).
pub fn broadcast(state: &AppState, what: Invalidation) {
    apply(state, &what);
    if let Some(tx) = state.invalidations.get() {
        let _ = tx.send(what.encode());
    }
}

/// Starts the publisher and the listener (PostgreSQL). With SQLite there is
/// one replica and nothing to do.
pub async fn spawn(state: AppState) -> Result<(), portcullis_storage::StoreError> {
    let Some(mut notices) = state.store.subscribe_invalidations().await? else { return Ok(()) };
    let (tx, mut outbox) = tokio::sync::mpsc::unbounded_channel::<String>();
    if state.invalidations.set(tx).is_err() {
        return Ok(()); // already running
    }
    let publisher = state.clone();
    tokio::spawn(async move {
        while let Some(message) = outbox.recv().await {
            if let Err(e) = publisher.store.publish_invalidation(&message).await {
                tracing::warn!(error = %e, "could not tell the other replicas to drop a cache entry; they will within the cache TTL");
            }
        }
    });
    tokio::spawn(async move {
        while let Some(notice) = notices.recv().await {
            match notice {
                Notice::Message(m) => match Invalidation::decode(&m) {
                    Some(what) => apply(&state, &what),
                    None => tracing::debug!("ignored an unknown cache invalidation notice"),
                },
                Notice::Gap => forget_everything(&state),
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notice_survives_the_wire() {
        let u = UserId::new();
        let a = AutomationId::new();
        for what in [
            Invalidation::Session("ab12".into()),
            Invalidation::UserSessions(u),
            Invalidation::UserTokens(u),
            Invalidation::CliLogin("fam-1".into()),
            Invalidation::Automation(a),
            Invalidation::AllAutomations,
            Invalidation::AllSessions,
            Invalidation::SigningKeys,
        ] {
            assert_eq!(Invalidation::decode(&what.encode()), Some(what));
        }
        for junk in ["", "user:not-a-uuid", "session:", "from-a-newer-version:1"] {
            assert_eq!(Invalidation::decode(junk), None, "{junk}");
        }
    }
}
