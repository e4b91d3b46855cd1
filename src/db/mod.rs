//! Storage: one code path over SQLite (the embedded default) and PostgreSQL.
//!
//! `DbConn` is a diesel `MultiConnection`; `ConnectionManager` is our own r2d2 manager so the
//! backend is chosen from the URL scheme (not by trial and error) and a bad URL or an
//! unreachable server gives a readable message. Every query runs through [`run`], off the async
//! workers.

pub mod areas;
pub mod audit;
pub mod certificates;
pub mod conn;
pub mod definitions;
pub mod district;
pub mod file;
pub mod file_records;
pub mod file_views;
pub mod home_modifications;
pub mod indicators;
pub mod integration;
pub mod migrate;
pub mod moves;
pub mod read_audit;
pub mod reports;
pub mod residents;
pub mod schema;
pub mod sessions;
pub mod subsidies;
pub mod url;
pub mod users;
mod versioned;
pub mod work_queues;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

pub use conn::{now, read_snapshot, DbConn, WriteTx};
pub use url::DatabaseUrl;

use crate::error::AppError;

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

/// Key of the PostgreSQL advisory lock that orders writers ("writers!" as an i64).
const WRITER_LOCK_KEY: i64 = 0x7772_6974_6572_7321;

/// How long SQLite waits on a locked database before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot open the SQLite database {path}: {source}")]
    Sqlite {
        path: String,
        source: diesel::ConnectionError,
    },
    #[error("cannot connect to PostgreSQL at {target}: {message}")]
    Postgres { target: String, message: String },
    #[error("cannot prepare the SQLite database {path}: {source}")]
    SqliteSetup {
        path: String,
        source: diesel::result::Error,
    },
    #[error(
        "DATABASE_URL asks for TLS (sslmode={0}), and this build's libpq has none; build with \
         `--features postgres-tls` (see README: TLS to PostgreSQL)"
    )]
    NoTls(String),
    #[error("cannot create the folder or file {path} of the SQLite database: {source}")]
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
    statement_timeout: Option<Duration>,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        ConnectionManager {
            url,
            statement_timeout: None,
        }
    }

    /// Connections on which any statement that runs longer than `timeout` is stopped:
    /// PostgreSQL cancels it (`statement_timeout`), SQLite interrupts it
    /// ([`bound_statements`]). The service's pool sets it, migrations and commands do not.
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Opens one connection, configured as the pool would configure it.
    pub fn establish(&self) -> Result<DbConn, ConnectError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let display = path.display().to_string();
                if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    crate::files::private_dir(folder).map_err(|source| ConnectError::Folder {
                        path: folder.display().to_string(),
                        source,
                    })?;
                }
                // The file (and so its WAL and SHM files, which SQLite creates with the
                // database file's mode) is the service's alone: 0600.
                crate::files::prepare_database_file(path).map_err(|source| {
                    ConnectError::Folder {
                        path: display.clone(),
                        source,
                    }
                })?;
                let mut conn = diesel::SqliteConnection::establish(&display).map_err(|source| {
                    ConnectError::Sqlite {
                        path: display.clone(),
                        source,
                    }
                })?;
                // WAL lets readers run beside the one writer; synchronous=FULL makes an
                // acknowledged commit survive a power cut, which a registry of record needs.
                // Savepoint journals stay in memory (an import uses one per row), and each
                // connection caches up to 32 MiB of pages: the random keys of the unique
                // indexes (UUIDs, blind index, audit hashes) touch pages all over the file.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA temp_store = MEMORY;
                     PRAGMA cache_size = -32768;"
                ))
                .map_err(|source| ConnectError::SqliteSetup {
                    path: display,
                    source,
                })?;
                if let Some(bound) = self.statement_timeout {
                    bound_statements(&mut conn, bound);
                }
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                if let Some(mode) =
                    url::required_tls(url).filter(|_| !cfg!(feature = "postgres-tls"))
                {
                    return Err(ConnectError::NoTls(mode));
                }
                let mut conn = diesel::PgConnection::establish(url).map_err(|source| {
                    ConnectError::Postgres {
                        target: self.url.redacted(),
                        message: url::scrub_credentials(&source.to_string(), url),
                    }
                })?;
                if let Some(timeout) = self.statement_timeout {
                    conn.batch_execute(&format!(
                        "SET statement_timeout = {}",
                        timeout.as_millis().max(1)
                    ))
                    .map_err(|source| ConnectError::Postgres {
                        target: self.url.redacted(),
                        message: source.to_string(),
                    })?;
                }
                Ok(DbConn::Postgres(conn))
            }
        }
    }
}

/// How many SQLite virtual-machine instructions run between two looks at the clock (some
/// tenths of a millisecond of work).
const SQLITE_PROGRESS_EVERY: std::num::NonZeroU32 = std::num::NonZeroU32::new(10_000).unwrap();

/// SQLite's counterpart of PostgreSQL's `statement_timeout`: a statement that has run longer
/// than `bound` is interrupted (`SQLITE_INTERRUPT`, "interrupted", which answers 503 like the
/// PostgreSQL cancel). SQLite's statement trace says when each statement starts and ends, and
/// a progress handler compares the clock with the start every [`SQLITE_PROGRESS_EVERY`]
/// instructions while one runs. Waiting for a lock is bounded by `busy_timeout` instead (the
/// handler does not run then).
fn bound_statements(conn: &mut diesel::SqliteConnection, bound: Duration) {
    use diesel::sqlite::{ProgressDecision, SqliteTraceEvent, SqliteTraceFlags};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    // When the statement that runs now started; `None` between statements.
    let running = Arc::new(Mutex::new(None::<Instant>));
    let traced = running.clone();
    conn.on_trace(
        SqliteTraceFlags::STMT | SqliteTraceFlags::PROFILE,
        move |event| {
            let mut running = traced.lock().unwrap_or_else(|p| p.into_inner());
            match event {
                // The statements of triggers are reported as `-- TRIGGER …` comments and
                // belong to the statement that fired them.
                SqliteTraceEvent::Statement { sql, .. } if !sql.starts_with("--") => {
                    *running = Some(Instant::now());
                }
                SqliteTraceEvent::Profile { .. } => *running = None,
                _ => {}
            }
        },
    );
    conn.on_progress(SQLITE_PROGRESS_EVERY, move || {
        let started = *running.lock().unwrap_or_else(|p| p.into_inner());
        match started {
            Some(started) if started.elapsed() > bound => ProgressDecision::Interrupt,
            _ => ProgressDecision::Continue,
        }
    });
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

    /// A connection that comes back inside a transaction (a panic, or a rollback that failed)
    /// is closed, never handed out again: the next user would run inside that transaction,
    /// as a savepoint nobody commits, while it holds the writers' lock. So is one that
    /// [`discard`] gives back (it failed its ping).
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        DISCARD_RETURNING.take() || !matches!(transaction_depth(conn), Ok(None))
    }
}

thread_local! {
    /// Set by [`discard`] just before it drops a pooled connection; r2d2 asks
    /// [`ConnectionManager::has_broken`] on the same thread while the drop returns it.
    static DISCARD_RETURNING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Closes a pooled connection instead of giving it back.
fn discard(conn: PooledConn) {
    DISCARD_RETURNING.set(true);
    drop(conn);
    DISCARD_RETURNING.set(false);
}

/// A pooled connection that went unused longer than this is pinged when it is taken: the
/// server may have closed it (a restart, an idle timeout). One in steady use is not, which saves
/// a round trip on every request (HikariCP skips its check the same way, within 500 ms).
const PING_AFTER_IDLE: Duration = Duration::from_millis(500);

/// When a pooled connection last answered (kept in r2d2's per-connection extensions).
struct LastAnswered(std::time::Instant);

/// A connection from the pool that answers: one idle for longer than [`PING_AFTER_IDLE`] is
/// pinged first, and one that does not answer is closed and the next one taken (a restarted
/// PostgreSQL leaves every pooled connection dead; each is replaced as it comes up).
pub fn checkout(pool: &Pool) -> Result<PooledConn, AppError> {
    let attempts = pool.max_size() + 1;
    for _ in 0..attempts {
        let mut conn = pool.get().map_err(AppError::from_pool)?;
        let recent = r2d2::PooledConnection::extensions(&conn)
            .get::<LastAnswered>()
            .is_some_and(|last| last.0.elapsed() < PING_AFTER_IDLE);
        if recent || conn.batch_execute("SELECT 1").is_ok() {
            answered(&mut conn);
            return Ok(conn);
        }
        discard(conn);
    }
    Err(AppError::Unavailable {
        cause: "no pooled database connection answers".to_owned(),
    })
}

fn answered(conn: &mut PooledConn) {
    r2d2::PooledConnection::extensions_mut(conn).insert(LastAnswered(std::time::Instant::now()));
}

/// Gives an SQLite connection a page cache of 2 MiB instead of 32: for a connection that
/// commits many small transactions, the read-audit writer's. At every commit SQLite truncates
/// its page cache to the database's size, and here that scanned the whole cache
/// (`pcache1TruncateUnsafe` under `pager_end_transaction`): with 32 MiB it was a seventh of the
/// writer thread's time (`perf record -t`), with 2 MiB it no longer shows. The pages such
/// a writer needs are few and hot (the ends of the audit table's indexes); the rest come from
/// the operating system's cache. PostgreSQL: nothing to do.
pub fn small_page_cache(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => c.batch_execute("PRAGMA cache_size = -2048"),
        DbConn::Postgres(_) => Ok(()),
    }
}

/// Gives a connection back after `outcome`: after a fault (5xx) it is pinged, and closed when it
/// no longer answers, so a connection the server dropped mid-request is not handed out again.
pub fn give_back<T>(mut conn: PooledConn, outcome: &Result<T, AppError>) {
    match outcome {
        Err(AppError::Internal(_) | AppError::Unavailable { .. }) => {
            if conn.batch_execute("SELECT 1").is_err() {
                discard(conn);
            }
        }
        _ => answered(&mut conn),
    }
}

/// How deep in transactions `conn` is (`None`: in none); an error when its transaction
/// state is broken.
pub(crate) fn transaction_depth(
    conn: &mut DbConn,
) -> diesel::QueryResult<Option<std::num::NonZeroU32>> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConn::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
        }
        DbConn::Postgres(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()
        }
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
    /// A statement of the pool's connections that runs longer is stopped, on both backends
    /// (`DB_STATEMENT_TIMEOUT_MS`); `None`: no bound.
    pub statement_timeout: Option<Duration>,
}

/// Builds the pool after checking that one connection can be made, so a bad URL or a server
/// that is down is reported with the driver's own words instead of r2d2's timeout.
pub fn connect_pool(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Pool, ConnectError> {
    let manager =
        ConnectionManager::new(url.clone()).with_statement_timeout(settings.statement_timeout);
    let first = manager.establish()?;
    drop(first);
    let pool = r2d2::Pool::builder()
        .max_size(settings.max_size)
        .min_idle(Some(settings.max_size.min(2)))
        .connection_timeout(settings.checkout_timeout)
        // `checkout` pings a connection only when it has been idle (PING_AFTER_IDLE).
        .test_on_check_out(false)
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
        let mut conn = checkout(&pool)?;
        let outcome = work(&mut conn);
        give_back(conn, &outcome);
        outcome
    })
    .await
    .map_err(|e| AppError::internal(format!("blocking task failed: {e}")))?
}

/// Runs `work` in a transaction that writes, one writer at a time on both backends: on SQLite
/// `BEGIN IMMEDIATE` takes the write lock at the start (so two writers queue on busy_timeout
/// instead of one failing when it upgrades a read to a write); on PostgreSQL a
/// transaction-scoped advisory lock does the same. Every write appends to the one audit hash
/// chain, which needs the writers in a single order anyway; taking that order at the start
/// (not when the event is appended) means no writer can hold a row lock while waiting for it,
/// so writers never deadlock. Before it commits, the indicators' values of every resident whose
/// rows it changed are rewritten ([`indicators::refresh_stale`]). `work` gets the transaction
/// as a [`WriteTx`], which the audit trail's append asks for. Commits when `work` returns `Ok`,
/// rolls back otherwise.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut WriteTx<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    writer_transaction(conn, true, work)
}

/// [`write_transaction`] for work that appends to the audit trail and writes no resident's
/// rows (the read-audit batches): it does not look for stale indicator values, which costs a
/// query per transaction. Stale values that some other writer left are rewritten by the next
/// [`write_transaction`] all the same.
pub fn audit_only_transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut WriteTx<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    writer_transaction(conn, false, work)
}

/// [`write_transaction`], where `refresh_facts` says whether to rewrite the stale indicator
/// values before the commit (a catch-up that does that itself, a slice at a time, says no).
fn writer_transaction<T, E, F>(conn: &mut DbConn, refresh_facts: bool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut WriteTx<'_>) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let top_level = transaction_depth(conn)?.is_none();
    if top_level {
        audit::forget_head();
    }
    // SQLite: this process's writers queue for their turn first (held until the end).
    let queue = match &mut *conn {
        DbConn::Sqlite(c) if top_level => Some(sqlite_writers_queue(c)?),
        _ => None,
    };
    let _turn = match &queue {
        Some(queue) => Some(
            queue
                .try_lock_for(Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS.into()))
                .ok_or_else(|| {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::Unknown,
                        Box::new(format!(
                            "database is locked: the other writers of this process held it \
                             for {SQLITE_BUSY_TIMEOUT_MS} ms"
                        )),
                    )
                })?,
        ),
        None => None,
    };
    match conn {
        // Inside a transaction this is a savepoint: the writers' lock is already held.
        DbConn::Sqlite(c) if !top_level => AnsiTransactionManager::begin_transaction(c)?,
        DbConn::Postgres(c) if !top_level => AnsiTransactionManager::begin_transaction(c)?,
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        // One round trip: the transaction and the writers' lock.
        DbConn::Postgres(c) => {
            let begin = format!("BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})");
            if let Err(e) = AnsiTransactionManager::begin_transaction_sql(c, &begin) {
                // The BEGIN may have run: end whatever it opened, so the connection goes back
                // to the pool outside a transaction.
                let _ = c.batch_execute("ROLLBACK");
                return Err(e.into());
            }
        }
    }
    // A panic in `work` rolls the transaction back before it goes on unwinding, so the
    // connection is not left holding the writers' lock (and [`ConnectionManager::has_broken`]
    // keeps a connection still in a transaction out of the pool all the same).
    let run = || work(&mut WriteTx::of(conn));
    let mut outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let _ = match &mut *conn {
                DbConn::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
                DbConn::Postgres(c) => AnsiTransactionManager::rollback_transaction(c),
            };
            if top_level {
                audit::forget_head();
                users::transaction_ended();
            }
            std::panic::resume_unwind(panic);
        }
    };
    // The indicators' projection follows the rows it is made of in the same transaction.
    if top_level && refresh_facts && outcome.is_ok() {
        if let Err(e) = indicators::refresh_stale(conn) {
            outcome = Err(e.into());
        }
    }
    let result = conn::finish(conn, outcome);
    // What was appended is gone after a rollback; after a commit another writer may append.
    if top_level || result.is_err() {
        audit::forget_head();
    }
    if top_level {
        users::transaction_ended();
    }
    result
}

/// The queue of this process's writers of one SQLite database (by its file).
///
/// SQLite's own wait for the write lock (busy_timeout) is no queue: a writer that finds the
/// lock taken sleeps, up to 100 ms at a time, and tries again; with a few other writers taking
/// the lock back to back it keeps finding it taken, and after busy_timeout it fails with
/// "database is locked" while writers that came later got their turn (the write load test,
/// `tests/write_load.rs`, saw it within a minute at 50 writers). So the writers of the process
/// first take their turn here, first come first served (a fair mutex hands the lock to the
/// writer that waited longest), and only the one whose turn it is asks SQLite for its lock;
/// busy_timeout is left to other processes' writers (a command such as `import`).
fn sqlite_writers_queue(
    conn: &mut diesel::SqliteConnection,
) -> QueryResult<std::sync::Arc<parking_lot::FairMutex<()>>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    #[derive(QueryableByName)]
    struct MainFile {
        #[diesel(sql_type = diesel::sql_types::Text)]
        file: String,
    }
    type Queues = Mutex<HashMap<String, Arc<parking_lot::FairMutex<()>>>>;
    static QUEUES: OnceLock<Queues> = OnceLock::new();

    let file = diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .get_result::<MainFile>(conn)?
        .file;
    let mut queues = QUEUES
        .get_or_init(Queues::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(queues.entry(file).or_default().clone())
}

/// Rewrites every stale indicator value, 20,000 residents per write transaction,
/// so a database migrated with many residents (all stale) does not hold the writers' lock for
/// the whole rebuild. Answers how many values it rewrote.
pub fn catch_up_facts(conn: &mut DbConn) -> diesel::QueryResult<usize> {
    const CATCH_UP_SLICE: usize = 20_000;
    let mut total = 0;
    loop {
        let done = writer_transaction(conn, false, |conn| {
            indicators::refresh_some_stale(conn, CATCH_UP_SLICE)
        })?;
        if done == 0 {
            return Ok(total);
        }
        total += done;
    }
}
