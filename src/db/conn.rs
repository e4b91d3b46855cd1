//! The connection every query of storage runs on, and what the tables' modules do with it:
//! read one consistent state ([`read_snapshot`]) or write inside an open write transaction
//! ([`WriteTx`], which only [`super::write_transaction`] hands out). The parent module opens
//! and pools connections and runs the write transactions; the tables' modules import this one,
//! not their parent, so storage has no import loop.

use crate::error::AppError;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// The current UTC time at the precision both backends store (microseconds), so a value reads
/// back exactly as written (the audit chain hashes timestamps).
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    let micros = now.and_utc().timestamp_micros();
    chrono::DateTime::from_timestamp_micros(micros)
        .expect("now is representable")
        .naive_utc()
}

/// Runs `work` in one consistent read: a read-only repeatable-read transaction on PostgreSQL,
/// one read transaction on SQLite, so everything it reads (a report's figures, an export and
/// the chain head that goes with it) comes from the same state of the database. PostgreSQL
/// gets the isolation with its `BEGIN` (one round trip, not two). Not inside another
/// transaction.
pub fn read_snapshot<T>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, AppError>,
) -> Result<T, AppError> {
    use diesel::connection::AnsiTransactionManager;
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?,
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        )?,
    }
    let outcome = work(conn);
    finish(conn, outcome)
}

/// Ends the open transaction: commits when `outcome` is `Ok`, rolls back otherwise. Answers
/// the outcome, or the commit's failure.
pub(super) fn finish<T, E>(conn: &mut DbConn, outcome: Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let finish = match (&outcome, &mut *conn) {
        (Ok(_), DbConn::Sqlite(c)) => AnsiTransactionManager::commit_transaction(c),
        (Ok(_), DbConn::Postgres(c)) => AnsiTransactionManager::commit_transaction(c),
        (Err(_), DbConn::Sqlite(c)) => AnsiTransactionManager::rollback_transaction(c),
        (Err(_), DbConn::Postgres(c)) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (outcome, finish) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(commit_failed)) => Err(commit_failed.into()),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(rollback_failed)) => {
            tracing::error!(%rollback_failed, "rollback failed");
            Err(e)
        }
    }
}

/// The connection of an open write transaction, as [`super::write_transaction`] hands it to its
/// work: every query runs on it ([`Deref`](std::ops::Deref) to [`DbConn`]). Only storage makes
/// one, so a function that asks for a `&mut WriteTx` (an audit append, [`super::audit::insert`]) can
/// only run inside a write transaction, holding the writers' lock. It is not `Send`: the chain
/// head that storage remembers for the transaction is its thread's.
pub struct WriteTx<'c> {
    conn: &'c mut DbConn,
    this_thread: std::marker::PhantomData<*const ()>,
}

impl<'c> WriteTx<'c> {
    pub(super) fn of(conn: &'c mut DbConn) -> Self {
        WriteTx {
            conn,
            this_thread: std::marker::PhantomData,
        }
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        self.conn
    }
}

impl std::ops::DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut DbConn {
        self.conn
    }
}
