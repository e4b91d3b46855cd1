//! Wiring: connect, migrate, build the state and the app, run the server; and the commands
//! that run without a server (`create-admin`, imports).

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};

use crate::api::extract::{BodyLimit, BodyTimeout, ImportLimit};
use crate::api::{self};
use crate::auth::guard::{authorize, RoutePolicies};
use crate::auth::rate_limit::{RateLimiter, RouteLimits};
use crate::auth::refusals::{KeyKind, RefusalLog};
use crate::auth::session_cache::SessionCache;
use crate::auth::sessions::LoginPolicy;
use crate::auth::settings::{flush_refusals, AuthSettings};
use crate::auth::token::TokenKeys;
use crate::config::{Config, FieldKeys};
use crate::db::{self, migrate, Pool};
use crate::error::AppError;
use crate::http::{metrics::Metrics, observe::observe};
use crate::protect::Protector;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Connect(#[from] db::ConnectError),
    #[error("database migrations failed: {0}")]
    Migrate(migrate::MigrationError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
    #[error("cannot create or secure the data folder {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Applies pending migrations over one direct connection and reports what was applied.
pub fn migrate_only(url: &db::DatabaseUrl) -> Result<Vec<String>, StartError> {
    let manager = db::ConnectionManager::new(url.clone());
    let mut conn = manager.establish()?;
    migrate::run_pending(&mut conn).map_err(StartError::Migrate)
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Refused(String),
}

/// `create-admin`: migrates (over `migration_url`, the tables' owner), checks the password
/// policy, then creates or resets the admin.
pub fn create_admin(
    url: &db::DatabaseUrl,
    migration_url: &db::DatabaseUrl,
    username: &str,
    password: &str,
) -> Result<&'static str, CommandError> {
    let refused = |e: AppError| CommandError::Refused(describe(&e));
    let username =
        crate::use_cases::accounts::check_new_credentials(username, password).map_err(refused)?;
    migrate_only(migration_url)?;
    let password_hash = crate::auth::password::hash(password);
    let mut conn = db::ConnectionManager::new(url.clone())
        .establish()
        .map_err(StartError::from)?;
    crate::use_cases::accounts::create_or_reset_admin(&mut conn, &username, password_hash)
        .map_err(refused)
}

/// `import residents FILE`: imports a CSV file or a workbook as the command line, with every
/// town in scope.
pub fn import_residents(
    url: &db::DatabaseUrl,
    migration_url: &db::DatabaseUrl,
    keys: &FieldKeys,
    bytes: &[u8],
    format: crate::csv_file::SheetFormat,
) -> Result<crate::use_cases::residents::import::ImportReport, CommandError> {
    let refused = |e: AppError| CommandError::Refused(describe(&e));
    keys.install_audit_key();
    migrate_only(migration_url)?;
    let mut conn = db::ConnectionManager::new(url.clone())
        .establish()
        .map_err(StartError::from)?;
    let protector = Protector::new(&keys.encryption.0, &keys.blind_index.0);
    let ctx = command_line_context();
    let who = crate::access::Requester {
        audit: &ctx,
        recorder: &crate::audit::batch::Recorder::direct(),
        scope: &crate::domain::role::Scope::All,
        protector: &protector,
        today: crate::domain::today(),
        // An import shows no certificate.
        certificate_expiring_days: crate::domain::certificate::DEFAULT_EXPIRING_WITHIN_DAYS,
    };
    crate::use_cases::residents::import::import(&mut conn, &who, bytes, format).map_err(refused)
}

/// `import areas FILE`: adds villages as the command line.
pub fn import_villages(
    url: &db::DatabaseUrl,
    migration_url: &db::DatabaseUrl,
    bytes: &[u8],
) -> Result<crate::use_cases::areas::VillageImportReport, CommandError> {
    let refused = |e: AppError| CommandError::Refused(describe(&e));
    migrate_only(migration_url)?;
    let mut conn = db::ConnectionManager::new(url.clone())
        .establish()
        .map_err(StartError::from)?;
    let ctx = command_line_context();
    crate::use_cases::areas::import_villages(&mut conn, &ctx, bytes).map_err(refused)
}

/// The audit context of what the command line does.
fn command_line_context() -> crate::audit::AuditContext {
    crate::audit::AuditContext {
        actor: crate::audit::Actor {
            username: Some("(command line)".to_owned()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// An error in words for the command line.
fn describe(error: &AppError) -> String {
    match error {
        AppError::Validation(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        AppError::Conflict { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
}

/// Connects, migrates and returns the state the app runs on.
pub fn prepare(config: Config) -> Result<AppState, StartError> {
    config.keys.install_audit_key();
    // Migrations run as the tables' owner when one is configured; the service itself may be
    // a role that cannot change the schema (then nothing may be pending).
    let migration_url = config
        .storage
        .migration_database_url
        .as_ref()
        .unwrap_or(&config.database_url);
    let applied = migrate_only(migration_url)?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied database migrations");
    }
    crate::files::secure_data_dir(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let pool = db::connect_pool(&config.database_url, &config.pool)?;
    let recorder =
        crate::audit::batch::Recorder::start(&config.database_url, config.storage.read_audit)?;
    warn_if_no_users(&pool);
    if let Ok(mut conn) = db::checkout(&pool) {
        if let Err(error) = crate::audit::anchor::sign_start(&mut conn) {
            tracing::warn!(%error, "the start of the keyed audit chain could not be signed");
        }
        crate::audit_checkpoint::advance_and_log(&mut conn, &config.data_dir);
        catch_up_indicator_facts(&mut conn);
        // This build may render files otherwise than the one that kept them.
        if let Err(error) = db::file_views::forget_all(&mut conn) {
            tracing::warn!(%error, "could not forget the files kept rendered");
        }
    }
    Ok(AppState {
        auth: Arc::new(auth_settings(&config)),
        protector: Arc::new(Protector::new(
            &config.keys.encryption.0,
            &config.keys.blind_index.0,
        )),
        integration: Arc::new(crate::use_cases::integration::Integration::from_env()),
        recorder,
        pool,
        config: Arc::new(config),
        metrics: Arc::new(Metrics::default()),
    })
}

/// Brings the indicators' per-resident values up to date before the first report (after a
/// migration that made them all stale, or a change made outside the service). A failure is
/// logged, not fatal: reports read stale residents from their tables all the same.
fn catch_up_indicator_facts(conn: &mut db::DbConn) {
    let started = std::time::Instant::now();
    match db::catch_up_facts(conn) {
        Ok(0) => {}
        Ok(residents) => tracing::info!(
            residents,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "rewrote the indicator facts of stale residents"
        ),
        Err(error) => tracing::warn!(%error, "could not rewrite the stale indicator facts"),
    }
}

fn auth_settings(config: &Config) -> AuthSettings {
    let auth = &config.auth;
    let chrono_duration = |d: std::time::Duration| chrono::Duration::seconds(d.as_secs() as i64);
    AuthSettings {
        keys: TokenKeys::new(&auth.jwt_secret.0, auth.access_token_ttl_secs),
        login: LoginPolicy {
            max_failures: auth.login_max_failures,
            lockout: chrono_duration(auth.login_lockout),
            refresh_ttl: chrono_duration(auth.refresh_token_ttl),
        },
        login_limiter: RateLimiter::new(auth.login_rate_limit as usize, auth.login_rate_window),
        login_refusals: RefusalLog::new(
            auth.login_rate_window,
            crate::audit::Action::LoginRateLimited,
            KeyKind::Address,
        ),
        id_probes: RateLimiter::new(auth.id_probe_limit as usize, auth.id_probe_window),
        id_probe_refusals: RefusalLog::new(
            auth.id_probe_window,
            crate::audit::Action::IdProbeRateLimited,
            KeyKind::User,
        ),
        route_limits: RouteLimits::new(&auth.route_limits),
        metrics_token: auth.metrics_token.clone(),
        trusted_proxies: auth.trusted_proxies.clone(),
        sessions: SessionCache::new(auth.session_cache),
    }
}

/// On a first start nobody can sign in: say how to make the first admin.
fn warn_if_no_users(pool: &Pool) {
    let count = pool
        .get()
        .ok()
        .and_then(|mut conn| db::users::count(&mut conn).ok());
    if count == Some(0) {
        tracing::warn!(
            "no user accounts yet; create the first admin with: \
             fenghua-registry create-admin --username <name> --password-stdin"
        );
    }
}

/// The application: used by the server and, in-process, by the tests.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = BodyLimit(state.config.body_limit_bytes);
    let import_limit = ImportLimit(state.config.import_limit_bytes);
    let body_timeout = BodyTimeout(state.config.client_timeouts.body);
    let default_language = state.config.default_language;
    let cors_origins = state.config.auth.cors_allowed_origins.clone();
    let policies = RoutePolicies::new(
        api::endpoints()
            .into_iter()
            .map(|e| (e.method, e.path, e.access, e.expensive)),
    );
    App::new()
        .app_data(web::Data::new(Arc::new(policies)))
        .app_data(web::Data::new(state))
        .app_data(body_limit)
        .app_data(import_limit)
        .app_data(body_timeout)
        .app_data(crate::messages::DefaultLanguage(default_language))
        .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|_, _| {
            AppError::bad_request("invalid_query", "the query string cannot be read").into()
        }))
        .wrap(from_fn(authorize))
        // Outside the access check: a preflight carries no token and is answered here.
        .wrap(Condition::new(
            !cors_origins.is_empty(),
            crate::http::cors::middleware(&cors_origins),
        ))
        .wrap(from_fn(crate::http::cors::refused_preflight_as_problem))
        .wrap(from_fn(observe))
        // Outermost: every answer, refusals of the middlewares above included, is rendered in
        // the request's language.
        .wrap(from_fn(crate::messages::negotiate))
        .configure(api::configure)
        .default_service(web::to(api::not_found))
}

/// How often the counts of refused attempts whose window has ended are written.
const REFUSALS_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// Beside the server: writes the counts of refused attempts as their windows end, and moves the
/// audit checkpoint on every `AUDIT_CHECKPOINT_INTERVAL_SECS`.
async fn housekeeping(state: AppState) {
    let interval = state.config.storage.audit_checkpoint_interval;
    let mut ticks = actix_web::rt::time::interval(REFUSALS_FLUSH);
    let mut last_checkpoint = std::time::Instant::now();
    loop {
        ticks.tick().await;
        if let Err(error) = flush_refusals(&state.auth, &state.pool, false).await {
            tracing::warn!(%error, "the counts of refused attempts could not be written yet");
        }
        if last_checkpoint.elapsed() >= interval {
            last_checkpoint = std::time::Instant::now();
            checkpoint(&state).await;
        }
    }
}

async fn checkpoint(state: &AppState) {
    let data_dir = state.config.data_dir.clone();
    let _ = db::run(&state.pool, move |conn| {
        crate::audit_checkpoint::advance_and_log(conn, &data_dir);
        Ok(())
    })
    .await;
}

/// At shutdown: every open count of refusals is written, and the head checkpointed.
async fn final_housekeeping(state: &AppState) {
    if let Err(error) = flush_refusals(&state.auth, &state.pool, true).await {
        tracing::warn!(%error, "the counts of refused attempts could not be written");
    }
    checkpoint(state).await;
}

/// The app that serves `/metrics` alone on `METRICS_BIND`.
pub fn metrics_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .app_data(api::MetricsListener)
        .route("/metrics", web::get().to(api::metrics))
        .default_service(web::to(api::not_found))
}

/// Runs the HTTP server until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(state: AppState) -> Result<(), StartError> {
    let config = state.config.clone();
    let timeouts = config.client_timeouts;
    let mut server = HttpServer::new({
        let state = state.clone();
        move || app(state.clone())
    })
    .shutdown_timeout(config.shutdown_timeout.as_secs())
    // A slow client cannot hold a connection: its head must arrive within
    // CLIENT_REQUEST_TIMEOUT_MS (else 408 and closed), its body within BODY_READ_TIMEOUT_SECS
    // (`api::extract`), an idle connection closes after KEEP_ALIVE_SECS.
    .client_request_timeout(timeouts.request_head)
    .client_disconnect_timeout(timeouts.disconnect)
    .keep_alive(if timeouts.keep_alive.is_zero() {
        actix_web::http::KeepAlive::Disabled
    } else {
        actix_web::http::KeepAlive::Timeout(timeouts.keep_alive)
    });
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server
        .bind(config.bind)
        .map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
    for addr in server.addrs() {
        tracing::info!(%addr, database = %config.database_url.redacted(), "listening");
    }
    let metrics_server = match config.metrics_bind {
        None => None,
        Some(addr) => {
            let server = HttpServer::new({
                let state = state.clone();
                move || metrics_app(state.clone())
            })
            .workers(1)
            .shutdown_timeout(1)
            .client_request_timeout(timeouts.request_head)
            .client_disconnect_timeout(timeouts.disconnect)
            .bind(addr)
            .map_err(|source| StartError::Bind { addr, source })?;
            for addr in server.addrs() {
                tracing::info!(%addr, "serving /metrics");
            }
            let server = server.run();
            let handle = server.handle();
            actix_web::rt::spawn(server);
            Some(handle)
        }
    };
    // The webhook worker delivers the outbox beside the server and stops after it; set
    // WEBHOOK_WORKER=off on instances that should not deliver.
    let worker = (std::env::var("WEBHOOK_WORKER").as_deref() != Ok("off")).then(|| {
        crate::use_cases::integration::worker::WebhookWorker::start(
            state.pool.clone(),
            state.protector.clone(),
            crate::use_cases::integration::worker::WorkerSettings::from_env(),
        )
    });
    let housekeeping = actix_web::rt::spawn(housekeeping(state.clone()));
    let served = server.run().await.map_err(StartError::Serve);
    if let Some(metrics_server) = metrics_server {
        metrics_server.stop(true).await;
    }
    if let Some(worker) = worker {
        actix_web::web::block(move || worker.stop()).await.ok();
    }
    housekeeping.abort();
    final_housekeeping(&state).await;
    served?;
    tracing::info!("stopped");
    Ok(())
}
