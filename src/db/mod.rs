//! Storage: one code path over SQLite (the embedded default) and PostgreSQL.
//!
//! `DbConn` is a diesel `MultiConnection`; `ConnectionManager` is our own r2d2 manager so the
//! backend is chosen from the URL scheme (not by trial and error) and a bad URL or an
//! unreachable server gives a readable message. Every query runs through [`run`], off the async
//! workers.

pub mod areas;
pub mod migrate;
pub mod schema;
pub mod url;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::error::AppError;
pub use url::DatabaseUrl;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

/// How long SQLite waits on a locked database before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot open the SQLite database {path}: {source}")]
    Sqlite {
        path: String,
        source: diesel::ConnectionError,
    },
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Postgres {
        target: String,
        source: diesel::ConnectionError,
    },
    #[error("cannot prepare the SQLite database {path}: {source}")]
    SqliteSetup {
        path: String,
        source: diesel::result::Error,
    },
    #[error("cannot create the folder {path} for the SQLite database: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("the database connection is no longer usable: {0}")]
pub struct BrokenConnection(#[from] diesel::result::Error);

#[derive(Debug)]
pub enum ManagerError {
    Connect(ConnectError),
    Broken(BrokenConnection),
}

impl std::fmt::Display for ManagerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManagerError::Connect(e) => e.fmt(f),
            ManagerError::Broken(e) => e.fmt(f),
        }
    }
}
impl std::error::Error for ManagerError {}

pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        ConnectionManager { url }
    }

    /// Opens one connection, configured as the pool would configure it.
    pub fn establish(&self) -> Result<DbConn, ConnectError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let display = path.display().to_string();
                if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder).map_err(|source| ConnectError::Folder {
                        path: folder.display().to_string(),
                        source,
                    })?;
                }
                let mut conn = diesel::SqliteConnection::establish(&display).map_err(|source| {
                    ConnectError::Sqlite {
                        path: display.clone(),
                        source,
                    }
                })?;
                // WAL lets readers run beside the one writer; synchronous=FULL makes an
                // acknowledged commit survive a power cut, which a registry of record needs.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;"
                ))
                .map_err(|source| ConnectError::SqliteSetup {
                    path: display,
                    source,
                })?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let conn = diesel::PgConnection::establish(url).map_err(|source| {
                    ConnectError::Postgres {
                        target: self.url.redacted(),
                        source,
                    }
                })?;
                Ok(DbConn::Postgres(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConn, ManagerError> {
        self.establish().map_err(ManagerError::Connect)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ManagerError> {
        conn.batch_execute("SELECT 1")
            .map_err(|e| ManagerError::Broken(e.into()))
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// r2d2 reports failed connection attempts here; the message never holds the password.
#[derive(Debug)]
struct TracingErrorHandler;

impl r2d2::HandleError<ManagerError> for TracingErrorHandler {
    fn handle_error(&self, error: ManagerError) {
        tracing::warn!(%error, "database connection attempt failed");
    }
}

#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_size: u32,
    pub checkout_timeout: Duration,
}

/// Builds the pool after checking that one connection can be made, so a bad URL or a server
/// that is down is reported with the driver's own words instead of r2d2's timeout.
pub fn connect_pool(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Pool, ConnectError> {
    let manager = ConnectionManager::new(url.clone());
    let first = manager.establish()?;
    drop(first);
    let pool = r2d2::Pool::builder()
        .max_size(settings.max_size)
        .min_idle(Some(settings.max_size.min(2)))
        .connection_timeout(settings.checkout_timeout)
        .error_handler(Box::new(TracingErrorHandler))
        .build_unchecked(manager);
    Ok(pool)
}

/// Runs `work` with a pooled connection on the blocking thread pool.
///
/// An exhausted pool or an unreachable database becomes `AppError::Unavailable` (503) once the
/// checkout timeout passes, never a hang.
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    actix_web::web::block(move || {
        let _entered = span.enter();
        let mut conn = pool.get().map_err(AppError::from_pool)?;
        work(&mut conn)
    })
    .await
    .map_err(|e| AppError::internal(format!("blocking task failed: {e}")))?
}

/// Which backend a connection talks to, for the few statements that differ.
pub fn is_postgres(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Postgres(_))
}
