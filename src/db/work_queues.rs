//! The rows behind the work queues (`crate::use_cases::work_queues`): each query reads the open items of
//! one kind across the district; the use case joins them to their residents and keeps those in
//! the caller's towns.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::certificates::CertificateRow;
use super::conn::DbConn;
use super::home_modifications::CaseRow;
use super::residents::HouseholdStatusRow;
use super::schema::{
    certificates, grant_suspensions, home_modifications, household_statuses, subsidy_grants,
};

/// Certificates not cancelled whose validity ends on or before `until`.
pub fn certificates_ending_by(
    conn: &mut DbConn,
    until: NaiveDate,
) -> QueryResult<Vec<CertificateRow>> {
    certificates::table
        .filter(certificates::cancelled_on.is_null())
        .filter(certificates::valid_until.le(until))
        .order((certificates::resident_id, certificates::id))
        .select(CertificateRow::as_select())
        .load(conn)
}

/// Home-modification cases neither completed, cancelled nor void.
pub fn open_cases(conn: &mut DbConn) -> QueryResult<Vec<CaseRow>> {
    home_modifications::table
        .filter(home_modifications::status.ne_all(["completed", "cancelled"]))
        .filter(home_modifications::voided_at.is_null())
        .order((home_modifications::resident_id, home_modifications::id))
        .select(CaseRow::as_select())
        .load(conn)
}

/// A suspension not resumed, of a grant neither terminated nor void.
pub struct OpenSuspension {
    pub resident_id: i64,
    pub grant_id: i64,
    pub grant_public_id: String,
    pub kind: String,
    pub suspended_on: NaiveDate,
}

pub fn open_suspensions(conn: &mut DbConn) -> QueryResult<Vec<OpenSuspension>> {
    let suspended: Vec<(i64, NaiveDate)> = grant_suspensions::table
        .filter(grant_suspensions::resumed_on.is_null())
        .select((grant_suspensions::grant_id, grant_suspensions::suspended_on))
        .load(conn)?;
    let ids: Vec<i64> = suspended.iter().map(|(grant, _)| *grant).collect();
    let suspended: std::collections::HashMap<i64, NaiveDate> = suspended.into_iter().collect();
    let mut grants: Vec<(i64, i64, String, String)> = Vec::new();
    for chunk in ids.chunks(10_000) {
        grants.extend(
            subsidy_grants::table
                .filter(subsidy_grants::id.eq_any(chunk))
                .filter(subsidy_grants::terminated_on.is_null())
                .filter(subsidy_grants::voided_at.is_null())
                .select((
                    subsidy_grants::id,
                    subsidy_grants::resident_id,
                    subsidy_grants::public_id,
                    subsidy_grants::kind,
                ))
                .load::<(i64, i64, String, String)>(conn)?,
        );
    }
    Ok(grants
        .into_iter()
        .filter_map(|(grant_id, resident_id, grant_public_id, kind)| {
            Some(OpenSuspension {
                resident_id,
                grant_id,
                grant_public_id,
                kind,
                suspended_on: *suspended.get(&grant_id)?,
            })
        })
        .collect())
}

/// Every household status period other than `none`, by resident then date.
pub fn qualifying_statuses(conn: &mut DbConn) -> QueryResult<Vec<HouseholdStatusRow>> {
    household_statuses::table
        .filter(household_statuses::status.ne("none"))
        .order((household_statuses::resident_id, household_statuses::since))
        .select(HouseholdStatusRow::as_select())
        .load(conn)
}
