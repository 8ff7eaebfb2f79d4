//! `portcullis login | logout | whoami | token`: the signed-in side of the CLI.

use crate::signed_in::{current, report};
use crate::{credentials, device, settings};
use std::process::ExitCode;

fn load_settings() -> Result<serde_json::Map<String, serde_json::Value>, ExitCode> {
    settings::path().and_then(|p| settings::load(&p)).map_err(|e| report(2, &e))
}

pub async fn login(no_browser: bool, json: bool) -> ExitCode {
    let s = match load_settings() {
        Ok(s) => s,
        Err(c) => return c,
    };
    match device::login(&s, no_browser).await {
        Ok((tokens, claims)) => {
            let place = match credentials::save(&tokens) {
                Ok(p) => p,
                Err(e) => return report(1, &e),
            };
            if let credentials::Place::File { keyring_error: Some(why), .. } = &place {
                eprintln!("portcullis: notice: the OS keyring is not available ({why}); the tokens are kept in an encrypted owner-only file instead");
            }
            // Who the server says this is (an access token need not carry an
            // e-mail address: Okta's and Auth0's do not), else the token's word.
            let server_says = match portcullis_api::Client::new(&tokens.base_url) {
                Ok(c) => c.with_bearer(&tokens.access_token).get::<portcullis_api::Me>("/api/v1/me").await.ok().map(|me| me.user.email),
                Err(_) => None,
            };
            let who = server_says
                .or_else(|| claims.get("email").or_else(|| claims.get("sub")).and_then(|v| v.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "?".into());
            if json {
                println!("{}", serde_json::json!({ "logged_in": true, "subject": claims.get("sub"), "email": claims.get("email"), "expires_at": tokens.expires_at }));
            } else {
                println!("Logged in as {who}; tokens kept in {place}.");
            }
            ExitCode::SUCCESS
        }
        Err(f) => report(device::exit_code(&f), &f.message),
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
    let mut c = match crate::signed_in::client(None).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let me = match c.me().await {
        Ok(me) => me,
        Err(e) => return crate::signed_in::failed(e),
    };
    if json {
        println!("{}", serde_json::to_string(&me).expect("JSON"));
    } else {
        println!("{} <{}>{}", me.user.display_name, me.user.email, if me.user.factory_admin { ", factory admin" } else { "" });
        for o in &me.organizations {
            println!("  {} ({}): {}", o.name, o.id, o.role.name);
        }
    }
    ExitCode::SUCCESS
}
