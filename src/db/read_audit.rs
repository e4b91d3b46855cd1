//! A batch of the read-audit writer ([`crate::audit::batch`]) on PostgreSQL in one statement:
//! the writers' lock, the events appended after the chain's head, the rendered files kept, and
//! the commit, in one round trip where a write transaction takes five (`BEGIN` with the lock,
//! the head, the views, the events, `COMMIT`). A read waits for its batch, so at a few
//! connections these round trips were most of a read's time.
//!
//! The statement is its own transaction, and the writers' advisory lock is held until it ends,
//! as a write transaction holds it: every append still happens in one order. Its snapshot is
//! taken before it gets the lock, so it may not see events another writer committed meanwhile;
//! those took the sequence numbers after the head, and the primary key then refuses this
//! statement's rows. Either way (the head moved, or the head read in the snapshot is not the
//! one the rows link after) nothing is written and the writer appends the batch in a write
//! transaction instead, which reads the head under the lock.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::{BigInt, Text};

use super::audit::{AppendRows, AuditRow};
use super::conn::DbConn;
use super::file_views::{FileViewRow, KeepViews};

/// Appends `rows` (linked after the head `after`, the chain's last `(seq, hash)`) and keeps
/// `views`, committed, in one statement. `false`: no event was written, because the chain's
/// head is not `after` (another writer appended since), or on SQLite, which has no round trips
/// to save; append them in a write transaction instead (the views may have been kept already:
/// keeping them again replaces them).
pub fn append_alone_after(
    conn: &mut DbConn,
    after: (i64, &str),
    rows: &[AuditRow],
    views: &[FileViewRow],
) -> QueryResult<bool> {
    let DbConn::Postgres(conn) = conn else {
        return Ok(false);
    };
    if rows.is_empty() || rows.len() > AppendRows::MAX_ROWS {
        return Ok(false);
    }
    let statement = BatchAfter {
        after_seq: after.0,
        after_hash: after.1,
        rows: AppendRows::of(rows),
        views: KeepViews::of(views),
    };
    match statement.execute(conn) {
        Ok(appended) => Ok(appended == rows.len()),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

struct BatchAfter<'a> {
    after_seq: i64,
    after_hash: &'a str,
    rows: AppendRows<'a>,
    views: KeepViews<'a>,
}

impl QueryId for BatchAfter<'_> {
    type QueryId = BatchAfter<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for BatchAfter<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(&format!(
            "WITH writers_lock AS (SELECT pg_advisory_xact_lock({})), kept AS (",
            super::WRITER_LOCK_KEY
        ));
        self.views.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        out.push_sql(AppendRows::INSERT);
        out.push_sql(" SELECT appended.* FROM writers_lock, ");
        self.rows.push_unnest(out.reborrow())?;
        // The head as the last row by the primary key: a condition on `seq > $1` instead
        // was planned, generically, as a scan of the whole table.
        out.push_sql(
            " AS appended WHERE EXISTS (SELECT 1 FROM (SELECT seq, hash FROM audit_events \
             ORDER BY seq DESC LIMIT 1) head WHERE head.seq = ",
        );
        out.push_bind_param::<BigInt, _>(&self.after_seq)?;
        out.push_sql(" AND head.hash = ");
        out.push_bind_param::<Text, _>(&self.after_hash)?;
        out.push_sql(")");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for BatchAfter<'_> {}
