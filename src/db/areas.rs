use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::areas;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
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

pub fn insert(conn: &mut DbConn, row: &AreaRow) -> QueryResult<()> {
    diesel::insert_into(areas::table)
        .values((
            areas::code.eq(&row.code),
            areas::name.eq(&row.name),
            areas::level.eq(&row.level),
            areas::parent_code.eq(&row.parent_code),
            areas::created_at.eq(super::conn::now()),
        ))
        .execute(conn)
        .map(|_| ())
}
