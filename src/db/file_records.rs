use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::file_records;
use super::versioned::versioned;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = file_records)]
pub struct FileRecordRow {
    pub id: i64,
    pub public_id: String,
    pub resident_id: i64,
    pub section: String,
    pub kind: String,
    pub start_on: NaiveDate,
    pub end_on: Option<NaiveDate>,
    pub natural_key: Option<String>,
    pub data: String,
    pub version: i32,
    pub voided_at: Option<NaiveDateTime>,
    pub voided_by: Option<String>,
    pub void_reason: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = file_records)]
pub struct NewFileRecordRow {
    pub public_id: String,
    pub resident_id: i64,
    pub section: String,
    pub kind: String,
    pub start_on: NaiveDate,
    pub end_on: Option<NaiveDate>,
    pub natural_key: Option<String>,
    pub holds: bool,
    pub data: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = file_records, treat_none_as_null = true)]
pub struct FileRecordChanges {
    pub kind: String,
    pub start_on: NaiveDate,
    pub end_on: Option<NaiveDate>,
    pub natural_key: Option<String>,
    pub holds: bool,
    pub data: String,
}

pub fn insert(conn: &mut DbConn, row: &NewFileRecordRow) -> QueryResult<()> {
    diesel::insert_into(file_records::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn by_public_id(
    conn: &mut DbConn,
    resident_id: i64,
    section: &str,
    public_id: &str,
) -> QueryResult<Option<FileRecordRow>> {
    file_records::table
        .filter(file_records::resident_id.eq(resident_id))
        .filter(file_records::section.eq(section))
        .filter(file_records::public_id.eq(public_id))
        .select(FileRecordRow::as_select())
        .first(conn)
        .optional()
}

/// The record that counts (not void) holding `key`.
pub fn by_natural_key(
    conn: &mut DbConn,
    resident_id: i64,
    section: &str,
    key: &str,
) -> QueryResult<Option<FileRecordRow>> {
    file_records::table
        .filter(file_records::resident_id.eq(resident_id))
        .filter(file_records::section.eq(section))
        .filter(file_records::natural_key.eq(key))
        .filter(file_records::voided_at.is_null())
        .select(FileRecordRow::as_select())
        .first(conn)
        .optional()
}

/// A resident's records of one section that count (void ones left out), oldest first.
pub fn counted_of_section(
    conn: &mut DbConn,
    resident_id: i64,
    section: &str,
) -> QueryResult<Vec<FileRecordRow>> {
    file_records::table
        .filter(file_records::resident_id.eq(resident_id))
        .filter(file_records::section.eq(section))
        .filter(file_records::voided_at.is_null())
        .order((file_records::start_on.asc(), file_records::id.asc()))
        .select(FileRecordRow::as_select())
        .load(conn)
}

/// All of a resident's records, void ones included (the file shows them marked), by section,
/// oldest first.
pub fn of_resident(conn: &mut DbConn, resident_id: i64) -> QueryResult<Vec<FileRecordRow>> {
    file_records::table
        .filter(file_records::resident_id.eq(resident_id))
        .order((
            file_records::section.asc(),
            file_records::start_on.asc(),
            file_records::id.asc(),
        ))
        .select(FileRecordRow::as_select())
        .load(conn)
}

versioned! {
    /// Applies `changes` if the record is still at `expected_version`; returns whether it was.
    update pub update_versioned(file_records, FileRecordChanges)
}

versioned! {
    /// Marks a record void, if it still has `expected_version` and is not void; answers whether
    /// it did. The version moves on, so the record's ETag changes.
    void void(file_records)
}
