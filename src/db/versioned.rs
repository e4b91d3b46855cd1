//! The writes of a row under optimistic concurrency, one statement for every table that has
//! `updated_at` and `version` columns.

/// Writes a function that changes one row of a table and moves its version on: it sets
/// `updated_at` to `now` and `version` to `version + 1` with whatever else it changes, so the
/// row's ETag changes. The conditional forms change the row only while it is still at the
/// version the caller read (`expected_version`) and answer whether they did.
///
/// - `update VIS NAME(TABLE, CHANGES)`: `NAME(conn, id, expected_version, &CHANGES, now)` applies
///   a changeset, answering `QueryResult<bool>` (`VIS` is its visibility: `pub`, or nothing for a
///   table whose own module wraps it);
/// - `void NAME(TABLE)`: `NAME(conn, id, expected_version, by, reason, now)` marks a row void
///   (when, by whom, why), only if it is not void yet, answering `QueryResult<bool>`;
/// - `touch NAME(TABLE)`: `NAME(conn, id, now)` moves the version on whatever it is, after a
///   change elsewhere that the row's ETag must show.
///
/// A macro, not a generic function: bounding a function generic over diesel tables for the
/// `MultiConnection` of both backends costs more than the statement it would share.
macro_rules! versioned {
    ($(#[$attr:meta])* update $vis:vis $name:ident($table:ident, $changes:ty)) => {
        $(#[$attr])*
        $vis fn $name(
            conn: &mut $crate::db::conn::DbConn,
            id: i64,
            expected_version: i32,
            changes: &$changes,
            now: ::chrono::NaiveDateTime,
        ) -> ::diesel::QueryResult<bool> {
            let target = $table::table
                .filter($table::id.eq(id))
                .filter($table::version.eq(expected_version));
            versioned!(@write conn, $table, now, target, changes).map(|updated| updated == 1)
        }
    };
    ($(#[$attr:meta])* void $name:ident($table:ident)) => {
        $(#[$attr])*
        pub fn $name(
            conn: &mut $crate::db::conn::DbConn,
            id: i64,
            expected_version: i32,
            by: Option<&str>,
            reason: &str,
            now: ::chrono::NaiveDateTime,
        ) -> ::diesel::QueryResult<bool> {
            let target = $table::table
                .filter($table::id.eq(id))
                .filter($table::version.eq(expected_version))
                .filter($table::voided_at.is_null());
            versioned!(
                @write conn, $table, now, target,
                $table::voided_at.eq(now),
                $table::voided_by.eq(by),
                $table::void_reason.eq(reason)
            )
            .map(|updated| updated == 1)
        }
    };
    ($(#[$attr:meta])* touch $name:ident($table:ident)) => {
        $(#[$attr])*
        pub fn $name(
            conn: &mut $crate::db::conn::DbConn,
            id: i64,
            now: ::chrono::NaiveDateTime,
        ) -> ::diesel::QueryResult<()> {
            versioned!(@write conn, $table, now, $table::table.find(id)).map(|_| ())
        }
    };
    (@write $conn:ident, $table:ident, $now:ident, $target:expr $(, $set:expr)*) => {
        ::diesel::update($target)
            .set((
                $($set,)*
                $table::updated_at.eq($now),
                $table::version.eq($table::version + 1),
            ))
            .execute($conn)
    };
}

pub(crate) use versioned;
