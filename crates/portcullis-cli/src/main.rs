//! `portcullis`: the sign-in and access-control server, and its command line.

use clap::{Parser, Subcommand};
use portcullis_server::bootstrap::Bootstrap;
use portcullis_server::config::{self, Config, LogFormat, SecretKeySource};
use std::process::ExitCode;

mod account;
mod api_commands;
mod credentials;
mod device;
mod enterprise;
mod private_file;
mod settings;
use std::time::Instant;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  runtime failure (the database or the listening address could not be used)
  2  configuration error (the message names the variable or setting to fix)
  3  the server could not be reached (URL, network, TLS trust)
  4  the server answered, but refused or with something unusable (the message says what)";

/// Portcullis: single sign-on and access control for AI-agent automation
/// platforms.
///
/// All configuration comes from environment variables (AUTH_PROVIDER,
/// PORTCULLIS_PUBLIC_URL, PORTCULLIS_LISTEN, DATABASE_URL, ...); see
/// docs/configuration.md. With none set, `portcullis serve` runs on
/// 127.0.0.1:8080 with SQLite in ./portcullis-data and the built-in `local`
/// provider, and prints a one-time link to create the first owner.
#[derive(Parser)]
#[command(name = "portcullis", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server (migrates the database first).
    #[command(after_help = EXIT_CODES)]
    Serve,
    /// Apply pending database migrations, then exit.
    #[command(after_help = EXIT_CODES)]
    Migrate,
    /// Read and change this CLI's settings (the keys of the platform CLI's settings file).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the secrets Portcullis stores (automation tokens, environment variables).
    #[command(subcommand)]
    Secrets(SecretsCommand),
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

#[derive(Subcommand)]
enum SecretsCommand {
    /// Re-seal every stored secret under PORTCULLIS_SECRET_KEY.
    ///
    /// Rotation without downtime: (1) give every replica the new key as
    /// PORTCULLIS_SECRET_KEY and the old one as PORTCULLIS_SECRET_KEY_PREVIOUS;
    /// (2) run this command with the same settings; (3) remove
    /// PORTCULLIS_SECRET_KEY_PREVIOUS.
    #[command(after_help = EXIT_CODES)]
    RotateKey,
}

fn load_config() -> Result<Config, ExitCode> {
    Config::from_env(&config::process_env()).map_err(|e| {
        eprintln!("portcullis: configuration error: {e}");
        ExitCode::from(2)
    })
}

fn init_logging(c: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&c.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match c.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
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
    let cli = Cli::parse();
    let cli = match cli.command {
        Command::Config(cmd) => return config_command(cmd),
        Command::Enterprise(EnterpriseCommand::Configure { url, json }) => return enterprise_configure(&url, json),
        Command::Login { no_browser, json } => return client_runtime().block_on(account::login(no_browser, json)),
        Command::Logout => return client_runtime().block_on(account::logout()),
        Command::Whoami { json } => return client_runtime().block_on(account::whoami(json)),
        Command::Token => return client_runtime().block_on(account::token()),
        Command::Automations { command, org, json } => {
            return client_runtime().block_on(async move {
                match command {
                    AutomationsCommand::List => api_commands::automations_list(org, json).await,
                    AutomationsCommand::Show { id } => api_commands::automations_show(org, id, json).await,
                    AutomationsCommand::Kickoff { id, inputs } => api_commands::automations_kickoff(org, id, &inputs, json).await,
                    AutomationsCommand::Status { id, kickoff_id } => api_commands::automations_status(org, id, &kickoff_id, json).await,
                }
                .unwrap_or_else(|code| code)
            })
        }
        Command::Env { command, org, json } => {
            return client_runtime().block_on(async move {
                match command {
                    EnvCommand::List => api_commands::env_list(org, json).await,
                    EnvCommand::Set { name, value, automation } => api_commands::env_set(org, &name, &value, automation, json).await,
                    EnvCommand::Unset { name, automation } => api_commands::env_unset(org, &name, automation).await,
                }
                .unwrap_or_else(|code| code)
            })
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "portcullis", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        other => Cli { command: other },
    };
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    init_logging(&config);
    for var in &config.unknown_variables {
        tracing::warn!(variable = %var, "unknown PORTCULLIS_ variable ignored (a typo?); see docs/configuration.md");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    rt.block_on(async move {
        match cli.command {
            Command::Migrate => match portcullis_server::open(&config).await {
                Ok(_) => {
                    println!("portcullis: database is up to date");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("portcullis: {e}");
                    ExitCode::from(1)
                }
            },
            Command::Serve => serve(config).await,
            Command::Config(_)
            | Command::Enterprise(_)
            | Command::Login { .. }
            | Command::Logout
            | Command::Whoami { .. }
            | Command::Token
            | Command::Automations { .. }
            | Command::Env { .. }
            | Command::Completions { .. } => {
                unreachable!("client commands are handled before the server configuration is read")
            }
            Command::Secrets(SecretsCommand::RotateKey) => {
                let (state, _) = match portcullis_server::state_only(config, std::sync::Arc::new(portcullis_domain::SystemClock)).await {
                    Ok(x) => x,
                    Err(e) => {
                        eprintln!("portcullis: {e}");
                        return ExitCode::from(1);
                    }
                };
                match portcullis_server::secrets::rotate(&state).await {
                    Ok(r) => {
                        println!(
                            "portcullis: re-sealed {} environment variables, {} automation tokens and {} token-signing keys under key {} ({} were already current)",
                            r.env_vars, r.automation_tokens, r.signing_keys, state.sealer.key_id(), r.already_current
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("portcullis: key rotation stopped: {e}");
                        ExitCode::from(1)
                    }
                }
            }
        }
    })
}

async fn serve(config: Config) -> ExitCode {
    let started = Instant::now();
    let listen = config.listen;
    let key_path = match &config.secret_key {
        SecretKeySource::DataDir(p) => Some(p.clone()),
        SecretKeySource::Given(_) => None,
    };
    let public = config.public_url.to_string();
    let (state, boot, created_key) = match portcullis_server::start(config).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(p) = key_path {
        if created_key {
            tracing::warn!(path = %p.display(), "generated a new secret key; every replica must use the same key: set PORTCULLIS_SECRET_KEY_FILE to this file (or its content in PORTCULLIS_SECRET_KEY) on all of them");
        } else {
            tracing::info!(path = %p.display(), "using the secret key from the data directory");
        }
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("portcullis: cannot listen on {listen}: {e} (set PORTCULLIS_LISTEN to a free address, e.g. 127.0.0.1:8081)");
            return ExitCode::from(1);
        }
    };
    portcullis_server::spawn_housekeeping(state.clone());
    portcullis_server::health::spawn(state.clone());
    let app = portcullis_server::app(state);
    tracing::info!(address = %listen, public_url = %public, ready_in_ms = started.elapsed().as_millis() as u64, "Portcullis is ready");
    match boot {
        Bootstrap::Ready => {}
        Bootstrap::AdminCreated(email) => println!("\nPortcullis: created the first owner account {email}; sign in at {public}auth/local/login\n"),
        Bootstrap::IdentityProvider(idp) => println!(
            "\nPortcullis: no account yet. Sign in at {public}auth/login through {idp}; users with the factory-admin role there become owners.\n"
        ),
        Bootstrap::SetupLink(link) => println!(
            "\nPortcullis has no account yet. Open this one-time link to create the owner account\n(valid 24 hours; restarting before it is used prints a new one):\n\n    {link}\n"
        ),
    }
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await;
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portcullis: server error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
