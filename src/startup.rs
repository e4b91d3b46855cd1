//! Wiring: connect, migrate, build the app, run the server.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::api::extract::{BodyLimit, ImportLimit};
use crate::api::{self};
use crate::auth::guard::{authorize, AuthSettings, RoutePolicies};
use crate::auth::rate_limit::RateLimiter;
use crate::auth::sessions::LoginPolicy;
use crate::auth::token::TokenKeys;
use crate::config::{Config, FieldKeys};
use crate::db::{self, migrate, Pool};
use crate::error::AppError;
use crate::http::{metrics::Metrics, observe::observe};
use crate::protect::Protector;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<AuthSettings>,
    pub protector: Arc<Protector>,
}

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

/// `create-admin`: migrates, checks the password policy, then creates or resets the admin.
pub fn create_admin(
    url: &db::DatabaseUrl,
    username: &str,
    password: &str,
) -> Result<&'static str, CommandError> {
    let refused = |e: AppError| CommandError::Refused(describe(&e));
    let username = crate::accounts::check_new_credentials(username, password).map_err(refused)?;
    migrate_only(url)?;
    let password_hash = crate::auth::password::hash(password);
    let mut conn = db::ConnectionManager::new(url.clone())
        .establish()
        .map_err(StartError::from)?;
    crate::accounts::create_or_reset_admin(&mut conn, &username, password_hash).map_err(refused)
}

/// `import residents FILE`: imports as the command line, with every town in scope.
pub fn import_residents(
    url: &db::DatabaseUrl,
    keys: &FieldKeys,
    bytes: &[u8],
) -> Result<crate::residents::import::ImportReport, CommandError> {
    let refused = |e: AppError| CommandError::Refused(describe(&e));
    migrate_only(url)?;
    let mut conn = db::ConnectionManager::new(url.clone())
        .establish()
        .map_err(StartError::from)?;
    let protector = Protector::new(&keys.encryption.0, &keys.blind_index.0);
    let ctx = crate::audit::AuditContext {
        actor: crate::audit::Actor {
            username: Some("(command line)".to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    let who = crate::residents::Requester {
        audit: &ctx,
        scope: &crate::domain::role::Scope::All,
        protector: &protector,
        today: crate::domain::today(),
    };
    crate::residents::import::import(&mut conn, &who, bytes).map_err(refused)
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
    let applied = migrate_only(&config.database_url)?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied database migrations");
    }
    let pool = db::connect_pool(&config.database_url, &config.pool)?;
    warn_if_no_users(&pool);
    Ok(AppState {
        auth: Arc::new(auth_settings(&config)),
        protector: Arc::new(Protector::new(
            &config.keys.encryption.0,
            &config.keys.blind_index.0,
        )),
        pool,
        config: Arc::new(config),
        metrics: Arc::new(Metrics::default()),
    })
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
        trust_forwarded_for: auth.trust_forwarded_for,
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
    let policies = RoutePolicies::new(
        api::endpoints()
            .into_iter()
            .map(|e| (e.method, e.path, e.access)),
    );
    App::new()
        .app_data(web::Data::new(Arc::new(policies)))
        .app_data(web::Data::new(state))
        .app_data(body_limit)
        .app_data(import_limit)
        .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| AppError::bad_request("invalid_query", e.to_string()).into()),
        )
        .wrap(from_fn(authorize))
        .wrap(from_fn(observe))
        .configure(api::configure)
        .default_service(web::to(api::not_found))
}

/// Runs the HTTP server until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(state: AppState) -> Result<(), StartError> {
    let config = state.config.clone();
    let mut server = HttpServer::new({
        let state = state.clone();
        move || app(state.clone())
    })
    .shutdown_timeout(config.shutdown_timeout.as_secs());
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
    server.run().await.map_err(StartError::Serve)?;
    tracing::info!("stopped");
    Ok(())
}
