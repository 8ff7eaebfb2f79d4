//! `portcullis login`'s terminal side of the device flow: showing the code,
//! opening the browser, a spinner while waiting. The protocol (RFC 8628,
//! the token checks, refresh and revocation) is `portcullis_api::device`,
//! which the tests use too.

use portcullis_api::device::{DeviceLogin, Failure, FailureKind, Tokens};
use serde_json::{Map, Value};

pub use portcullis_api::device::{fresh, revoke};

/// The exit code for a failure (see `--help`).
pub fn exit_code(f: &Failure) -> u8 {
    match f.kind {
        FailureKind::Local => 1,
        FailureKind::Settings => 2,
        FailureKind::Unreachable => 3,
        FailureKind::Refused => 4,
    }
}

fn open_browser(url: &str) {
    // $BROWSER first (as most Unix tools), then the desktop's opener.
    let candidates: Vec<String> = std::env::var("BROWSER").ok().filter(|b| !b.is_empty()).into_iter().chain(["xdg-open".to_owned(), "open".to_owned()]).collect();
    for c in candidates {
        if std::process::Command::new(&c).arg(url).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().is_ok() {
            return;
        }
    }
}

/// The whole login: returns the tokens and the access token's claims.
pub async fn login(settings: &Map<String, Value>, no_browser: bool) -> Result<(Tokens, Value), Failure> {
    let login = DeviceLogin::start(settings).await?;
    println!("To sign in, open {}", login.code.verification);
    println!("and confirm the code {}", login.code.user_code);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if !no_browser {
        open_browser(&login.code.verification);
    }
    let spinner = ['|', '/', '-', '\\'];
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut turn = 0usize;
    let done = login
        .finish(|| {
            if tty {
                eprint!("\r{} waiting for the confirmation...", spinner[turn % 4]);
                turn += 1;
            }
        })
        .await;
    if tty {
        eprintln!("\r                                   ");
    }
    done
}
