use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{certificates, household_statuses, residents};
use super::{DbConn, MultiBackend};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = residents)]
pub struct ResidentRow {
    pub id: i64,
    pub public_id: String,
    pub id_number_enc: String,
    pub id_number_index: String,
    pub name: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub town_code: String,
    pub village_code: Option<String>,
    pub address: Option<String>,
    pub phone_enc: Option<String>,
    pub guardian_name: Option<String>,
    pub guardian_phone_enc: Option<String>,
    pub household_flags: String,
    pub work_capacity: Option<bool>,
    pub registered_on: NaiveDate,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = residents)]
pub struct NewResidentRow {
    pub public_id: String,
    pub id_number_enc: String,
    pub id_number_index: String,
    pub name: String,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub town_code: String,
    pub village_code: Option<String>,
    pub address: Option<String>,
    pub phone_enc: Option<String>,
    pub guardian_name: Option<String>,
    pub guardian_phone_enc: Option<String>,
    pub household_flags: String,
    pub work_capacity: Option<bool>,
    pub registered_on: NaiveDate,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewResidentRow {
    /// The row as stored under `id`, without reading it back.
    pub fn stored(self, id: i64) -> ResidentRow {
        ResidentRow {
            id,
            public_id: self.public_id,
            id_number_enc: self.id_number_enc,
            id_number_index: self.id_number_index,
            name: self.name,
            sex: self.sex,
            birth_date: self.birth_date,
            town_code: self.town_code,
            village_code: self.village_code,
            address: self.address,
            phone_enc: self.phone_enc,
            guardian_name: self.guardian_name,
            guardian_phone_enc: self.guardian_phone_enc,
            household_flags: self.household_flags,
            work_capacity: self.work_capacity,
            registered_on: self.registered_on,
            deceased_on: self.deceased_on,
            moved_out_on: self.moved_out_on,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: 1,
        }
    }
}

/// The columns an update may change; `None` leaves a column as it is.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = residents)]
pub struct ResidentChanges {
    pub name: Option<String>,
    pub town_code: Option<String>,
    pub village_code: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub phone_enc: Option<Option<String>>,
    pub guardian_name: Option<Option<String>>,
    pub guardian_phone_enc: Option<Option<String>>,
    pub household_flags: Option<String>,
    pub work_capacity: Option<Option<bool>>,
    pub registered_on: Option<NaiveDate>,
    pub deceased_on: Option<Option<NaiveDate>>,
    pub moved_out_on: Option<Option<NaiveDate>>,
}

pub fn insert(conn: &mut DbConn, row: &NewResidentRow) -> QueryResult<i64> {
    diesel::insert_into(residents::table)
        .values(row)
        .returning(residents::id)
        .get_result(conn)
}

pub fn by_public_id(conn: &mut DbConn, public_id: &str) -> QueryResult<Option<ResidentRow>> {
    residents::table
        .filter(residents::public_id.eq(public_id))
        .select(ResidentRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_index(conn: &mut DbConn, id_number_index: &str) -> QueryResult<Option<ResidentRow>> {
    residents::table
        .filter(residents::id_number_index.eq(id_number_index))
        .select(ResidentRow::as_select())
        .first(conn)
        .optional()
}

/// Applies `changes` and moves the version on, if the row is still at `expected_version`.
pub fn update_versioned(
    conn: &mut DbConn,
    id: i64,
    expected_version: i32,
    changes: &ResidentChanges,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let target = residents::table
        .filter(residents::id.eq(id))
        .filter(residents::version.eq(expected_version));
    let updated = diesel::update(target)
        .set((
            changes,
            residents::updated_at.eq(now),
            residents::version.eq(residents::version + 1),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Moves the version on after a change elsewhere in the file (a certificate, a status), so the
/// file's ETag changes with any of its parts.
pub fn touch(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(residents::table.find(id))
        .set((
            residents::updated_at.eq(now),
            residents::version.eq(residents::version + 1),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = household_statuses)]
pub struct HouseholdStatusRow {
    pub id: i64,
    pub resident_id: i64,
    pub status: String,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// A resident's household statuses, oldest first.
pub fn household_history(
    conn: &mut DbConn,
    resident_id: i64,
) -> QueryResult<Vec<HouseholdStatusRow>> {
    household_statuses::table
        .filter(household_statuses::resident_id.eq(resident_id))
        .order(household_statuses::since.asc())
        .select(HouseholdStatusRow::as_select())
        .load(conn)
}

/// Household statuses of several residents, by resident then date.
pub fn household_histories(
    conn: &mut DbConn,
    resident_ids: &[i64],
) -> QueryResult<Vec<HouseholdStatusRow>> {
    household_statuses::table
        .filter(household_statuses::resident_id.eq_any(resident_ids))
        .order((
            household_statuses::resident_id.asc(),
            household_statuses::since.asc(),
        ))
        .select(HouseholdStatusRow::as_select())
        .load(conn)
}

/// Closes the open status on `until` and opens `status` from `since`.
pub fn change_household_status(
    conn: &mut DbConn,
    resident_id: i64,
    status: &str,
    since: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let until = since.pred_opt().expect("a date after the first");
    diesel::update(
        household_statuses::table
            .filter(household_statuses::resident_id.eq(resident_id))
            .filter(household_statuses::until.is_null()),
    )
    .set(household_statuses::until.eq(Some(until)))
    .execute(conn)?;
    open_household_status(conn, resident_id, status, since, now)
}

/// Opens the first household status of a new resident.
pub fn open_household_status(
    conn: &mut DbConn,
    resident_id: i64,
    status: &str,
    since: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(household_statuses::table)
        .values((
            household_statuses::resident_id.eq(resident_id),
            household_statuses::status.eq(status),
            household_statuses::since.eq(since),
            household_statuses::created_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// What a resident search may filter on. Every filter narrows; `towns` is the caller's scope.
#[derive(Debug, Default, Clone)]
pub struct ResidentFilter {
    pub towns: Option<Vec<String>>,
    pub name_prefix: Option<String>,
    pub town: Option<String>,
    pub village: Option<String>,
    pub category: Option<String>,
    pub grade: Option<i32>,
    pub status: Option<String>,
    pub household_status: Option<String>,
    pub certificate_expiring_before: Option<NaiveDate>,
    pub after_id: i64,
}

/// Matching residents in id order (stable), at most `limit`. The active certificate and the
/// current household status are joined, not sub-queried: a resident has at most one of each
/// (partial unique indexes), so the join does not repeat rows.
pub fn search(
    conn: &mut DbConn,
    filter: &ResidentFilter,
    limit: i64,
) -> QueryResult<Vec<ResidentRow>> {
    let mut query = residents::table
        .left_join(
            certificates::table.on(certificates::resident_id
                .eq(residents::id)
                .and(certificates::cancelled_on.is_null())),
        )
        .left_join(
            household_statuses::table.on(household_statuses::resident_id
                .eq(residents::id)
                .and(household_statuses::until.is_null())),
        )
        .filter(residents::id.gt(filter.after_id))
        .into_boxed::<MultiBackend>();
    if let Some(towns) = &filter.towns {
        query = query.filter(residents::town_code.eq_any(towns.clone()));
    }
    if let Some(prefix) = &filter.name_prefix {
        let escaped = prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(residents::name.like(format!("{escaped}%")).escape('\\'));
    }
    if let Some(town) = &filter.town {
        query = query.filter(residents::town_code.eq(town.clone()));
    }
    if let Some(village) = &filter.village {
        query = query.filter(residents::village_code.eq(village.clone()));
    }
    match filter.status.as_deref() {
        Some("active") => {
            query = query
                .filter(residents::deceased_on.is_null())
                .filter(residents::moved_out_on.is_null())
        }
        Some("deceased") => query = query.filter(residents::deceased_on.is_not_null()),
        Some("moved_out") => {
            query = query
                .filter(residents::deceased_on.is_null())
                .filter(residents::moved_out_on.is_not_null())
        }
        _ => {}
    }
    if let Some(status) = &filter.household_status {
        query = query.filter(household_statuses::status.eq(status.clone()));
    }
    if let Some(category) = &filter.category {
        query = query.filter(certificates::category.eq(category.clone()));
    }
    if let Some(grade) = filter.grade {
        query = query.filter(certificates::grade.eq(grade));
    }
    if let Some(before) = filter.certificate_expiring_before {
        query = query.filter(certificates::valid_until.lt(before));
    }
    query
        .order(residents::id.asc())
        .limit(limit)
        .select(ResidentRow::as_select())
        .load(conn)
}

/// The residents with these internal ids, in id order.
pub fn by_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<ResidentRow>> {
    residents::table
        .filter(residents::id.eq_any(ids))
        .select(ResidentRow::as_select())
        .order(residents::id)
        .load(conn)
}
