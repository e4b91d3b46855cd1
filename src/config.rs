//! Configuration resolved from the command line and environment (see `cli`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{AuthArgs, GlobalArgs, ServeArgs};
use crate::db::{DatabaseUrl, PoolSettings};
use crate::secrets::{self, AppEnv, SecretError};

#[derive(Debug, Clone)]
pub struct Config {
    pub app_env: AppEnv,
    pub database_url: DatabaseUrl,
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    pub workers: usize,
    pub pool: PoolSettings,
    pub body_limit_bytes: usize,
    pub import_limit_bytes: usize,
    pub shutdown_timeout: Duration,
    pub auth: AuthConfig,
    pub keys: FieldKeys,
}

/// The keys that protect resident data at rest.
#[derive(Debug, Clone)]
pub struct FieldKeys {
    pub encryption: Secret,
    pub blind_index: Secret,
}

impl FieldKeys {
    pub fn resolve(global: &GlobalArgs) -> Result<Self, SecretError> {
        let load = |name, value: &Option<String>| {
            secrets::load(name, value.as_deref(), global.app_env, &global.data_dir).map(Secret)
        };
        Ok(FieldKeys {
            encryption: load("FIELD_ENCRYPTION_KEY", &global.field_encryption_key)?,
            blind_index: load("BLIND_INDEX_KEY", &global.blind_index_key)?,
        })
    }
}

/// Bytes that must not be printed: `Debug` shows only their length.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret([{} bytes redacted])", self.0.len())
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: Secret,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl: Duration,
    pub login_max_failures: i32,
    pub login_lockout: Duration,
    pub login_rate_limit: u32,
    pub login_rate_window: Duration,
    pub trust_forwarded_for: bool,
}

impl AuthConfig {
    /// The defaults of the command line, with the given signing secret.
    pub fn with_secret(jwt_secret: Vec<u8>) -> Self {
        AuthConfig {
            jwt_secret: Secret(jwt_secret),
            access_token_ttl_secs: 900,
            refresh_token_ttl: Duration::from_secs(43_200),
            login_max_failures: 5,
            login_lockout: Duration::from_secs(900),
            login_rate_limit: 20,
            login_rate_window: Duration::from_secs(60),
            trust_forwarded_for: false,
        }
    }

    fn resolve(args: &AuthArgs, global: &GlobalArgs) -> Result<Self, SecretError> {
        let secret = secrets::load(
            "JWT_SECRET",
            args.jwt_secret.as_deref(),
            global.app_env,
            &global.data_dir,
        )?;
        Ok(AuthConfig {
            jwt_secret: Secret(secret),
            access_token_ttl_secs: args.access_token_ttl_secs,
            refresh_token_ttl: Duration::from_secs(args.refresh_token_ttl_secs as u64),
            login_max_failures: args.login_max_failures,
            login_lockout: Duration::from_secs(args.login_lockout_secs as u64),
            login_rate_limit: args.login_rate_limit,
            login_rate_window: Duration::from_secs(args.login_rate_window_secs),
            trust_forwarded_for: args.trust_forwarded_for,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL: {0}")]
    DatabaseUrl(#[from] crate::db::url::DatabaseUrlError),
    #[error(transparent)]
    Secret(#[from] SecretError),
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
            app_env: global.app_env,
            database_url: Self::database_url(global)?,
            data_dir: global.data_dir.clone(),
            bind: serve.bind,
            workers: serve.workers,
            pool: PoolSettings {
                max_size: serve.pool.db_pool_size,
                checkout_timeout: Duration::from_millis(serve.pool.db_pool_timeout_ms),
            },
            body_limit_bytes: serve.body_limit_bytes,
            import_limit_bytes: serve.import_limit_bytes,
            shutdown_timeout: Duration::from_secs(serve.shutdown_timeout_secs),
            auth: AuthConfig::resolve(&serve.auth, global)?,
            keys: FieldKeys::resolve(global)?,
        })
    }
}
