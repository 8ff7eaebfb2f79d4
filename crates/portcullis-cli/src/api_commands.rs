//! `portcullis automations ...` and `portcullis env ...`: the API of the
//! guarded resources, through the shared typed client with the stored
//! access token (renewed when needed).

use crate::signed_in::{client, failed, report};
use portcullis_api::PutEnvVar;
use std::process::ExitCode;
use uuid::Uuid;

/// The exit code either way; `Err` after the failure was reported.
pub type Outcome = Result<ExitCode, ExitCode>;


fn print<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce()) {
    if json {
        println!("{}", serde_json::to_string(value).expect("JSON"));
    } else {
        text();
    }
}

pub async fn automations_list(org: Option<Uuid>, json: bool) -> Outcome {
    let c = client(org).await?;
    match c.automations().await {
        Ok(list) => {
            print(json, &list, || {
                for a in &list {
                    println!("{}  {:<30} {:<13} {}", a.id, a.name, a.visibility, a.health.state);
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(failed(e)),
    }
}

pub async fn automations_show(org: Option<Uuid>, id: Uuid, json: bool) -> Outcome {
    let c = client(org).await?;
    match c.automation(id).await {
        Ok(a) => {
            print(json, &a, || {
                println!("{} ({})\n  {}\n  visibility: {}\n  upstream: {}\n  health: {}", a.name, a.id, a.description, a.visibility, a.upstream_url, a.health.state);
            });
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(failed(e)),
    }
}

pub async fn automations_kickoff(org: Option<Uuid>, id: Uuid, inputs: &str, json: bool) -> Outcome {
    let inputs: serde_json::Value = match serde_json::from_str(inputs) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => return Err(report(2, &format!("--inputs must be a JSON object, e.g. '{{\"topic\": \"AI\"}}' (got `{inputs}`)"))),
    };
    let c = client(org).await?;
    match c.kickoff(id, &inputs).await {
        Ok(v) => {
            print(json, &v, || println!("kicked off: {}", v.get("kickoff_id").and_then(|k| k.as_str()).unwrap_or("(no kickoff id)")));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(failed(e)),
    }
}

pub async fn automations_status(org: Option<Uuid>, id: Uuid, kickoff_id: &str, json: bool) -> Outcome {
    let c = client(org).await?;
    match c.kickoff_status(id, kickoff_id).await {
        Ok(v) => {
            print(json, &v, || println!("{}", v.get("state").and_then(|s| s.as_str()).map(str::to_owned).unwrap_or_else(|| v.to_string())));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(failed(e)),
    }
}

pub async fn env_list(org: Option<Uuid>, json: bool) -> Outcome {
    let c = client(org).await?;
    match c.env_list().await {
        Ok(list) => {
            print(json, &list, || {
                for v in &list {
                    let scope = v.automation_id.map(|a| format!("automation {a}")).unwrap_or_else(|| "organization".into());
                    println!("{:<30} {}  ({scope})", v.name, v.masked_value);
                }
            });
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(failed(e)),
    }
}

pub async fn env_set(org: Option<Uuid>, name: &str, value: &str, automation: Option<Uuid>, json: bool) -> Outcome {
    let c = client(org).await?;
    match c.env_put(&PutEnvVar { name: name.to_owned(), value: value.to_owned(), automation_id: automation }).await {
        Ok(v) => {
            print(json, &v, || println!("{} set ({} bytes)", v.name, v.value_bytes));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(failed(e)),
    }
}

pub async fn env_unset(org: Option<Uuid>, name: &str, automation: Option<Uuid>) -> Outcome {
    let c = client(org).await?;
    let list = c.env_list().await.map_err(failed)?;
    let Some(v) = list.into_iter().find(|v| v.name == name && v.automation_id == automation) else {
        return Err(report(4, &format!("no variable {name} {}; `portcullis env list` shows what is set", automation.map(|a| format!("for automation {a}")).unwrap_or_else(|| "for the organization".into()))));
    };
    match c.env_delete(v.id).await {
        Ok(()) => {
            println!("{name} removed");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(failed(e)),
    }
}
