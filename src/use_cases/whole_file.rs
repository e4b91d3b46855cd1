//! The whole file of a resident (一人一档): the resident and every section of the file, read in
//! one snapshot and shown to the requester.
//!
//! It stands above the areas it gathers: each area (`residents`, `subsidies`,
//! `home_modifications`, `sections`, `integration::applications`) shows its own rows with its
//! `of_file`, and none of them imports this module.

use chrono::NaiveDate;
use serde::Serialize;

use crate::access::{check_scope, kept_file_read, record_file_read, Requester};
use crate::db::file::{self as store, FileRows};
use crate::db::file_views::FileViewRow;
use crate::db::DbConn;
use crate::error::AppError;
use crate::protect::Protector;
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

/// A file as sent: the JSON of its [`FileView`], and the resident's version it shows (its
/// `ETag`).
#[derive(Debug, Clone)]
pub struct RenderedFile {
    pub version: i32,
    pub body: String,
}

/// What a rendered file depends on besides its rows: the day (a certificate's status, an
/// expiring one) and the expiring window. The keys of the [`Protector`] are the process's. A
/// file kept rendered ([`db::file_views`]) is sent again only to a reader with the same
/// [`key`](Rendering::key), so nothing else may go into a [`FileView`].
struct Rendering<'a> {
    protector: &'a Protector,
    today: NaiveDate,
    certificate_expiring_days: u32,
}

impl<'a> Rendering<'a> {
    fn of(who: &'a Requester) -> Self {
        Rendering {
            protector: who.protector,
            today: who.today,
            certificate_expiring_days: who.certificate_expiring_days,
        }
    }

    fn key(&self) -> String {
        format!("{}/{}", self.today, self.certificate_expiring_days)
    }
}

/// The whole file of `public_id` as sent to `who` if it is kept rendered for them, served with
/// the reads running beside it by the read-audit writer, which answers only once the read's
/// event is committed (404 when the resident does not exist or is outside `who`'s towns, the
/// refusal audited). `None`: the file is not kept, or the writer is busy; [`read`] it.
pub async fn read_kept(
    who: &Requester<'_>,
    public_id: &str,
) -> Result<Option<RenderedFile>, AppError> {
    let read = kept_file_read(who, public_id, Rendering::of(who).key());
    let kept = who.recorder.read_kept_file(who.audit, read).await?;
    Ok(kept.map(|file| RenderedFile {
        version: file.version,
        body: file.body,
    }))
}

/// The whole file, as sent to `who`, answered only once its `file_read` event is committed.
///
/// The file is read in one snapshot (so its version, the `ETag`, is the version of what it
/// shows), rendered, and kept with the read's event, so the next read of the file, unchanged,
/// on the same day, is served by [`read_kept`].
pub fn read(conn: &mut DbConn, who: &Requester, public_id: &str) -> Result<RenderedFile, AppError> {
    let rendering = Rendering::of(who);
    let rows = store::load(conn, public_id)?.ok_or(AppError::NotFound)?;
    check_scope(conn, who, &rows.resident)?;
    let body = serde_json::to_string(&file_view(&rendering, &rows)?)
        .map_err(|e| AppError::internal(format!("a file did not serialise: {e}")))?;
    let key = rendering.key();
    who.recorder.note_kept(public_id, &key);
    let rendered = FileViewRow {
        resident_id: rows.resident.id,
        version: rows.resident.version,
        rendered_for: key,
        body: body.clone(),
    };
    record_file_read(conn, who, &rows.resident, rendered)?;
    Ok(RenderedFile {
        version: rows.resident.version,
        body,
    })
}

/// The file as rendered for `rendering`, from its stored rows.
fn file_view(rendering: &Rendering, rows: &FileRows) -> Result<FileView, AppError> {
    let protector = rendering.protector;
    let row = &rows.resident;
    let resident = view::resident(protector, row, &rows.household)?;
    let holder = view::id_number(protector, row)?;
    let certificates = rows
        .certificates
        .iter()
        .map(|c| {
            view::certificate(
                &holder,
                c,
                rendering.today,
                rendering.certificate_expiring_days,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(FileView {
        resident,
        certificates,
        subsidies: subsidies::of_file(&rows.grants, &rows.suspensions, rendering.today)?,
        home_modifications: home_modifications::of_file(&rows.cases)?,
        moves: moves::of_file(&rows.moves),
        applications: integration::applications::of_file(
            protector,
            &rows.applications,
            &row.public_id,
        )?,
        sections: sections::of_file(&rows.records),
    })
}
