//! Configuration resolved from the command line and environment (see `cli`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::audit::batch::ReadAuditConfig;
use crate::auth::rate_limit::RouteLimitConfig;
use crate::cli::{AuthArgs, GlobalArgs, ServeArgs};
use crate::db::{DatabaseUrl, PoolSettings};
use crate::http::client_address::TrustedProxies;
use crate::secrets::{self, AppEnv, Secret, SecretError};

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
    /// How long clients may take to send and to receive (slow clients, `408`).
    pub client_timeouts: ClientTimeouts,
    /// `METRICS_BIND`: serve `/metrics` on this address alone.
    pub metrics_bind: Option<SocketAddr>,
    /// `CERTIFICATE_EXPIRING_DAYS`: a certificate this close to its `valid_until` is shown as
    /// expiring.
    pub certificate_expiring_days: u32,
    /// `DEFAULT_LANGUAGE`: the language of messages when `Accept-Language` names none the
    /// service speaks.
    pub default_language: crate::messages::Lang,
    pub shutdown_timeout: Duration,
    pub auth: AuthConfig,
    pub keys: FieldKeys,
    pub reports: ReportConfig,
    pub storage: StorageConfig,
}

/// How long a client may take, so a slow one cannot hold a connection for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// `CLIENT_REQUEST_TIMEOUT_MS`: to send a request's head.
    pub request_head: Duration,
    /// `BODY_READ_TIMEOUT_SECS`: to send a request's whole body.
    pub body: Duration,
    /// `KEEP_ALIVE_SECS`: an idle connection stays open (zero: closed after each answer).
    pub keep_alive: Duration,
    /// `CLIENT_DISCONNECT_TIMEOUT_MS`: to take an answer's last bytes once the connection
    /// closes.
    pub disconnect: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        ClientTimeouts {
            request_head: Duration::from_secs(5),
            body: Duration::from_secs(60),
            keep_alive: Duration::from_secs(5),
            disconnect: Duration::from_secs(1),
        }
    }
}

/// Who migrates, and what anchors the audit trail outside the database.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// The tables' owner, used only to apply migrations; `None`: the service's own URL.
    pub migration_database_url: Option<DatabaseUrl>,
    /// A head of the audit trail exported earlier (`AUDIT_CHECKPOINT`), which it must still hold.
    pub audit_checkpoint: Option<crate::audit_checkpoint::Checkpoint>,
    /// How often the service checkpoints the trail's head into `DATA_DIR/audit-checkpoint`.
    pub audit_checkpoint_interval: Duration,
    /// The writer that appends the events of reads in shared transactions.
    pub read_audit: ReadAuditConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            migration_database_url: None,
            audit_checkpoint: None,
            audit_checkpoint_interval: Duration::from_secs(60),
            read_audit: ReadAuditConfig::default(),
        }
    }
}

/// What the reports an auditor takes away may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportConfig {
    /// A town's figure about fewer residents than this is suppressed in every exported file
    /// (CSV, XLSX, HTML), so nobody can be singled out; 0 or 1 shows every figure.
    pub suppress_below: i64,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig { suppress_below: 5 }
    }
}

impl ReportConfig {
    /// The environment variable of [`ReportConfig::suppress_below`].
    pub const SUPPRESS_BELOW: &'static str = "REPORT_SUPPRESS_BELOW";

    /// Reads `REPORT_SUPPRESS_BELOW` (0 to 1000, default 5).
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(Self::SUPPRESS_BELOW) {
            Err(_) => Ok(ReportConfig::default()),
            Ok(text) => Self::parse(&text),
        }
    }

    fn parse(text: &str) -> Result<Self, ConfigError> {
        text.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=1000).contains(n))
            .map(|suppress_below| ReportConfig { suppress_below })
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "{}: a whole number from 0 to 1000, not {text:?}",
                    Self::SUPPRESS_BELOW
                ))
            })
    }
}

/// The keys that protect resident data at rest, and the audit trail's key.
#[derive(Debug, Clone)]
pub struct FieldKeys {
    pub encryption: Secret,
    pub blind_index: Secret,
    /// `AUDIT_CHAIN_KEY`: the MACs of the audit events and checkpoints
    /// ([`crate::audit::anchor`]), which the database must not hold.
    pub audit_chain: Secret,
}

impl FieldKeys {
    pub fn resolve(global: &GlobalArgs) -> Result<Self, SecretError> {
        let load = |name, value: &Option<String>| {
            secrets::load(name, value.as_deref(), global.app_env, &global.data_dir).map(Secret)
        };
        Ok(FieldKeys {
            encryption: load("FIELD_ENCRYPTION_KEY", &global.field_encryption_key)?,
            blind_index: load("BLIND_INDEX_KEY", &global.blind_index_key)?,
            audit_chain: load("AUDIT_CHAIN_KEY", &global.audit_chain_key)?,
        })
    }

    /// Makes the audit key the one this process appends and verifies with.
    pub fn install_audit_key(&self) {
        crate::audit::anchor::install(&self.audit_chain.0);
    }

    /// Loads `AUDIT_CHAIN_KEY` alone and installs it, for commands that need no other key.
    pub fn install_audit_key_only(global: &GlobalArgs) -> Result<(), SecretError> {
        let key = secrets::load(
            "AUDIT_CHAIN_KEY",
            global.audit_chain_key.as_deref(),
            global.app_env,
            &global.data_dir,
        )?;
        crate::audit::anchor::install(&key);
        Ok(())
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
    /// `TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For` hops are believed.
    pub trusted_proxies: TrustedProxies,
    /// `SESSION_CACHE_SECS`: how long a session's lookup may be reused (zero: never).
    pub session_cache: Duration,
    /// `CORS_ALLOWED_ORIGINS`: the browser clients' origins that may call the API.
    pub cors_allowed_origins: Vec<String>,
    /// ID-number probes (lookups, answers of a file in another town) per user and window.
    pub id_probe_limit: u32,
    pub id_probe_window: Duration,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Secret>,
    /// The allowances of the expensive routes per principal.
    pub route_limits: RouteLimitConfig,
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
            trusted_proxies: TrustedProxies::default(),
            session_cache: Duration::from_secs(5),
            cors_allowed_origins: Vec::new(),
            id_probe_limit: 100,
            id_probe_window: Duration::from_secs(600),
            metrics_token: None,
            route_limits: RouteLimitConfig::default(),
        }
    }

    fn resolve(args: &AuthArgs, global: &GlobalArgs) -> Result<Self, ConfigError> {
        // Removed, not ignored: a deployment that relied on it must learn what replaces it.
        if let Some(value) = args.trust_forwarded_for.as_deref() {
            if value.trim() != "false" && !value.trim().is_empty() {
                return Err(ConfigError::Invalid(
                    "TRUST_FORWARDED_FOR (--trust-forwarded-for) is no longer supported: it \
                     took the client address from the first X-Forwarded-For hop, which the \
                     client writes. Set TRUSTED_PROXIES (--trusted-proxies) to the addresses of \
                     your reverse proxies instead, comma-separated IPs or CIDRs (e.g. \
                     TRUSTED_PROXIES=10.0.0.2 or 10.0.0.0/24), and remove TRUST_FORWARDED_FOR"
                        .to_owned(),
                ));
            }
        }
        let trusted_proxies =
            TrustedProxies::parse(args.trusted_proxies.as_deref().unwrap_or_default())
                .map_err(|e| ConfigError::Invalid(format!("TRUSTED_PROXIES: {e}")))?;
        let cors_allowed_origins = crate::http::cors::parse_origins(
            args.cors_allowed_origins.as_deref().unwrap_or_default(),
        )
        .map_err(|e| ConfigError::Invalid(format!("CORS_ALLOWED_ORIGINS: {e}")))?;
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
            trusted_proxies,
            session_cache: Duration::from_secs(args.session_cache_secs),
            cors_allowed_origins,
            id_probe_limit: args.id_probe_limit,
            id_probe_window: Duration::from_secs(args.id_probe_window_secs),
            metrics_token: match args.metrics_token.as_deref().filter(|t| !t.is_empty()) {
                // Checked like every other secret (length, randomness); never generated.
                Some(token) => Some(Secret(secrets::load(
                    "METRICS_TOKEN",
                    Some(token),
                    global.app_env,
                    &global.data_dir,
                )?)),
                None => None,
            },
            route_limits: RouteLimitConfig {
                search: args.search_rate_limit,
                import: args.import_rate_limit,
                report: args.report_rate_limit,
                window: Duration::from_secs(args.expensive_rate_window_secs),
            },
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL: {0}")]
    DatabaseUrl(#[from] crate::db::url::DatabaseUrlError),
    #[error("MIGRATION_DATABASE_URL: {0}")]
    MigrationDatabaseUrl(crate::db::url::DatabaseUrlError),
    #[error("AUDIT_CHECKPOINT: {0}")]
    AuditCheckpoint(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub fn database_url(global: &GlobalArgs) -> Result<DatabaseUrl, ConfigError> {
        let raw = match &global.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", global.data_dir.join("registry.db").display()),
        };
        Ok(DatabaseUrl::parse(&raw)?)
    }

    /// Where migrations run: `MIGRATION_DATABASE_URL`, else the service's own database.
    pub fn migration_database_url(global: &GlobalArgs) -> Result<DatabaseUrl, ConfigError> {
        match global
            .migration_database_url
            .as_deref()
            .filter(|u| !u.is_empty())
        {
            Some(raw) => DatabaseUrl::parse(raw).map_err(ConfigError::MigrationDatabaseUrl),
            None => Self::database_url(global),
        }
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
                statement_timeout: Some(serve.pool.db_statement_timeout_ms)
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis),
            },
            body_limit_bytes: serve.body_limit_bytes,
            certificate_expiring_days: serve.certificate_expiring_days,
            default_language: serve.default_language,
            import_limit_bytes: serve.import_limit_bytes,
            client_timeouts: ClientTimeouts {
                request_head: Duration::from_millis(serve.client_request_timeout_ms),
                body: Duration::from_secs(serve.body_read_timeout_secs),
                keep_alive: Duration::from_secs(serve.keep_alive_secs),
                disconnect: Duration::from_millis(serve.client_disconnect_timeout_ms),
            },
            metrics_bind: serve.metrics_bind,
            shutdown_timeout: Duration::from_secs(serve.shutdown_timeout_secs),
            auth: AuthConfig::resolve(&serve.auth, global)?,
            keys: FieldKeys::resolve(global)?,
            reports: ReportConfig::from_env()?,
            storage: StorageConfig {
                migration_database_url: Some(Self::migration_database_url(global)?),
                audit_checkpoint: serve
                    .audit_checkpoint
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .map(crate::audit_checkpoint::Checkpoint::parse)
                    .transpose()
                    .map_err(ConfigError::AuditCheckpoint)?,
                audit_checkpoint_interval: Duration::from_secs(
                    serve.audit_checkpoint_interval_secs,
                ),
                read_audit: ReadAuditConfig {
                    queue_capacity: serve.read_audit_queue as usize,
                    max_batch: serve.read_audit_max_batch as usize,
                    queue_wait: Duration::from_millis(serve.read_audit_queue_wait_ms.into()),
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suppression_threshold_is_a_small_whole_number() {
        assert_eq!(ReportConfig::default().suppress_below, 5);
        assert_eq!(ReportConfig::parse(" 10 ").unwrap().suppress_below, 10);
        assert_eq!(ReportConfig::parse("0").unwrap().suppress_below, 0);
        assert!(ReportConfig::parse("-1").is_err());
        assert!(ReportConfig::parse("1001").is_err());
        assert!(ReportConfig::parse("five").is_err());
    }
}
