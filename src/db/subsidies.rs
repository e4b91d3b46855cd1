use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::{grant_suspensions, subsidy_grants, subsidy_policies};
use super::versioned::versioned;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subsidy_policies)]
pub struct PolicyRow {
    pub id: i64,
    pub public_id: String,
    pub kind: String,
    pub effective_from: NaiveDate,
    pub monthly_amount_fen: i64,
    pub rules: String,
    pub created_at: NaiveDateTime,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub withdraw_reason: Option<String>,
}

/// Every policy version, withdrawn ones included.
pub fn policies(conn: &mut DbConn) -> QueryResult<Vec<PolicyRow>> {
    subsidy_policies::table
        .order((
            subsidy_policies::kind.asc(),
            subsidy_policies::effective_from.asc(),
        ))
        .select(PolicyRow::as_select())
        .load(conn)
}

pub fn withdraw_policy(
    conn: &mut DbConn,
    id: i64,
    reason: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(subsidy_policies::table.find(id))
        .set((
            subsidy_policies::withdrawn_at.eq(at),
            subsidy_policies::withdraw_reason.eq(reason),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn insert_policy(
    conn: &mut DbConn,
    public_id: &str,
    kind: &str,
    effective_from: NaiveDate,
    monthly_amount_fen: i64,
    rules: &str,
) -> QueryResult<()> {
    diesel::insert_into(subsidy_policies::table)
        .values((
            subsidy_policies::public_id.eq(public_id),
            subsidy_policies::kind.eq(kind),
            subsidy_policies::effective_from.eq(effective_from),
            subsidy_policies::monthly_amount_fen.eq(monthly_amount_fen),
            subsidy_policies::rules.eq(rules),
            subsidy_policies::created_at.eq(super::conn::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = subsidy_grants)]
pub struct GrantRow {
    pub id: i64,
    pub public_id: String,
    pub resident_id: i64,
    pub kind: String,
    pub start_month: NaiveDate,
    pub monthly_amount_fen: i64,
    pub eligible_at_start: bool,
    pub override_reason: Option<String>,
    pub terminated_on: Option<NaiveDate>,
    pub terminate_reason: Option<String>,
    pub decided_by: Option<String>,
    pub version: i32,
    pub voided_at: Option<NaiveDateTime>,
    pub voided_by: Option<String>,
    pub void_reason: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = subsidy_grants)]
pub struct NewGrantRow {
    pub public_id: String,
    pub resident_id: i64,
    pub kind: String,
    pub start_month: NaiveDate,
    pub monthly_amount_fen: i64,
    pub eligible_at_start: bool,
    pub override_reason: Option<String>,
    pub decided_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_grant(conn: &mut DbConn, row: &NewGrantRow) -> QueryResult<()> {
    diesel::insert_into(subsidy_grants::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Every grant of a resident, void ones included (the file shows them marked), newest first.
pub fn grants_of(conn: &mut DbConn, resident_id: i64) -> QueryResult<Vec<GrantRow>> {
    subsidy_grants::table
        .filter(subsidy_grants::resident_id.eq(resident_id))
        .order((
            subsidy_grants::start_month.desc(),
            subsidy_grants::id.desc(),
        ))
        .select(GrantRow::as_select())
        .load(conn)
}

pub fn grant(
    conn: &mut DbConn,
    resident_id: i64,
    public_id: &str,
) -> QueryResult<Option<GrantRow>> {
    subsidy_grants::table
        .filter(subsidy_grants::resident_id.eq(resident_id))
        .filter(subsidy_grants::public_id.eq(public_id))
        .select(GrantRow::as_select())
        .first(conn)
        .optional()
}

/// The grants of a resident that count (not void), newest first.
pub fn counted_grants_of(conn: &mut DbConn, resident_id: i64) -> QueryResult<Vec<GrantRow>> {
    Ok(grants_of(conn, resident_id)?
        .into_iter()
        .filter(|g| g.voided_at.is_none())
        .collect())
}

/// The grant of `kind` that is neither terminated nor void, if any.
pub fn running(conn: &mut DbConn, resident_id: i64, kind: &str) -> QueryResult<Option<GrantRow>> {
    subsidy_grants::table
        .filter(subsidy_grants::resident_id.eq(resident_id))
        .filter(subsidy_grants::kind.eq(kind))
        .filter(subsidy_grants::terminated_on.is_null())
        .filter(subsidy_grants::voided_at.is_null())
        .select(GrantRow::as_select())
        .first(conn)
        .optional()
}

pub fn terminate(
    conn: &mut DbConn,
    id: i64,
    on: NaiveDate,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(subsidy_grants::table.find(id))
        .set((
            subsidy_grants::terminated_on.eq(Some(on)),
            subsidy_grants::terminate_reason.eq(Some(reason)),
            subsidy_grants::updated_at.eq(now),
            subsidy_grants::version.eq(subsidy_grants::version + 1),
        ))
        .execute(conn)
        .map(|_| ())
}

versioned! {
    /// Marks a grant void, if it still has `expected_version` and is not void; answers whether it
    /// did. Its suspensions stay as they were: they count only through their grant.
    void void_grant(subsidy_grants)
}

versioned! {
    /// Moves a grant's version on after a change to its suspensions.
    touch touch_grant(subsidy_grants)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = grant_suspensions)]
pub struct SuspensionRow {
    pub id: i64,
    pub grant_id: i64,
    pub suspended_on: NaiveDate,
    pub resumed_on: Option<NaiveDate>,
    pub reason: String,
}

pub fn suspensions_of(conn: &mut DbConn, resident_id: i64) -> QueryResult<Vec<SuspensionRow>> {
    grant_suspensions::table
        .filter(grant_suspensions::resident_id.eq(resident_id))
        .order((
            grant_suspensions::grant_id.asc(),
            grant_suspensions::suspended_on.asc(),
        ))
        .select(SuspensionRow::as_select())
        .load(conn)
}

pub fn suspend(
    conn: &mut DbConn,
    grant_id: i64,
    resident_id: i64,
    on: NaiveDate,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(grant_suspensions::table)
        .values((
            grant_suspensions::grant_id.eq(grant_id),
            grant_suspensions::resident_id.eq(resident_id),
            grant_suspensions::suspended_on.eq(on),
            grant_suspensions::reason.eq(reason),
            grant_suspensions::created_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn resume(conn: &mut DbConn, suspension_id: i64, on: NaiveDate) -> QueryResult<()> {
    diesel::update(grant_suspensions::table.find(suspension_id))
        .set(grant_suspensions::resumed_on.eq(Some(on)))
        .execute(conn)
        .map(|_| ())
}
