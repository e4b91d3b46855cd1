//! Configuration resolved from the command line and environment (see `cli`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::db::{DatabaseUrl, PoolSettings};

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    pub workers: usize,
    pub pool: PoolSettings,
    pub body_limit_bytes: usize,
    pub shutdown_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL: {0}")]
    DatabaseUrl(#[from] crate::db::url::DatabaseUrlError),
}

impl Config {
    pub fn database_url(global: &GlobalArgs) -> Result<DatabaseUrl, ConfigError> {
        let raw = match &global.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", global.data_dir.join("registry.db").display()),
        };
        Ok(DatabaseUrl::parse(&raw)?)
    }

    pub fn resolve(global: &GlobalArgs, serve: &ServeArgs) -> Result<Self, ConfigError> {
        Ok(Config {
            database_url: Self::database_url(global)?,
            data_dir: global.data_dir.clone(),
            bind: serve.bind,
            workers: serve.workers,
            pool: PoolSettings {
                max_size: serve.pool.db_pool_size,
                checkout_timeout: Duration::from_millis(serve.pool.db_pool_timeout_ms),
            },
            body_limit_bytes: serve.body_limit_bytes,
            shutdown_timeout: Duration::from_secs(serve.shutdown_timeout_secs),
        })
    }
}
