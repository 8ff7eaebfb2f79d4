//! `portcullis-server`: the sign-in and access-control server. The
//! command-line client for developers is the `portcullis` binary of the
//! `portcullis-cli` crate, which builds without any of this.

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use portcullis_server::bootstrap::Bootstrap;
use portcullis_server::config::{self, Config, LogFormat, SecretKeySource};
use std::process::ExitCode;
use std::time::Instant;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  runtime failure (the database or the listening address could not be used)
  2  configuration error (the message names the variable to fix)";

/// Portcullis: single sign-on and access control for AI-agent automation
/// platforms.
///
/// All configuration comes from environment variables (AUTH_PROVIDER,
/// PORTCULLIS_PUBLIC_URL, PORTCULLIS_LISTEN, DATABASE_URL, ...); see
/// docs/configuration.md. With none set, `portcullis-server serve` runs on
/// 127.0.0.1:8080 with SQLite in ./portcullis-data and the built-in `local`
/// provider, and prints a one-time link to create the first owner.
#[derive(Parser)]
#[command(name = "portcullis-server", version, after_help = EXIT_CODES)]
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
    /// Manage the secrets Portcullis stores (automation tokens, environment variables).
    #[command(subcommand)]
    Secrets(SecretsCommand),
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

fn init_logging(c: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&c.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match c.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    // Before any JWT is touched (see jwt_crypto).
    portcullis_server::jwt_crypto::install();
    let cli = Cli::parse();
    let config = match Config::from_env(&config::process_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("portcullis-server: configuration error: {e}");
            return ExitCode::from(2);
        }
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
                    println!("portcullis-server: database is up to date");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("portcullis-server: {e}");
                    ExitCode::from(1)
                }
            },
            Command::Serve => serve(config).await,
            Command::Secrets(SecretsCommand::RotateKey) => rotate_key(config).await,
        }
    })
}

async fn rotate_key(config: Config) -> ExitCode {
    let (state, _) = match portcullis_server::state_only(config, std::sync::Arc::new(portcullis_domain::SystemClock)).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("portcullis-server: {e}");
            return ExitCode::from(1);
        }
    };
    match portcullis_server::secrets::rotate(&state).await {
        Ok(r) => {
            println!(
                "portcullis-server: re-sealed {} environment variables, {} automation tokens and {} token-signing keys under key {} ({} were already current)",
                r.env_vars, r.automation_tokens, r.signing_keys, state.sealer.key_id(), r.already_current
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portcullis-server: key rotation stopped: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let started = Instant::now();
    let listen = config.listen;
    let metrics_listen = config.metrics_listen;
    let key_path = match &config.secret_key {
        SecretKeySource::DataDir(p) => Some(p.clone()),
        SecretKeySource::Given(_) => None,
    };
    let public = config.public_url.to_string();
    let (state, boot, created_key) = match portcullis_server::start(config).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("portcullis-server: {e}");
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
            eprintln!("portcullis-server: cannot listen on {listen}: {e} (set PORTCULLIS_LISTEN to a free address, e.g. 127.0.0.1:8081)");
            return ExitCode::from(1);
        }
    };
    if let Some(addr) = metrics_listen {
        if let Err(e) = serve_metrics(state.clone(), addr).await {
            eprintln!("portcullis-server: {e}");
            return ExitCode::from(1);
        }
    }
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
    // TCP_NODELAY on every accepted connection (as nginx's `tcp_nodelay on`):
    // an answer is one write, and Nagle's algorithm would hold a second
    // small write back until the client's delayed ACK, up to 40 ms.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on an accepted connection");
        }
    });
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await;
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portcullis-server: server error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Installs the Prometheus recorder and serves `GET /metrics` on its own
/// address (PORTCULLIS_METRICS_LISTEN), apart from the public port.
async fn serve_metrics(state: portcullis_server::state::AppState, addr: std::net::SocketAddr) -> Result<(), String> {
    let handle = portcullis_server::telemetry::install().map_err(|e| format!("metrics: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for metrics: {e} (set PORTCULLIS_METRICS_LISTEN to a free address, e.g. 127.0.0.1:9090)"))?;
    // The exporter keeps every histogram sample until upkeep folds them into
    // buckets; without it a replica nobody scrapes grows by megabytes a
    // minute under load (seen in the soak). Every 5 s, whatever the scrapes.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = portcullis_server::telemetry::router(state, handle);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    tracing::info!(address = %addr, "metrics at GET /metrics");
    Ok(())
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
