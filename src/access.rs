//! Who may see and change which resident's file: the access policy every use case applies.
//!
//! A use case receives a [`Requester`] (who asks, for the audit trail; which towns they may
//! see; the keys; what "today" is) and reaches a resident only through [`load_in_scope`] or
//! [`write_in_scope`]. A resident outside the requester's towns is answered exactly like one
//! that does not exist, and the attempt is audited as denied. Every read of a file is audited
//! ([`record_read`]).

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::audit::batch::KeptFileRead;
use crate::audit::{self, Action, AuditContext, Event, Outcome};
use crate::db::file_views::FileViewRow;
use crate::db::residents::{self as store, ResidentRow};
use crate::db::{self, DbConn, WriteTx};
use crate::domain::role::Scope;
use crate::error::AppError;
use crate::protect::Protector;

/// Who asks, and with what.
pub struct Requester<'a> {
    pub audit: &'a AuditContext,
    /// Where the events of reads go (batched with concurrent reads).
    pub recorder: &'a audit::batch::Recorder,
    pub scope: &'a Scope,
    pub protector: &'a Protector,
    pub today: NaiveDate,
    /// Certificates this close to their `valid_until` are shown as expiring
    /// (`CERTIFICATE_EXPIRING_DAYS`).
    pub certificate_expiring_days: u32,
}

/// A resident the requester may see, or 404. An attempt on a resident outside the requester's
/// towns is audited as denied, and answered exactly like a resident that does not exist.
pub fn load_in_scope(
    conn: &mut DbConn,
    who: &Requester,
    public_id: &str,
) -> Result<ResidentRow, AppError> {
    let row = store::by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
    check_scope(conn, who, &row)?;
    Ok(row)
}

/// Nothing if the requester may see `row`; else the audited 404 of [`load_in_scope`].
pub fn check_scope(conn: &mut DbConn, who: &Requester, row: &ResidentRow) -> Result<(), AppError> {
    if !who.scope.allows(&row.town_code) {
        who.recorder
            .record_read(conn, who.audit, denied_event(&row.public_id))?;
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The event of an attempt on the resident `public_id`, outside the caller's towns.
fn denied_event(public_id: &str) -> Event {
    Event::new(Action::AccessDenied)
        .outcome(Outcome::Denied)
        .resident(public_id.to_owned())
        .changes(json!({ "reason": "outside the caller's towns" }))
}

/// Runs a change to a resident's file in one write transaction, handing it the resident. The
/// scope is checked first, outside that transaction, so a refused attempt stays in the audit
/// trail although nothing else is written.
pub fn write_in_scope<T>(
    conn: &mut DbConn,
    who: &Requester,
    public_id: &str,
    work: impl FnOnce(&mut WriteTx<'_>, ResidentRow) -> Result<T, AppError>,
) -> Result<T, AppError> {
    load_in_scope(conn, who, public_id)?;
    db::write_transaction(conn, |conn| {
        let row = load_in_scope(conn, who, public_id)?;
        work(conn, row)
    })
}

/// Records that `who` read the file of `row` (`action`, with an optional `detail`).
pub fn record_read(
    conn: &mut DbConn,
    who: &Requester,
    action: Action,
    row: &ResidentRow,
    detail: Option<Value>,
) -> Result<(), AppError> {
    let mut event = read_event(action, &row.public_id);
    if let Some(detail) = detail {
        event = event.changes(detail);
    }
    who.recorder.record_read(conn, who.audit, event)?;
    Ok(())
}

/// Records that `who` read the whole file of `row`, keeping `rendered` (the file as the read
/// rendered it) with the event.
pub fn record_file_read(
    conn: &mut DbConn,
    who: &Requester,
    row: &ResidentRow,
    rendered: FileViewRow,
) -> Result<(), AppError> {
    let event = read_event(Action::FileRead, &row.public_id);
    who.recorder
        .record_read_keeping(conn, who.audit, event, Some(rendered))?;
    Ok(())
}

/// A read of the whole file of `public_id` for the read-audit writer to serve if the file is
/// kept rendered for `rendered_for`, with the events it leaves, as [`record_file_read`] and
/// [`check_scope`] would record them.
pub fn kept_file_read(who: &Requester, public_id: &str, rendered_for: String) -> KeptFileRead {
    KeptFileRead {
        public_id: public_id.to_owned(),
        rendered_for,
        scope: who.scope.clone(),
        answered: read_event(Action::FileRead, public_id),
        refused: denied_event(public_id),
    }
}

fn read_event(action: Action, public_id: &str) -> Event {
    Event::new(action)
        .entity("resident", public_id.to_owned())
        .resident(public_id.to_owned())
}
