use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::certificates;
use crate::domain::certificate::Category;
use crate::error::{stored_code, stored_codes, AppError};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = certificates)]
pub struct CertificateRow {
    pub id: i64,
    pub public_id: String,
    pub resident_id: i64,
    pub category: String,
    pub components: Option<String>,
    pub grade: i32,
    pub reissue: i32,
    pub issued_on: NaiveDate,
    pub valid_until: NaiveDate,
    pub status: String,
    pub cancelled_on: Option<NaiveDate>,
    pub cancel_reason: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The category of a stored certificate.
pub fn category(row: &CertificateRow) -> Result<Category, AppError> {
    stored_code("certificates", "category", &row.category, Category::parse)
}

/// The components of a stored certificate (none for a single category).
pub fn components(row: &CertificateRow) -> Result<Vec<Category>, AppError> {
    row.components.as_deref().map_or(Ok(Vec::new()), |s| {
        stored_codes("certificates", "components", s, Category::parse)
    })
}

/// A certificate to write. An empty column is written as NULL (no such column has another
/// default), which lets many rows go in one statement ([`insert_many`]).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = certificates, treat_none_as_default_value = false)]
pub struct NewCertificateRow {
    pub public_id: String,
    pub resident_id: i64,
    pub category: String,
    pub components: Option<String>,
    pub grade: i32,
    pub reissue: i32,
    pub issued_on: NaiveDate,
    pub valid_until: NaiveDate,
    pub status: String,
    pub created_at: NaiveDateTime,
}

impl NewCertificateRow {
    /// The row as stored under `id`, without reading it back.
    pub fn stored(self, id: i64) -> CertificateRow {
        CertificateRow {
            id,
            public_id: self.public_id,
            resident_id: self.resident_id,
            category: self.category,
            components: self.components,
            grade: self.grade,
            reissue: self.reissue,
            issued_on: self.issued_on,
            valid_until: self.valid_until,
            status: self.status,
            cancelled_on: None,
            cancel_reason: None,
            created_at: self.created_at,
        }
    }
}

pub fn insert(conn: &mut DbConn, row: &NewCertificateRow) -> QueryResult<i64> {
    diesel::insert_into(certificates::table)
        .values(row)
        .returning(certificates::id)
        .get_result(conn)
}

/// Rows written in bulk (an import): `COPY` on PostgreSQL, multi-row `INSERT`s on SQLite.
pub fn insert_many(conn: &mut DbConn, rows: &[NewCertificateRow]) -> QueryResult<()> {
    crate::bulk_insert!(conn, certificates::table, rows);
    Ok(())
}

/// A resident's certificates, newest first.
pub fn of_resident(conn: &mut DbConn, resident_id: i64) -> QueryResult<Vec<CertificateRow>> {
    certificates::table
        .filter(certificates::resident_id.eq(resident_id))
        .order((certificates::issued_on.desc(), certificates::id.desc()))
        .select(CertificateRow::as_select())
        .load(conn)
}

/// The certificates of several residents, each resident's newest first.
pub fn of_residents(conn: &mut DbConn, resident_ids: &[i64]) -> QueryResult<Vec<CertificateRow>> {
    certificates::table
        .filter(certificates::resident_id.eq_any(resident_ids))
        .order((certificates::issued_on.desc(), certificates::id.desc()))
        .select(CertificateRow::as_select())
        .load(conn)
}

/// The active certificates of several residents.
pub fn active_of(conn: &mut DbConn, resident_ids: &[i64]) -> QueryResult<Vec<CertificateRow>> {
    certificates::table
        .filter(certificates::resident_id.eq_any(resident_ids))
        .filter(certificates::cancelled_on.is_null())
        .select(CertificateRow::as_select())
        .load(conn)
}

pub fn active(conn: &mut DbConn, resident_id: i64) -> QueryResult<Option<CertificateRow>> {
    certificates::table
        .filter(certificates::resident_id.eq(resident_id))
        .filter(certificates::cancelled_on.is_null())
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_public_id(
    conn: &mut DbConn,
    resident_id: i64,
    public_id: &str,
) -> QueryResult<Option<CertificateRow>> {
    certificates::table
        .filter(certificates::resident_id.eq(resident_id))
        .filter(certificates::public_id.eq(public_id))
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()
}

pub fn cancel(conn: &mut DbConn, id: i64, on: NaiveDate, reason: &str) -> QueryResult<()> {
    diesel::update(certificates::table.find(id))
        .set((
            certificates::status.eq("cancelled"),
            certificates::cancelled_on.eq(Some(on)),
            certificates::cancel_reason.eq(Some(reason)),
        ))
        .execute(conn)
        .map(|_| ())
}
