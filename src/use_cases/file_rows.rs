//! The one flow of a change to a versioned row of a resident's file (a section record, a
//! subsidy grant, a home-modification case): read the row, check it, write it under its
//! version, move the file's version on, audit what changed. The use cases of each area say
//! only what differs: how the row is read and shown, and what the change checks and writes.
//! Rows outside a file (accounts, facilities) share the version checks [`check_version`] and
//! [`written`].

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::audit::{self, Action, AuditContext, Event};
use crate::db::file_records::FileRecordRow;
use crate::db::home_modifications::CaseRow;
use crate::db::residents::{self as residents_store, ResidentRow};
use crate::db::subsidies::GrantRow;
use crate::db::{self, DbConn, WriteTx};
use crate::error::AppError;

/// 412 unless the stored row is still at the version the caller read (`If-Match`).
pub fn check_version(stored: i32, expected: i32) -> Result<(), AppError> {
    if stored != expected {
        return Err(AppError::PreconditionFailed);
    }
    Ok(())
}

/// The answer of a conditional write (`update_versioned`, `void`): 412 when the row had
/// moved on under it.
pub fn written(updated: bool) -> Result<(), AppError> {
    if !updated {
        return Err(AppError::PreconditionFailed);
    }
    Ok(())
}

/// A stored row of a resident's file: what the change flow reads of it, whatever its table.
pub trait VersionedRow {
    fn id(&self) -> i64;
    fn public_id(&self) -> &str;
    fn version(&self) -> i32;
    fn is_void(&self) -> bool;
}

macro_rules! versioned_row {
    ($($row:ty),*) => {$(
        impl VersionedRow for $row {
            fn id(&self) -> i64 {
                self.id
            }
            fn public_id(&self) -> &str {
                &self.public_id
            }
            fn version(&self) -> i32 {
                self.version
            }
            fn is_void(&self) -> bool {
                self.voided_at.is_some()
            }
        }
    )*};
}

versioned_row!(FileRecordRow, GrantRow, CaseRow);

/// A row of a resident's file as the change flow needs it: the entity type the audit trail
/// names it by, how it is read and how it is shown.
pub struct FileRow<'a, Row, View> {
    pub entity_type: &'static str,
    /// Reads the row within the resident's file (`None`: not there).
    pub load: &'a dyn Fn(&mut DbConn) -> Result<Option<Row>, AppError>,
    pub view: &'a dyn Fn(&mut DbConn, &Row) -> Result<View, AppError>,
}

/// Changes a row of the resident's file, inside the file's write transaction: the row is read
/// (404 when not in the file) and shown as it was; `change` checks and writes it at `now`
/// (refusing with its own error: 409, 412, 422) and names the action done; the resident's
/// version moves on, so the file's ETag changes with any of its parts; the change is audited
/// with the differences of the row as shown. Answers the row as shown after the change.
pub fn change_in_file<Row: VersionedRow, View: Serialize>(
    conn: &mut WriteTx<'_>,
    ctx: &AuditContext,
    resident: &ResidentRow,
    target: FileRow<'_, Row, View>,
    change: impl FnOnce(&mut WriteTx<'_>, &Row, NaiveDateTime) -> Result<Action, AppError>,
) -> Result<View, AppError> {
    let row = (target.load)(conn)?.ok_or(AppError::NotFound)?;
    let before = (target.view)(conn, &row)?;
    let now = db::now();
    let action = change(conn, &row, now)?;
    residents_store::touch(conn, resident.id, now)?;
    let changed = (target.load)(conn)?.ok_or(AppError::NotFound)?;
    let after = (target.view)(conn, &changed)?;
    audit::append(
        conn,
        ctx,
        Event::new(action)
            .entity(target.entity_type, row.public_id().to_owned())
            .resident(resident.public_id.clone())
            .changes(audit::diff_of(&before, &after)),
    )?;
    Ok(after)
}
