//! Wiring: connect, migrate, build the app, run the server.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::api::{self, extract::BodyLimit};
use crate::config::Config;
use crate::db::{self, migrate, Pool};
use crate::error::AppError;
use crate::http::{metrics::Metrics, observe::observe};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
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

/// Connects, migrates and returns the state the app runs on.
pub fn prepare(config: Config) -> Result<AppState, StartError> {
    let applied = migrate_only(&config.database_url)?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied database migrations");
    }
    let pool = db::connect_pool(&config.database_url, &config.pool)?;
    Ok(AppState {
        pool,
        config: Arc::new(config),
        metrics: Arc::new(Metrics::default()),
    })
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
    App::new()
        .app_data(web::Data::new(state))
        .app_data(body_limit)
        .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| AppError::bad_request("invalid_query", e.to_string()).into()),
        )
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
