//! The signed-in state every API command starts from: the stored tokens
//! (renewed when about to expire), a typed client carrying them, and API
//! errors turned into exit codes with what to do about them.

use crate::{credentials, device};
use portcullis_api::{Client, ClientError};
use std::process::ExitCode;
use uuid::Uuid;

/// Reports `message` on stderr and gives the exit code.
pub fn report(code: u8, message: &str) -> ExitCode {
    eprintln!("portcullis: {message}");
    ExitCode::from(code)
}

/// The stored tokens, renewed if they are about to expire.
pub async fn current() -> Result<credentials::Tokens, ExitCode> {
    let stored = match credentials::load() {
        Ok(Some(t)) => t,
        Ok(None) => return Err(report(2, "not logged in; run `portcullis login`")),
        Err(e) => return Err(report(2, &e)),
    };
    match device::fresh(stored).await {
        Ok((t, refreshed)) => {
            if refreshed {
                credentials::save(&t).map_err(|e| report(1, &e))?;
            }
            Ok(t)
        }
        Err(f) => Err(report(device::exit_code(&f), &f.message)),
    }
}

/// A client for the configured server, authenticated with the stored token.
pub async fn client(org: Option<Uuid>) -> Result<Client, ExitCode> {
    let t = current().await?;
    let mut c = Client::new(&t.base_url).map_err(|e| report(2, &format!("enterprise_base_url: {e}")))?.with_bearer(&t.access_token);
    c.set_org(org);
    Ok(c)
}

/// An API error as an exit code, with what to do about it.
pub fn failed(e: ClientError) -> ExitCode {
    match &e {
        ClientError::Transport(err) => report(3, &format!("cannot reach the server: {err}; check enterprise_base_url (`portcullis config list`) and your network")),
        ClientError::Api { status, body } if status.as_u16() == 401 => report(4, &format!("{}; run `portcullis login`", body.message)),
        ClientError::Api { body, .. } if body.error == "organization_required" => report(4, &format!("{}; pass --org <organization id>", body.message)),
        _ => report(4, &e.to_string()),
    }
}
