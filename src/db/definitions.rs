//! Versions of the indicator definitions.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::indicator_definitions;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = indicator_definitions)]
pub struct DefinitionRow {
    pub id: i64,
    pub public_id: String,
    pub version: i32,
    pub effective_from: NaiveDate,
    pub body: String,
    pub published_at: NaiveDateTime,
    pub published_by: Option<String>,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub withdraw_reason: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = indicator_definitions)]
pub struct NewDefinitionRow {
    pub public_id: String,
    pub version: i32,
    pub effective_from: NaiveDate,
    pub body: String,
    pub published_at: NaiveDateTime,
    pub published_by: Option<String>,
}

/// Every version, newest first.
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<DefinitionRow>> {
    indicator_definitions::table
        .select(DefinitionRow::as_select())
        .order(indicator_definitions::version.desc())
        .load(conn)
}

pub fn insert(conn: &mut DbConn, row: &NewDefinitionRow) -> QueryResult<()> {
    diesel::insert_into(indicator_definitions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Marks a version withdrawn; false when it already was.
pub fn withdraw(conn: &mut DbConn, id: i64, reason: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        indicator_definitions::table
            .filter(indicator_definitions::id.eq(id))
            .filter(indicator_definitions::withdrawn_at.is_null()),
    )
    .set((
        indicator_definitions::withdrawn_at.eq(Some(at)),
        indicator_definitions::withdraw_reason.eq(Some(reason)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}
