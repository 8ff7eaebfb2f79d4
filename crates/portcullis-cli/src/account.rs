//! `portcullis login | logout | whoami | token`: the signed-in side of the CLI.

use crate::{credentials, device, settings};
use std::process::ExitCode;

fn report(code: u8, message: &str) -> ExitCode {
    eprintln!("portcullis: {message}");
    ExitCode::from(code)
}

fn load_settings() -> Result<serde_json::Map<String, serde_json::Value>, ExitCode> {
    settings::path().and_then(|p| settings::load(&p)).map_err(|e| report(2, &e))
}

/// The stored tokens, renewed if they are about to expire.
async fn current() -> Result<credentials::Tokens, ExitCode> {
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
        Err(f) => Err(report(f.code, &f.message)),
    }
}

pub async fn login(no_browser: bool, json: bool) -> ExitCode {
    let s = match load_settings() {
        Ok(s) => s,
        Err(c) => return c,
    };
    match device::login(&s, no_browser).await {
        Ok((tokens, claims)) => {
            let path = match credentials::save(&tokens) {
                Ok(p) => p,
                Err(e) => return report(1, &e),
            };
            let who = claims.get("email").or_else(|| claims.get("sub")).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
            if json {
                println!("{}", serde_json::json!({ "logged_in": true, "subject": claims.get("sub"), "email": claims.get("email"), "expires_at": tokens.expires_at }));
            } else {
                println!("Logged in as {who}; tokens kept in {} (encrypted, owner-only).", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(f) => report(f.code, &f.message),
    }
}

pub async fn logout() -> ExitCode {
    let stored = match credentials::load() {
        Ok(t) => t,
        Err(e) => return report(2, &e),
    };
    if let Some(t) = &stored {
        match device::revoke(t).await {
            Ok(true) => println!("Revoked the token at the identity provider."),
            Ok(false) => println!("The identity provider has no revocation endpoint; the token stays valid until it expires."),
            Err(e) => eprintln!("portcullis: warning: could not revoke the token ({e}); it stays valid until it expires"),
        }
    }
    match credentials::delete() {
        Ok(true) => {
            println!("Logged out.");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("Not logged in.");
            ExitCode::SUCCESS
        }
        Err(e) => report(1, &e),
    }
}

pub async fn token() -> ExitCode {
    match current().await {
        Ok(t) => {
            println!("{}", t.access_token);
            ExitCode::SUCCESS
        }
        Err(c) => c,
    }
}

pub async fn whoami(json: bool) -> ExitCode {
    let t = match current().await {
        Ok(t) => t,
        Err(c) => return c,
    };
    let url = format!("{}/api/v1/me", t.base_url);
    let resp = match reqwest::Client::new().get(&url).bearer_auth(&t.access_token).send().await {
        Ok(r) => r,
        Err(e) => return report(3, &format!("cannot reach {url}: {e}; check that the Factory URL is reachable (`portcullis config list`)")),
    };
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        return report(4, &format!("{url} answered {status}: {}", body.get("message").and_then(|m| m.as_str()).unwrap_or("no explanation")));
    }
    if json {
        println!("{body}");
    } else {
        println!("{} <{}>{}", body["user"]["display_name"].as_str().unwrap_or(""), body["user"]["email"].as_str().unwrap_or(""), if body["user"]["factory_admin"] == true { ", factory admin" } else { "" });
        for o in body["organizations"].as_array().into_iter().flatten() {
            println!("  {}: {}", o["name"].as_str().unwrap_or(""), o["role"]["name"].as_str().unwrap_or(""));
        }
    }
    ExitCode::SUCCESS
}
