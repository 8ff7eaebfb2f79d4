//! `portcullis`: the command line of Portcullis for developers: connect to a
//! server, log in with the device flow, and use automations and environment
//! variables. It depends on `portcullis-api` only, so `cargo install --path
//! crates/portcullis-cli` needs nothing but Rust. The server is the
//! `portcullis-server` binary of the `portcullis-server` crate.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod account;
mod api_commands;
mod credentials;
mod device;
mod enterprise;
mod private_file;
mod settings;
mod signed_in;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  runtime failure (a local file could not be written, an HTTP client could not start)
  2  configuration error (the message names the setting to fix)
  3  the server could not be reached (URL, network, TLS trust)
  4  the server answered, but refused or with something unusable (the message says what)";

/// The Portcullis command line: connect to your Portcullis (Factory) server,
/// log in with the device flow, and work with its automations.
///
/// Start with `portcullis enterprise configure https://your-portcullis`,
/// then `portcullis login`. Settings are kept where the platform's CLI keeps
/// them; see docs/cli.md. (The server itself is `portcullis-server`.)
#[derive(Parser)]
#[command(name = "portcullis", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read and change this CLI's settings (the keys of the platform CLI's settings file).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Connect this CLI to a Portcullis (Factory) server.
    #[command(subcommand)]
    Enterprise(EnterpriseCommand),
    /// Log in with the device flow (RFC 8628) at the configured identity provider.
    #[command(after_help = EXIT_CODES)]
    Login {
        /// Do not try to open a browser; just print the address and code.
        #[arg(long)]
        no_browser: bool,
        #[arg(long)]
        json: bool,
    },
    /// Revoke the stored token at the identity provider (where it can) and forget it.
    #[command(after_help = EXIT_CODES)]
    Logout,
    /// Show who the stored token signs in as, with organizations and roles.
    #[command(after_help = EXIT_CODES)]
    Whoami {
        #[arg(long)]
        json: bool,
    },
    /// Print a valid access token (renewed with the refresh token when needed), for scripts.
    #[command(after_help = EXIT_CODES)]
    Token,
    /// The automations you may see: list, show, kick off, follow a run.
    Automations {
        #[command(subcommand)]
        command: AutomationsCommand,
        /// The organization (needed when you belong to several).
        #[arg(long, global = true)]
        org: Option<uuid::Uuid>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Environment variables (secrets) of the organization or of one automation.
    Env {
        #[command(subcommand)]
        command: EnvCommand,
        /// The organization (needed when you belong to several).
        #[arg(long, global = true)]
        org: Option<uuid::Uuid>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum AutomationsCommand {
    List,
    Show { id: uuid::Uuid },
    /// Start a run with INPUTS (a JSON object).
    Kickoff {
        id: uuid::Uuid,
        #[arg(long, default_value = "{}")]
        inputs: String,
    },
    /// The state of a run, from the automation.
    Status { id: uuid::Uuid, kickoff_id: String },
}

#[derive(Subcommand)]
enum EnvCommand {
    /// Names and masked values (values are never printed).
    List,
    Set {
        name: String,
        value: String,
        /// For one automation instead of the whole organization.
        #[arg(long)]
        automation: Option<uuid::Uuid>,
    },
    Unset {
        name: String,
        #[arg(long)]
        automation: Option<uuid::Uuid>,
    },
}

#[derive(Subcommand)]
enum EnterpriseCommand {
    /// Fetch URL/auth/parameters and store the server's sign-in settings
    /// (enterprise_base_url, oauth2_provider, oauth2_domain, oauth2_client_id,
    /// oauth2_audience, oauth2_extra).
    #[command(after_help = EXIT_CODES)]
    Configure {
        /// The server's base URL, e.g. https://factory.example.com
        url: String,
        /// Print what was stored as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Set KEY to VALUE (keys: enterprise_base_url, oauth2_provider, oauth2_domain,
    /// oauth2_client_id, oauth2_audience, oauth2_extra).
    Set { key: String, value: String },
    /// Print one value.
    Get {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Print every setting.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Forget every setting.
    Reset,
}

/// `portcullis config ...`: needs no server configuration.
fn config_command(cmd: ConfigCommand) -> ExitCode {
    let fail = |m: String| {
        eprintln!("portcullis: {m}");
        ExitCode::from(2)
    };
    let path = match settings::path() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut current = match settings::load(&path) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    match cmd {
        ConfigCommand::Set { key, value } => {
            let v = match settings::validate(&key, &value) {
                Ok(v) => v,
                Err(e) => return fail(format!("{key}: {e}")),
            };
            current.insert(key.clone(), v.clone());
            if let Err(e) = settings::save(&path, &current) {
                return fail(e);
            }
            println!("{key} = {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
        }
        ConfigCommand::Get { key, json } => {
            if !settings::KEYS.iter().any(|(k, _)| *k == key) {
                return fail(format!("unknown key `{key}`; valid keys: {}", settings::key_list()));
            }
            match current.get(&key) {
                Some(v) if json => println!("{v}"),
                Some(v) => println!("{}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())),
                None => return fail(format!("{key} is not set; set it with `portcullis config set {key} VALUE`")),
            }
        }
        ConfigCommand::List { json } => {
            if json {
                println!("{}", serde_json::Value::Object(current));
            } else {
                for (k, hint) in settings::KEYS {
                    match current.get(*k) {
                        Some(v) => println!("{k:<20} {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())),
                        None => println!("{k:<20} (not set: {hint})"),
                    }
                }
            }
        }
        ConfigCommand::Reset => {
            if let Err(e) = settings::save(&path, &Default::default()) {
                return fail(e);
            }
            println!("settings reset ({})", path.display());
        }
    }
    ExitCode::SUCCESS
}

/// The runtime of the client commands (no server configuration needed).
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// `portcullis enterprise configure URL`.
fn enterprise_configure(url: &str, json: bool) -> ExitCode {
    match client_runtime().block_on(enterprise::configure(url)) {
        Ok(stored) => {
            if json {
                println!("{}", serde_json::Value::Object(stored));
            } else {
                println!("Configured from {url}/auth/parameters:");
                for (k, v) in &stored {
                    println!("  {k:<20} {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
                }
            }
            ExitCode::SUCCESS
        }
        Err(enterprise::Failure::Local(m)) => {
            eprintln!("portcullis: {m}");
            ExitCode::from(2)
        }
        Err(enterprise::Failure::Unreachable(m)) => {
            eprintln!("portcullis: {m}");
            ExitCode::from(3)
        }
        Err(enterprise::Failure::Refused(m)) => {
            eprintln!("portcullis: {m}");
            ExitCode::from(4)
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Config(cmd) => config_command(cmd),
        Command::Enterprise(EnterpriseCommand::Configure { url, json }) => enterprise_configure(&url, json),
        Command::Login { no_browser, json } => client_runtime().block_on(account::login(no_browser, json)),
        Command::Logout => client_runtime().block_on(account::logout()),
        Command::Whoami { json } => client_runtime().block_on(account::whoami(json)),
        Command::Token => client_runtime().block_on(account::token()),
        Command::Automations { command, org, json } => client_runtime().block_on(async move {
            match command {
                AutomationsCommand::List => api_commands::automations_list(org, json).await,
                AutomationsCommand::Show { id } => api_commands::automations_show(org, id, json).await,
                AutomationsCommand::Kickoff { id, inputs } => api_commands::automations_kickoff(org, id, &inputs, json).await,
                AutomationsCommand::Status { id, kickoff_id } => api_commands::automations_status(org, id, &kickoff_id, json).await,
            }
            .unwrap_or_else(|code| code)
        }),
        Command::Env { command, org, json } => client_runtime().block_on(async move {
            match command {
                EnvCommand::List => api_commands::env_list(org, json).await,
                EnvCommand::Set { name, value, automation } => api_commands::env_set(org, &name, &value, automation, json).await,
                EnvCommand::Unset { name, automation } => api_commands::env_unset(org, &name, automation).await,
            }
            .unwrap_or_else(|code| code)
        }),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "portcullis", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}
