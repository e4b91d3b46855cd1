use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::home_modifications;
use super::versioned::versioned;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = home_modifications)]
pub struct CaseRow {
    pub id: i64,
    pub public_id: String,
    pub resident_id: i64,
    pub status: String,
    pub applied_on: NaiveDate,
    pub assessed_on: Option<NaiveDate>,
    pub assessment: Option<String>,
    pub started_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    pub cancelled_on: Option<NaiveDate>,
    pub cancel_reason: Option<String>,
    pub items: String,
    pub cost_fen: Option<i64>,
    pub version: i32,
    pub voided_at: Option<NaiveDateTime>,
    pub voided_by: Option<String>,
    pub void_reason: Option<String>,
}

pub fn insert(
    conn: &mut DbConn,
    public_id: &str,
    resident_id: i64,
    applied_on: NaiveDate,
    items: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(home_modifications::table)
        .values((
            home_modifications::public_id.eq(public_id),
            home_modifications::resident_id.eq(resident_id),
            home_modifications::status.eq("applied"),
            home_modifications::applied_on.eq(applied_on),
            home_modifications::items.eq(items),
            home_modifications::created_at.eq(now),
            home_modifications::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Every case of a resident, void ones included (the file shows them marked), newest first.
pub fn of_resident(conn: &mut DbConn, resident_id: i64) -> QueryResult<Vec<CaseRow>> {
    home_modifications::table
        .filter(home_modifications::resident_id.eq(resident_id))
        .order((
            home_modifications::applied_on.desc(),
            home_modifications::id.desc(),
        ))
        .select(CaseRow::as_select())
        .load(conn)
}

pub fn by_public_id(
    conn: &mut DbConn,
    resident_id: i64,
    public_id: &str,
) -> QueryResult<Option<CaseRow>> {
    home_modifications::table
        .filter(home_modifications::resident_id.eq(resident_id))
        .filter(home_modifications::public_id.eq(public_id))
        .select(CaseRow::as_select())
        .first(conn)
        .optional()
}

/// The columns a step sets; `None` leaves a column.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = home_modifications)]
pub struct StepChanges {
    pub status: Option<String>,
    pub assessed_on: Option<Option<NaiveDate>>,
    pub assessment: Option<Option<String>>,
    pub started_on: Option<Option<NaiveDate>>,
    pub completed_on: Option<Option<NaiveDate>>,
    pub cancelled_on: Option<Option<NaiveDate>>,
    pub cancel_reason: Option<Option<String>>,
    pub items: Option<String>,
    pub cost_fen: Option<Option<i64>>,
}

versioned! {
    /// Applies a step's `changes` if the case is still at `expected_version`; returns whether it
    /// was.
    update pub apply(home_modifications, StepChanges)
}

versioned! {
    /// Marks a case void, if it still has `expected_version` and is not void; answers whether it
    /// did.
    void void(home_modifications)
}
