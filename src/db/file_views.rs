//! Each resident's file as last shown: the rendered answer of a file read, kept so the next
//! read of an unchanged file on the same day sends it again instead of rendering it from its
//! rows (issue 13: rendering was most of a read's cost). A view is served only while the
//! resident is still at the version it shows and it was rendered for the reader's day and
//! settings (`rendered_for`); the table is a cache, emptied at every start.

use diesel::prelude::*;

use super::conn::DbConn;
use super::residents::ResidentRow;
use super::schema::{file_views, residents};

/// A rendered file to keep.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = file_views, treat_none_as_default_value = false)]
pub struct FileViewRow {
    pub resident_id: i64,
    /// The resident's version the view shows.
    pub version: i32,
    /// The day and settings it was rendered for.
    pub rendered_for: String,
    pub body: String,
}

/// The resident `public_id`, with its file's view if one was kept for its current version and
/// `rendered_for`; `None` when there is no such resident.
pub fn current(
    conn: &mut DbConn,
    public_id: &str,
    rendered_for: &str,
) -> QueryResult<Option<(ResidentRow, Option<String>)>> {
    residents::table
        .left_join(
            file_views::table.on(file_views::resident_id
                .eq(residents::id)
                .and(file_views::version.eq(residents::version))
                .and(file_views::rendered_for.eq(rendered_for))),
        )
        .filter(residents::public_id.eq(public_id))
        .select((ResidentRow::as_select(), file_views::body.nullable()))
        .first(conn)
        .optional()
}

/// Keeps `views`, each in place of the one its resident had; of two for one resident, the last.
pub fn keep(conn: &mut DbConn, mut views: Vec<FileViewRow>) -> QueryResult<()> {
    if views.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    views.reverse();
    views.retain(|v| seen.insert(v.resident_id));
    let ids: Vec<i64> = views.iter().map(|v| v.resident_id).collect();
    diesel::delete(file_views::table.filter(file_views::resident_id.eq_any(&ids))).execute(conn)?;
    crate::bulk_insert!(&mut *conn, file_views::table, &views[..]);
    Ok(())
}

/// Forgets every kept view (at start: a new build may render files differently).
pub fn forget_all(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(file_views::table).execute(conn)
}

/// What [`kept_of`] finds of one resident.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct KeptLookup {
    pub public_id: String,
    pub town_code: String,
    pub version: i32,
    /// The view kept for its current version and `rendered_for`, if any.
    pub body: Option<String>,
}

/// [`current`] for many residents at once, with only what serving a kept view needs; a
/// `public_id` of no resident is left out.
///
/// The view is a subquery of each resident's row, not a join: PostgreSQL then looks each one up
/// by its key whatever its statistics say. As a join, a planner that took the table for small
/// (its statistics from a moment after a start, which empties it) hashed every kept view,
/// spilled them to disk and took a tenth of a second a batch.
pub fn kept_of(
    conn: &mut DbConn,
    public_ids: &[&str],
    rendered_for: &str,
) -> QueryResult<Vec<KeptLookup>> {
    let kept_body = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
        "(SELECT v.body FROM file_views v WHERE v.resident_id = residents.id \
         AND v.version = residents.version AND v.rendered_for = ",
    )
    .bind::<diesel::sql_types::Text, _>(rendered_for)
    .sql(")");
    residents::table
        .filter(residents::public_id.eq_any(public_ids))
        .select((
            residents::public_id,
            residents::town_code,
            residents::version,
            kept_body,
        ))
        .load(conn)
}
