use diesel::prelude::*;

use super::schema::areas;
use super::DbConn;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = areas)]
pub struct AreaRow {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
}

/// Every area, parents before children, in code order within a level.
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<AreaRow>> {
    areas::table
        .select(AreaRow::as_select())
        .order(areas::code.asc())
        .load(conn)
}

/// The level of an area, if the code exists.
pub fn level_of(conn: &mut DbConn, code: &str) -> QueryResult<Option<String>> {
    areas::table
        .find(code)
        .select(areas::level)
        .first(conn)
        .optional()
}
