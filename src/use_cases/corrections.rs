//! Corrections of what was entered by mistake (issue 14).
//!
//! A policy version or an indicator definition that has not taken effect is *withdrawn* by an
//! admin (`subsidies::withdraw_policy`, `indicators::withdraw`). A section record, a subsidy
//! grant or a home-modification case is *voided* by a writer of the resident's town
//! (`sections::void`, `subsidies::void`, `home_modifications::void`): the row stays, marked with
//! when, by whom and why, so the file still shows it (as void) and the audit trail and the
//! history keep the void; but it counts nowhere. Every query that counts, checks rules against
//! or lists work from these rows reads only the rows not voided (`voided_at IS NULL`): the
//! indicators' per-resident projection (`db::indicators::load_stored`, recomputed in the void's
//! transaction because the update marks the resident stale), eligibility and the grant rules
//! (`subsidies`), the work queues (`db::work_queues`), the uniqueness of per-year records and
//! of running grants (partial unique indexes of migration 000013). A void is final: a void row
//! takes no further change (409 `record_voided`), and voiding it again is 409 `already_voided`.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::audit::{Action, AuditContext};
use crate::db::residents::ResidentRow;
use crate::db::{DbConn, WriteTx};
use crate::domain::text;
use crate::error::AppError;
use crate::use_cases::file_rows::{change_in_file, check_version, written, FileRow, VersionedRow};

/// Most characters of a withdrawal's or a void's reason.
const REASON_MAX: usize = 500;

/// The reason of a withdrawal or a void as stored: cleaned by the free-text rule, 1 to 500
/// characters, else 422 naming `reason`.
pub fn reason(raw: &str) -> Result<String, AppError> {
    let mut errors = Vec::new();
    let reason = text::bounded_field(raw, "reason", REASON_MAX, &mut errors);
    if errors.is_empty() {
        Ok(reason)
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Whether a dated version (a subsidy policy, an indicator definition set) may be withdrawn:
/// not withdrawn yet (409 `already_withdrawn`) and not in effect `today` (409 `in_effect`,
/// with `correct_by` saying how one in effect is corrected).
pub fn check_withdrawable(
    withdrawn: bool,
    effective_from: NaiveDate,
    today: NaiveDate,
    in_effect: &'static str,
    correct_by: &str,
) -> Result<(), AppError> {
    if withdrawn {
        return Err(AppError::Conflict {
            code: "already_withdrawn",
            detail: "this version is already withdrawn".into(),
            extra: None,
        });
    }
    if effective_from <= today {
        return Err(AppError::Conflict {
            code: in_effect,
            detail: format!("this version has taken effect; {correct_by}"),
            extra: None,
        });
    }
    Ok(())
}

/// How a row stands as to voiding, as every view of a voidable row shows it: all `null` while
/// the row counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VoidMark {
    /// When the row was voided (RFC 3339, UTC).
    pub voided_at: Option<String>,
    /// The username of who voided it.
    pub voided_by: Option<String>,
    pub void_reason: Option<String>,
}

impl VoidMark {
    pub fn of(at: Option<NaiveDateTime>, by: Option<&str>, reason: Option<&str>) -> Self {
        VoidMark {
            voided_at: at.map(crate::use_cases::accounts::timestamp),
            voided_by: by.map(str::to_owned),
            void_reason: reason.map(str::to_owned),
        }
    }
}

/// A void asked for: the version the caller saw (`If-Match`) and the reason, unchecked.
#[derive(Debug, Clone)]
pub struct VoidRequest {
    pub expected_version: i32,
    pub reason: String,
}

/// 409 for a second void of the same row.
pub fn already_voided(what: &str) -> AppError {
    AppError::Conflict {
        code: "already_voided",
        detail: format!("this {what} is already void"),
        extra: None,
    }
}

/// 409 for a change to a void row.
pub fn voided(what: &str) -> AppError {
    AppError::Conflict {
        code: "record_voided",
        detail: format!("this {what} is void and can no longer be changed; enter a new one"),
        extra: None,
    }
}

/// Marks a row void if it still has the version (id, expected version, by whom, reason, when)
/// and is not void yet; whether it did (the `void` of each table's store).
pub type MarkVoid =
    fn(&mut DbConn, i64, i32, Option<&str>, &str, NaiveDateTime) -> diesel::QueryResult<bool>;

/// What is voided, as the void flow needs it: the names it goes by, how it is read, marked and
/// shown.
pub struct VoidTarget<'a, Row, View> {
    /// What a 409 calls it (`record`, `grant`, `case`).
    pub what: &'static str,
    pub action: Action,
    pub row: FileRow<'a, Row, View>,
    pub mark: MarkVoid,
}

/// The one flow of a void, inside the write transaction of the resident's file (a
/// [`change_in_file`]): the row is refused when it is void already (409) or has changed since
/// it was read (412), else marked with the reason, and the void is audited with what it
/// changed. Answers the row as shown after the void.
pub fn void_in_file<Row: VersionedRow, View: Serialize>(
    conn: &mut WriteTx<'_>,
    ctx: &AuditContext,
    resident: &ResidentRow,
    request: &VoidRequest,
    reason: &str,
    target: VoidTarget<'_, Row, View>,
) -> Result<View, AppError> {
    let by = ctx.actor.username.as_deref();
    change_in_file(conn, ctx, resident, target.row, |conn, row, now| {
        if row.is_void() {
            return Err(already_voided(target.what));
        }
        check_version(row.version(), request.expected_version)?;
        let marked = (target.mark)(conn, row.id(), row.version(), by, reason, now)?;
        written(marked)?;
        Ok(target.action)
    })
}
