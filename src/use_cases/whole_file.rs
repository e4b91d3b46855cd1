//! The whole file of a resident (一人一档): the resident and every section of the file, read in
//! one snapshot and shown to the requester.
//!
//! It stands above the areas it gathers: each area (`residents`, `subsidies`,
//! `home_modifications`, `sections`, `integration::applications`) shows its own rows with its
//! `of_file`, and none of them imports this module.

use serde::Serialize;

use crate::access::{check_scope, record_read, Requester};
use crate::audit::Action;
use crate::db::file::{self as store, FileRows};
use crate::db::DbConn;
use crate::error::AppError;
use crate::use_cases::residents::moves::{self, MoveView};
use crate::use_cases::residents::view::{self, CertificateView, ResidentView};
use crate::use_cases::{home_modifications, integration, sections, subsidies};

/// The whole file: the resident and every section that exists.
#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    pub resident: ResidentView,
    pub certificates: Vec<CertificateView>,
    pub subsidies: Vec<subsidies::GrantView>,
    pub home_modifications: Vec<home_modifications::CaseView>,
    /// The moves between towns of the district, oldest first.
    pub moves: Vec<MoveView>,
    /// The applications for services (from Zheliban or a counter), newest first.
    pub applications: Vec<integration::applications::ApplicationView>,
    /// The dated records of the other sections, by section name.
    #[serde(flatten)]
    pub sections: serde_json::Map<String, serde_json::Value>,
}

/// The whole file, read in one snapshot (so its version, the `ETag`, is the version of what it
/// shows), then audited: answered only once its `file_read` event is committed.
pub fn read(conn: &mut DbConn, who: &Requester, public_id: &str) -> Result<FileView, AppError> {
    let rows = store::load(conn, public_id)?.ok_or(AppError::NotFound)?;
    check_scope(conn, who, &rows.resident)?;
    let file = file_view(who, &rows)?;
    record_read(conn, who, Action::FileRead, &rows.resident, None)?;
    Ok(file)
}

/// The file as shown to `who`, from its stored rows.
fn file_view(who: &Requester, rows: &FileRows) -> Result<FileView, AppError> {
    let row = &rows.resident;
    let resident = view::resident(who.protector, row, &rows.household)?;
    let holder = view::id_number(who.protector, row)?;
    let certificates = rows
        .certificates
        .iter()
        .map(|c| view::certificate(&holder, c, who.today, who.certificate_expiring_days))
        .collect::<Result<_, _>>()?;
    Ok(FileView {
        resident,
        certificates,
        subsidies: subsidies::of_file(&rows.grants, &rows.suspensions, who.today)?,
        home_modifications: home_modifications::of_file(&rows.cases)?,
        moves: moves::of_file(&rows.moves),
        applications: integration::applications::of_file(
            who.protector,
            &rows.applications,
            &row.public_id,
        )?,
        sections: sections::of_file(&rows.records),
    })
}
