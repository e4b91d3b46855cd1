use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::{facilities, gdp_growth};
use super::versioned::versioned;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = facilities)]
pub struct FacilityRow {
    pub id: i64,
    pub public_id: String,
    pub kind: String,
    pub name: String,
    pub town_code: String,
    pub standardized: bool,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub version: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = facilities)]
pub struct NewFacilityRow {
    pub public_id: String,
    pub kind: String,
    pub name: String,
    pub town_code: String,
    pub standardized: bool,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = facilities, treat_none_as_null = true)]
pub struct FacilityChanges {
    pub kind: String,
    pub name: String,
    pub town_code: String,
    pub standardized: bool,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
}

pub fn facilities(conn: &mut DbConn) -> QueryResult<Vec<FacilityRow>> {
    facilities::table
        .order((facilities::town_code.asc(), facilities::id.asc()))
        .select(FacilityRow::as_select())
        .load(conn)
}

pub fn facility(conn: &mut DbConn, public_id: &str) -> QueryResult<Option<FacilityRow>> {
    facilities::table
        .filter(facilities::public_id.eq(public_id))
        .select(FacilityRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_facility(conn: &mut DbConn, row: &NewFacilityRow) -> QueryResult<()> {
    diesel::insert_into(facilities::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

versioned! {
    /// Applies `changes` if the facility is still at `expected_version`; returns whether it was.
    update pub update_facility(facilities, FacilityChanges)
}

pub fn gdp_growth(conn: &mut DbConn) -> QueryResult<Vec<(i32, i32)>> {
    gdp_growth::table
        .order(gdp_growth::year.asc())
        .select((gdp_growth::year, gdp_growth::growth_bp))
        .load(conn)
}

/// Sets a year's growth; returns the previous value, if any.
pub fn set_gdp_growth(
    conn: &mut DbConn,
    year: i32,
    growth_bp: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<i32>> {
    let previous: Option<i32> = gdp_growth::table
        .find(year)
        .select(gdp_growth::growth_bp)
        .first(conn)
        .optional()?;
    if previous.is_some() {
        diesel::update(gdp_growth::table.find(year))
            .set((
                gdp_growth::growth_bp.eq(growth_bp),
                gdp_growth::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(gdp_growth::table)
            .values((
                gdp_growth::year.eq(year),
                gdp_growth::growth_bp.eq(growth_bp),
                gdp_growth::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(previous)
}
