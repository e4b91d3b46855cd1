//! Each resident's file as last shown: the rendered answer of a file read, kept so the next
//! read of an unchanged file on the same day sends it again instead of rendering it from its
//! rows (issue 13: rendering was most of a read's cost). A view is served only while the
//! resident is still at the version it shows and it was rendered for the reader's day and
//! settings (`rendered_for`); the table is a cache, emptied at every start.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Integer, Text};

use super::conn::DbConn;
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

/// Keeps `views`, each in place of the one its resident had; of two for one resident, the last.
pub fn keep(conn: &mut DbConn, mut views: Vec<FileViewRow>) -> QueryResult<()> {
    if views.is_empty() {
        return Ok(());
    }
    match conn {
        DbConn::Postgres(c) => {
            KeepViews::of(&views).execute(c)?;
        }
        DbConn::Sqlite(_) => {
            let mut seen = std::collections::HashSet::new();
            views.reverse();
            views.retain(|v| seen.insert(v.resident_id));
            let ids: Vec<i64> = views.iter().map(|v| v.resident_id).collect();
            diesel::delete(file_views::table.filter(file_views::resident_id.eq_any(&ids)))
                .execute(conn)?;
            crate::bulk_insert!(&mut *conn, file_views::table, &views[..]);
        }
    }
    Ok(())
}

/// [`keep`] on PostgreSQL in one round trip: one statement, the views as arrays, of the same
/// text whatever their number, so it is prepared once per connection (a delete and a `COPY`
/// took three round trips, a multi-row `INSERT` is planned anew for every number of rows).
pub(super) struct KeepViews<'a> {
    resident_ids: Vec<i64>,
    versions: Vec<i32>,
    rendered_for: Vec<&'a str>,
    bodies: Vec<&'a str>,
}

impl<'a> KeepViews<'a> {
    /// `views`, of two for one resident the last (one statement may write a row once).
    pub(super) fn of(views: &'a [FileViewRow]) -> Self {
        let mut seen = std::collections::HashSet::new();
        let mut kept = KeepViews {
            resident_ids: Vec::with_capacity(views.len()),
            versions: Vec::with_capacity(views.len()),
            rendered_for: Vec::with_capacity(views.len()),
            bodies: Vec::with_capacity(views.len()),
        };
        for view in views.iter().rev().filter(|v| seen.insert(v.resident_id)) {
            kept.resident_ids.push(view.resident_id);
            kept.versions.push(view.version);
            kept.rendered_for.push(&view.rendered_for);
            kept.bodies.push(&view.body);
        }
        kept
    }
}

impl QueryId for KeepViews<'_> {
    type QueryId = KeepViews<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for KeepViews<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO file_views (resident_id, version, rendered_for, body) \
             SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<BigInt>, _>(&self.resident_ids)?;
        out.push_sql("::int8[], ");
        out.push_bind_param::<Array<Integer>, _>(&self.versions)?;
        out.push_sql("::int4[], ");
        out.push_bind_param::<Array<Text>, _>(&self.rendered_for)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.bodies)?;
        out.push_sql(
            "::text[]) ON CONFLICT (resident_id) DO UPDATE SET version = excluded.version, \
             rendered_for = excluded.rendered_for, body = excluded.body",
        );
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for KeepViews<'_> {}

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

/// The residents `public_ids`, each with its file's view if one was kept for its current
/// version and `rendered_for`; a `public_id` of no resident is left out.
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
