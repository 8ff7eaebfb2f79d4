//! The Portcullis HTTP server.
//!
//! [`app`] builds the router from an [`AppState`]; [`start`] loads the
//! configuration's secret, opens and migrates the database, runs the
//! first-start bootstrap, and returns the state ready to serve.

pub mod api;
pub mod audit;
pub mod authserver;
pub mod cache;
pub mod bootstrap;
pub mod compat;
pub mod config;
pub mod crypto;
pub mod database_status;
pub mod error;
pub mod health;
pub mod idp;
pub mod invalidation;
pub mod jwt_crypto;
pub mod keys;
pub mod outbound;
pub mod pages;
pub mod password;
pub mod rate_limit;
pub mod scim;
pub mod request_id;
pub mod secrets;
pub mod session;
pub mod signin;
pub mod signout;
pub mod state;
pub mod telemetry;
pub mod timestamps;
pub mod upstream_client;
pub mod upstream_policy;
pub mod usage;

use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use config::{Config, SecretKeySource};
use portcullis_domain::{Clock, SystemClock};
use portcullis_storage::{SqlStore, Store};
use secrecy::ExposeSecret;
use state::AppState;
use std::sync::Arc;

/// Largest request body accepted anywhere (forms and JSON).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    // Over https, browsers are told to keep using it (a year, like most sites).
    let hsts = state.config.https().then(|| HeaderValue::from_static("max-age=31536000"));
    let routes = Router::new()
        .route("/", get(pages::home::landing))
        .route("/healthz", get(healthz))
        .route("/static/portcullis.css", get(pages::stylesheet))
        .route("/static/copy.js", get(pages::script))
        .route("/settings/sign-in", get(pages::sign_in_settings::page))
        .route("/settings/sign-in/test/{provider}", get(pages::sign_in_settings::test))
        .route("/account", get(pages::account::page))
        .route("/automations", get(pages::automations::list))
        .route("/env", get(pages::env::page).post(pages::env::set))
        .route("/members", get(pages::members::page))
        .route("/usage", get(pages::usage::page))
        .route("/organizations", get(pages::organizations::page).post(pages::organizations::create))
        .route("/members/invite", post(pages::members::invite))
        .route("/members/invitations/{id}/withdraw", post(pages::members::withdraw))
        .route("/members/{id}/{action}", post(pages::members::act))
        .route("/env/{id}/reveal", post(pages::env::reveal))
        .route("/env/{id}/delete", post(pages::env::delete))
        .route("/automations/new", get(pages::automations::settings::new_page).post(pages::automations::settings::create))
        .route("/automations/{id}", get(pages::automations::overview::page))
        .route("/automations/{id}/kickoff", post(pages::automations::overview::kickoff))
        .route("/automations/{id}/runs/{kickoff_id}", get(pages::automations::overview::run))
        .route("/automations/{id}/settings", get(pages::automations::settings::page).post(pages::automations::settings::save))
        .route("/automations/{id}/delete", post(pages::automations::settings::delete))
        .route("/automations/{id}/visibility", get(pages::automations::visibility::page).post(pages::automations::visibility::save))
        .route("/audit", get(pages::audit::page))
        .route("/settings/check-access", get(pages::check_access::page))
        .route("/settings/group-rules", get(pages::group_rules::page).post(pages::group_rules::save))
        .route("/settings/provisioning", get(pages::provisioning::page))
        .route("/settings/provisioning/tokens", post(pages::provisioning::create))
        .route("/settings/provisioning/tokens/{id}/revoke", post(pages::provisioning::revoke))
        .route("/audit.csv", get(pages::audit::csv))
        .route("/settings/roles", get(pages::roles::page))
        .route("/settings/roles/new", post(pages::roles::create))
        .route("/settings/roles/{id}", post(pages::roles::save))
        .route("/settings/roles/{id}/delete", post(pages::roles::delete))
        .route("/account/sessions/{id}/end", post(pages::account::end_session))
        .route("/account/cli-logins/{id}/end", post(pages::account::end_cli_login))
        .route("/readyz", get(readyz))
        .route("/auth/local/login", get(signin::local::login_page).post(signin::local::login_submit))
        .route("/auth/logout", post(signout::logout))
        .route("/auth/login", get(signin::choose::sign_in_page))
        .route("/auth/parameters", get(api::cli_parameters::cli_parameters))
        .route("/auth/logged-out", get(signout::oidc::logged_out))
        .route("/auth/{provider}/login", get(signin::federated::login_route))
        .route(
            "/auth/{provider}/callback",
            // SAML responses with many attributes exceed the general 64 KiB;
            // the ACS refuses above its own cap with a clear reason.
            get(signin::federated::callback_route).post(signin::federated::acs_route).layer(axum::extract::DefaultBodyLimit::max(signin::federated::MAX_ACS_BODY)),
        )
        .route("/auth/{provider}/metadata", get(signin::federated::metadata_route))
        .route("/auth/{provider}/complete", get(signin::saml_complete::complete_route))
        .route("/auth/{provider}/slo", get(signout::saml::slo_route))
        .route("/auth/{provider}/backchannel-logout", post(signout::oidc::backchannel))
        .route("/setup", get(signin::setup::setup_page).post(signin::setup::setup_submit))
        .route("/invite", get(signin::invite::invite_page).post(signin::invite::invite_submit))
        .merge(authserver::router())
        .nest("/api/v1", api::router().fallback(api_not_found))
        .nest("/crewai_plus/api/v1", compat::router())
        // SCIM clients send `application/scim+json` bodies, a user with many
        // attributes well under the general limit.
        .nest("/scim/v2", scim::router())
        .fallback(not_found)
        // Per route, since it reads the route template the router matched.
        .layer(axum::middleware::from_fn(telemetry::track_requests))
        .with_state(state.clone());
    // The rest wraps the router once, not every route: `Router::layer`
    // re-boxes each route per layer, and those boxes (cloned on every
    // request) were a visible part of the kickoff proxy's allocations.
    // Outermost first.
    let edge = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(request_id::TrustIncoming(state.config.trust_x_forwarded_for), request_id::middleware))
        .map_response(move |mut resp: axum::response::Response| {
            security_headers(resp.headers_mut(), hsts.as_ref());
            resp
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .map_response(move |resp: axum::response::Response| database_status::watch(&state, resp))
        .service(routes);
    Router::new().fallback_service(edge)
}

/// The headers every answer carries unless its handler set its own.
fn security_headers(h: &mut axum::http::HeaderMap, hsts: Option<&HeaderValue>) {
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // `same-origin`, not `no-referrer`: with no-referrer, browsers send
        // `Origin: null` on form posts, which the CSRF origin check refuses.
        (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    for (name, value) in defaults {
        h.entry(name).or_insert(value);
    }
    if let Some(v) = hsts {
        h.entry(header::STRICT_TRANSPORT_SECURITY).or_insert_with(|| v.clone());
    }
}

async fn healthz() -> &'static str {
    "ok"
}

/// What `/readyz` may overlook (`?tolerate=database`).
#[derive(serde::Deserialize)]
struct ReadyQuery {
    tolerate: Option<String>,
}

/// Ready when the database answers and every identity provider has been
/// discovered; otherwise 503 naming what is missing. The body always gives
/// the database's state. With `?tolerate=database` an unreachable database
/// alone does not make it 503: a readiness probe for several replicas, so
/// that an outage of the shared database does not take every replica out
/// of the load balancer at once (they keep answering what their caches
/// can, and a clear 503 for the rest). A replica cannot start without its
/// database, so this never admits one that never reached it.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>, axum::extract::Query(q): axum::extract::Query<ReadyQuery>) -> axum::response::Response {
    let database = match state.store.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            state.database.mark_down(state.store.clone());
            "unreachable"
        }
    };
    let mut ready = database == "ok" || q.tolerate.as_deref() == Some("database");
    let mut providers = serde_json::Map::new();
    // OpenID providers (discovery) and SAML providers (metadata) alike.
    let oidc = state.sso.all().iter().map(|p| (p.settings.provider, p.problem()));
    let saml = state.sso.all_saml().iter().map(|p| (p.settings.provider, p.problem()));
    for (name, problem) in oidc.chain(saml) {
        ready &= problem.is_none();
        let status = problem.map(|e| format!("unreachable: {e}")).unwrap_or_else(|| "ok".into());
        providers.insert(name.to_owned(), status.into());
    }
    let body = serde_json::json!({ "status": if ready { "ready" } else { "not ready" }, "database": database, "providers": providers });
    let status = if ready { error::Status::Ok } else { error::Status::Unavailable };
    status.with(axum::Json(body))
}

async fn api_not_found(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::new(error::Status::NotFound, "not_found", format!("no API endpoint at {}; see /api/v1/openapi.json", uri.path()))
}

async fn not_found() -> axum::response::Response {
    pages::message(error::Status::NotFound, "Not found", "There is no page at this address.", Some(("/", "Home")))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("secret key: {0}")]
    SecretKey(String),
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database: {0} (check DATABASE_URL and that the database server is running)")]
    Database(portcullis_storage::StoreError),
    #[error("SAML service provider: {0}")]
    Saml(String),
    #[error("PORTCULLIS_SECRET_KEY is not the key this database's secrets were sealed with ({0}); start with the key it was set up with, or during a rotation give the old one as PORTCULLIS_SECRET_KEY_PREVIOUS")]
    WrongKey(String),
}

/// Loads the secret key, opens and migrates the database. `created_key` is
/// set when a new key was written into the data directory.
pub async fn open(config: &Config) -> Result<(SqlStore, keys::Keys, crypto::Sealer, bool), StartError> {
    if matches!(config.secret_key, SecretKeySource::DataDir(_)) {
        create_private_dir(&config.data_dir)
            .map_err(|e| StartError::DataDir { path: config.data_dir.display().to_string(), source: e })?;
    }
    let (secret, created) = match &config.secret_key {
        SecretKeySource::Given(s) => (keys::decode_secret_key(s.expose_secret()).map_err(StartError::SecretKey)?, false),
        SecretKeySource::DataDir(path) => keys::load_or_create_key_file(path)
            .map_err(|e| StartError::SecretKey(format!("{}: {e}", path.display())))?,
    };
    let url = config.database_url.expose_secret();
    if url.starts_with("sqlite:") {
        create_private_dir(&config.data_dir)
            .map_err(|e| StartError::DataDir { path: config.data_dir.display().to_string(), source: e })?;
    }
    let store = SqlStore::connect(url, config.db_max_connections).await.map_err(StartError::Database)?;
    store.migrate().await.map_err(StartError::Database)?;
    let previous = match &config.previous_secret_key {
        Some(p) => Some(keys::decode_secret_key(p.expose_secret()).map_err(StartError::SecretKey)?),
        None => None,
    };
    let sealer = crypto::Sealer::new(&secret, previous.as_deref());
    check_key(&store, &sealer).await?;
    Ok((store, keys::Keys::derive(&secret), sealer, created))
}

/// Detects a wrong secret key at start-up: the database keeps a known value
/// sealed with the key it was set up with (or last rotated to).
pub async fn check_key(store: &SqlStore, sealer: &crypto::Sealer) -> Result<(), StartError> {
    use portcullis_storage::EnvStore;
    let fresh = sealer.seal(crypto::KEY_CHECK, crypto::KEY_CHECK_AAD);
    let stored = store.get_or_create_key_check(&fresh).await.map_err(StartError::Database)?;
    match sealer.open(&stored, crypto::KEY_CHECK_AAD) {
        Ok(v) if v == crypto::KEY_CHECK => Ok(()),
        Ok(_) => Err(StartError::WrongKey("the key check value is corrupt".into())),
        Err(e) => Err(StartError::WrongKey(e.to_string())),
    }
}

/// Creates the data directory readable by its owner only (it holds the
/// database and the secret key); an existing one is left as the operator made it.
fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// Everything [`app`] needs, from a configuration.
pub async fn start(config: Config) -> Result<(AppState, bootstrap::Bootstrap, bool), StartError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// [`start`], with the clock injected (tests drive a manual one).
pub async fn start_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<(AppState, bootstrap::Bootstrap, bool), StartError> {
    let (state, created_key) = state_only(config, clock).await?;
    let boot = bootstrap::run(&state).await.map_err(StartError::Database)?;
    match upstream_policy::bind_legacy_tokens(state.store.as_ref(), &state.sealer).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(tokens = n, "automation tokens bound to their upstream origin"),
        Err(e) => return Err(StartError::Database(e)),
    }
    // Replicas on one PostgreSQL tell each other what to forget.
    invalidation::spawn(state.clone()).await.map_err(StartError::Database)?;
    // Only a serving server reads its providers' metadata (a maintenance
    // command such as `secrets rotate-key` has no business calling them).
    state.sso.spawn_discovery();
    Ok((state, boot, created_key))
}

/// The state without the first-start bootstrap (for maintenance commands
/// such as `secrets rotate-key`, which must not create anything).
pub async fn state_only(config: Config, clock: Arc<dyn Clock>) -> Result<(AppState, bool), StartError> {
    let (store, keys, sealer, created_key) = open(&config).await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let state = AppState::try_new(config, store, clock, keys, sealer).map_err(StartError::Saml)?;
    Ok((state, created_key))
}

/// Deletes sessions that ended more than a day ago, every hour.
pub fn spawn_housekeeping(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = state.clock.now().minus(std::time::Duration::from_secs(86400));
            match state.store.purge_sessions(cutoff).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "removed ended sessions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "session housekeeping failed"),
            }
            if let Err(e) = state.store.purge_used_once(state.clock.now()).await {
                tracing::warn!(error = %e, "one-time value housekeeping failed");
            }
            if let Err(e) = state.store.purge_limits(cutoff).await {
                tracing::warn!(error = %e, "sign-in check and rate limit housekeeping failed");
            }
            if let Err(e) = state.store.purge_oauth(state.clock.now()).await {
                tracing::warn!(error = %e, "device code and refresh token housekeeping failed");
            }
            authserver::rotate_keys_if_due(&state).await;
        }
    });
}
