//! Moves of residents between towns of the district, each effective on its day.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::resident_moves;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = resident_moves)]
pub struct MoveRow {
    pub id: i64,
    pub public_id: String,
    pub resident_id: i64,
    pub from_town: String,
    pub from_village: Option<String>,
    pub to_town: String,
    pub to_village: Option<String>,
    pub moved_on: NaiveDate,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = resident_moves)]
pub struct NewMoveRow {
    pub public_id: String,
    pub resident_id: i64,
    pub from_town: String,
    pub from_village: Option<String>,
    pub to_town: String,
    pub to_village: Option<String>,
    pub moved_on: NaiveDate,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, row: &NewMoveRow) -> QueryResult<()> {
    diesel::insert_into(resident_moves::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A resident's moves, oldest first (by day, then as recorded).
pub fn of_resident(conn: &mut DbConn, resident_id: i64) -> QueryResult<Vec<MoveRow>> {
    resident_moves::table
        .filter(resident_moves::resident_id.eq(resident_id))
        .order((resident_moves::moved_on.asc(), resident_moves::id.asc()))
        .select(MoveRow::as_select())
        .load(conn)
}
