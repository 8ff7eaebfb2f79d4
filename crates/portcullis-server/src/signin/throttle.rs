//! The sign-in throttle: a password is checked only after the check is
//! registered in the database and the counts it then sees, for the account
//! and for the client's address (IPv6 by /64), admit it
//! ([`portcullis_domain::ThrottlePolicy::admit`]). Parallel guesses, on one
//! replica or several, therefore never pass the limits together.

use crate::error::ApiError;
use crate::state::AppState;
use portcullis_domain::{address_key, Admission, Timestamp};
use portcullis_storage::{CheckOutcome, SignInCheck};
use std::time::Duration;

/// A check still running after this long has crashed; it no longer counts as running.
const RUNNING_AT_MOST: Duration = Duration::from_secs(60);

/// Why a password is not checked now.
pub enum Refusal {
    /// Too many failures: not before `at`.
    Wait { at: Timestamp, account_wide: bool },
    /// Other checks for this account or address are running.
    Busy { account_wide: bool },
    Error(ApiError),
}

/// A registered check. Finish it with the outcome; dropped unfinished (an
/// early return, an error), it is withdrawn, so it does not count.
pub struct Ticket {
    state: AppState,
    id: uuid::Uuid,
    account: String,
    done: bool,
}

impl Ticket {
    pub async fn finish(mut self, outcome: CheckOutcome) {
        self.done = true;
        if let Err(e) = self.state.store.update_sign_in_check(self.id, &self.account, outcome, self.state.clock.now()).await {
            tracing::warn!(error = %e, "could not record the end of a password check");
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (state, id, account) = (self.state.clone(), self.id, std::mem::take(&mut self.account));
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = state.store.update_sign_in_check(id, &account, CheckOutcome::Withdrawn, state.clock.now()).await;
            });
        }
    }
}

/// Registers a check for `account` from `ip` and decides whether it may run.
pub async fn admit(state: &AppState, account: &str, ip: Option<&str>) -> Result<Ticket, Refusal> {
    let now = state.clock.now();
    let policy = state.throttle;
    let check = SignInCheck {
        id: uuid::Uuid::new_v4(),
        account: account.to_owned(),
        address_key: ip.and_then(|i| i.parse().ok()).map(address_key),
        started_at: now,
    };
    let pressure = state
        .store
        .create_sign_in_check(&check, now.minus(policy.window), now.minus(RUNNING_AT_MOST))
        .await
        .map_err(|e| Refusal::Error(e.into()))?;
    let ticket = Ticket { state: state.clone(), id: check.id, account: check.account, done: false };
    let by_account = policy.admit(pressure.account, policy.per_account, now);
    let by_address = policy.admit(pressure.address, policy.per_address, now);
    match (by_account, by_address) {
        (Admission::Check, Admission::Check) => Ok(ticket),
        (a, b) => {
            // The later of two waits; a wait before "busy".
            let refusal = match (a, b) {
                (Admission::WaitUntil(x), Admission::WaitUntil(y)) => Refusal::Wait { at: x.max(y), account_wide: x >= y },
                (Admission::WaitUntil(at), _) => Refusal::Wait { at, account_wide: true },
                (_, Admission::WaitUntil(at)) => Refusal::Wait { at, account_wide: false },
                (Admission::Busy, _) => Refusal::Busy { account_wide: true },
                _ => Refusal::Busy { account_wide: false },
            };
            ticket.finish(CheckOutcome::Withdrawn).await;
            Err(refusal)
        }
    }
}
