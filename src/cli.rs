//! The command line. Every option also reads an environment variable (shown by `--help`), so
//! a container is configured by environment alone.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::secrets::AppEnv;

#[derive(Debug, Parser)]
#[command(
    name = "fenghua-registry",
    version,
    about = "Fenghua District disability case registry (一人一档) and coverage indicators",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `serve`, the command run when none is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default). Applies pending migrations first.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import records from a file (see `import residents --help`).
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Fill the database with a synthetic district: demo data for demonstrations and
    /// benchmarks, never for a registry of real people.
    ///
    /// Writes N residents with valid ID numbers (encrypted with this installation's keys, so
    /// the server reads them), household status histories, certificates, subsidy grants,
    /// section records, home-modification cases and moves between towns, dated 2021 to
    /// 2026, plus villages for towns without any, facilities when there are none, and the GDP
    /// growth of 2021-2026. The synthetic records carry no audit events of their own (one
    /// `resident_import` event records the seeding). The same seed into an empty database
    /// gives the same district. Run it while the server is stopped or idle: it writes in
    /// large transactions, as the tables' owner (MIGRATION_DATABASE_URL, else DATABASE_URL).
    SeedDemo(SeedDemoArgs),
    /// Create an admin account, or reset its password, unlock and re-enable it. The password
    /// is read from standard input (one line), never from the command line.
    CreateAdmin {
        /// The admin's username.
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required: passwords do not belong in
        /// shell history or process lists).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database: `sqlite://path` (embedded, default `sqlite://<DATA_DIR>/registry.db`) or
    /// `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Folder of the embedded mode's database and generated keys.
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Log format: `human` for people, `json` for log collectors.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    /// `embedded` generates missing secrets into DATA_DIR/secrets; `production` requires them in
    /// the environment and refuses to start without them.
    #[arg(long, env = "APP_ENV", value_enum, default_value_t = AppEnv::Embedded, global = true)]
    pub app_env: AppEnv,

    /// Key that encrypts ID numbers and phone numbers at rest, at least 32 random bytes.
    /// Required in production; generated into DATA_DIR/secrets in the embedded mode. Back it up
    /// with the database: what it encrypted cannot be read without it.
    #[arg(
        long,
        env = "FIELD_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub field_encryption_key: Option<String>,

    /// Key of the blind index that finds a resident by ID number, at least 32 random bytes.
    /// Required in production; generated in the embedded mode. Back it up with the database.
    #[arg(long, env = "BLIND_INDEX_KEY", hide_env_values = true, global = true)]
    pub blind_index_key: Option<String>,

    /// Key of the audit trail's MACs and signed checkpoints, at least 32 random bytes. Keep it
    /// where the database is not (an insider who holds both can rewrite the trail). Required
    /// in production; generated in the embedded mode. Without it the trail cannot be verified.
    #[arg(long, env = "AUDIT_CHAIN_KEY", hide_env_values = true, global = true)]
    pub audit_chain_key: Option<String>,

    /// Database URL of the tables' owner, used only to apply migrations (`migrate`, and before
    /// `serve`, `create-admin` and `import`). Run the service itself as a role that does not
    /// own the tables (DATABASE_URL): it cannot drop, alter or truncate them. Default:
    /// DATABASE_URL.
    #[arg(
        long,
        env = "MIGRATION_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub migration_database_url: Option<String>,

    /// Log filter in tracing's syntax, for example `info` or `info,fenghua_registry=debug`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "WORKERS", default_value_t = 0)]
    pub workers: usize,

    #[command(flatten)]
    pub pool: PoolArgs,

    #[command(flatten)]
    pub auth: AuthArgs,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// Milliseconds a client may take to send a request's head (its line and headers),
    /// counted from the connection or from the end of the previous request; a slower one is
    /// answered 408 and closed.
    #[arg(long, env = "CLIENT_REQUEST_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub client_request_timeout_ms: u64,

    /// Seconds a request's body may take to arrive whole; a slower one is answered 408.
    #[arg(long, env = "BODY_READ_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub body_read_timeout_secs: u64,

    /// Seconds an idle keep-alive connection stays open (0: closed after each answer).
    #[arg(long, env = "KEEP_ALIVE_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub keep_alive_secs: u64,

    /// Milliseconds a client has to take the last bytes of an answer before the connection is
    /// dropped, once the service closes it.
    #[arg(long, env = "CLIENT_DISCONNECT_TIMEOUT_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub client_disconnect_timeout_ms: u64,

    /// A separate address for `/metrics` (e.g. 127.0.0.1:9090 on the monitoring network).
    /// When set, `/metrics` is served there alone, and the main address answers it 404.
    #[arg(long, env = "METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Largest CSV file an import accepts, in bytes.
    #[arg(long, env = "IMPORT_LIMIT_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub import_limit_bytes: usize,

    /// A certificate at most this many days before its valid_until is shown as `expiring`.
    #[arg(long, env = "CERTIFICATE_EXPIRING_DAYS",
          default_value_t = crate::domain::certificate::DEFAULT_EXPIRING_WITHIN_DAYS,
          value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub certificate_expiring_days: u32,

    /// The language of messages when a request's Accept-Language names none the service
    /// speaks: zh-CN (default) or en.
    #[arg(long, env = "DEFAULT_LANGUAGE", default_value = "zh-CN",
          value_parser = parse_language)]
    pub default_language: crate::messages::Lang,

    /// Seconds to let in-flight requests finish on SIGTERM or Ctrl-C.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// An audit trail head exported earlier, `SEQ:HASH`: the verification of the trail fails
    /// unless the event SEQ is still there with that hash.
    #[arg(long, env = "AUDIT_CHECKPOINT")]
    pub audit_checkpoint: Option<String>,

    /// Seconds between two checkpoints of the audit trail's head into
    /// DATA_DIR/audit-checkpoint (each after verifying the events since the last one).
    #[arg(long, env = "AUDIT_CHECKPOINT_INTERVAL_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub audit_checkpoint_interval_secs: u64,

    /// Audit events of reads waiting to be written at most. Reads queue their events for one
    /// writer that appends many in one transaction; a read is answered once its event is
    /// committed.
    #[arg(long, env = "READ_AUDIT_QUEUE", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub read_audit_queue: u32,

    /// Audit events of reads appended in one transaction at most.
    #[arg(long, env = "READ_AUDIT_MAX_BATCH", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub read_audit_max_batch: u32,

    /// Milliseconds a read waits for room in a full READ_AUDIT_QUEUE before answering 503 with
    /// Retry-After (never unaudited).
    #[arg(long, env = "READ_AUDIT_QUEUE_WAIT_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(0..=60_000))]
    pub read_audit_queue_wait_ms: u32,
}

#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Most database connections held open.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// Milliseconds a request waits for a free connection before answering 503.
    #[arg(long, env = "DB_POOL_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_pool_timeout_ms: u64,

    /// Milliseconds one statement of the service may run before it is stopped (PostgreSQL
    /// cancels it, SQLite interrupts it; the request answers 503); 0: no bound. Migrations and
    /// commands are not bounded.
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_MS", default_value_t = 60_000)]
    pub db_statement_timeout_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Secret that signs access tokens (HS256), at least 32 random bytes. Required in
    /// production; generated into DATA_DIR/secrets in the embedded mode.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(i64).range(30..=86_400))]
    pub access_token_ttl_secs: i64,

    /// Lifetime of a login session and its refresh tokens, in seconds.
    #[arg(long, env = "REFRESH_TOKEN_TTL_SECS", default_value_t = 43_200,
          value_parser = clap::value_parser!(i64).range(60..=2_592_000))]
    pub refresh_token_ttl_secs: i64,

    /// Failed logins in a row that lock an account.
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 5,
          value_parser = clap::value_parser!(i32).range(1..=100))]
    pub login_max_failures: i32,

    /// How long a locked account stays locked, in seconds.
    #[arg(long, env = "LOGIN_LOCKOUT_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(i64).range(1..=86_400))]
    pub login_lockout_secs: i64,

    /// Login attempts allowed per client address in each window.
    #[arg(long, env = "LOGIN_RATE_LIMIT", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login_rate_limit: u32,

    /// The window of LOGIN_RATE_LIMIT, in seconds.
    #[arg(long, env = "LOGIN_RATE_WINDOW_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub login_rate_window_secs: u64,

    /// How long, in seconds, the service reuses what it found behind a session (its user, role
    /// and towns) before it looks again; 0: every request looks in the database. Changes made
    /// through the service (logout, a revocation, a user disabled, a role or towns changed) take
    /// effect at once whatever this is; it bounds how long a change made elsewhere (a second
    /// instance, an operator's SQL) goes unseen.
    #[arg(long, env = "SESSION_CACHE_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub session_cache_secs: u64,

    /// The reverse proxies in front of the service, comma-separated IPs or CIDRs
    /// (10.0.0.2,10.1.0.0/16). A request from one of them has its client address taken from
    /// X-Forwarded-For: the rightmost hop that is not a trusted proxy. None by default: the
    /// client address is the peer's.
    #[arg(long, env = "TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,

    /// The origins of browser clients allowed to call the API, comma-separated, as a browser
    /// sends them (https://registry.example.gov.cn,http://localhost:5173). None by default: a
    /// browser refuses every call from a page on another origin.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS")]
    pub cors_allowed_origins: Option<String>,

    /// Removed (it trusted the first X-Forwarded-For hop, which the client writes): set to
    /// anything but `false`, the service refuses to start and says to set TRUSTED_PROXIES.
    #[arg(long, env = "TRUST_FORWARDED_FOR", hide = true, num_args = 0..=1,
          default_missing_value = "true")]
    pub trust_forwarded_for: Option<String>,

    /// ID-number probes allowed per user in each window: lookups by ID number, and answers
    /// that an ID number has a file in another town (registration, import).
    #[arg(long, env = "ID_PROBE_LIMIT", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub id_probe_limit: u32,

    /// The window of ID_PROBE_LIMIT, in seconds.
    #[arg(long, env = "ID_PROBE_WINDOW_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub id_probe_window_secs: u64,

    /// A bearer token `/metrics` requires, at least 32 random bytes. Without it `/metrics`
    /// answers anyone: keep it on the monitoring network.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Resident searches (GET /residents, POST /residents/lookup) allowed per account or
    /// client: a burst of this many, refilled at this many per EXPENSIVE_RATE_WINDOW_SECS;
    /// beyond, 429 with Retry-After. 0: no limit.
    #[arg(long, env = "SEARCH_RATE_LIMIT", default_value_t = 120)]
    pub search_rate_limit: u32,

    /// Imports (POST /imports/*) allowed per account, as SEARCH_RATE_LIMIT. 0: no limit.
    #[arg(long, env = "IMPORT_RATE_LIMIT", default_value_t = 10)]
    pub import_rate_limit: u32,

    /// Reports, indicators, the subsidy reconciliation and the audit trail's export and verify
    /// allowed per account, as SEARCH_RATE_LIMIT. 0: no limit.
    #[arg(long, env = "REPORT_RATE_LIMIT", default_value_t = 30)]
    pub report_rate_limit: u32,

    /// The window of SEARCH_RATE_LIMIT, IMPORT_RATE_LIMIT and REPORT_RATE_LIMIT, in seconds.
    #[arg(long, env = "EXPENSIVE_RATE_WINDOW_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub expensive_rate_window_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import residents from a CSV file (UTF-8 or GBK) or an Excel workbook (a path ending in
    /// .xlsx: its first worksheet), the first line naming the columns by code or Chinese header
    /// (see GET /api/v1/imports/residents/template). Prints a report: rows created, updated,
    /// unchanged, and each rejected row with its reasons.
    Residents {
        /// The CSV or .xlsx file.
        file: PathBuf,
    },
    /// Add villages and communities from a CSV file with the columns code, name, town_code
    /// (UTF-8 or GBK). Villages already stored the same way are left alone, so the same file
    /// can be imported again. Prints a report like `import residents`.
    Areas {
        /// The CSV file.
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Args)]
pub struct SeedDemoArgs {
    /// How many synthetic residents to write.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=20_000_000))]
    pub residents: u64,

    /// Seed of the generator.
    #[arg(long, default_value_t = 20_261_130)]
    pub seed: u64,

    /// Add the synthetic residents to a database that already holds residents (refused
    /// without it).
    #[arg(long)]
    pub force: bool,
}

/// `zh-CN`, `zh`, `en`, `en-US`, …: a language the service speaks.
fn parse_language(text: &str) -> Result<crate::messages::Lang, String> {
    crate::messages::Lang::parse(text).ok_or_else(|| format!("zh-CN or en, not {text:?}"))
}
