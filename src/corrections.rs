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

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::domain::text;
use crate::error::AppError;

/// Most characters of a withdrawal's or a void's reason.
const REASON_MAX: usize = 500;

/// The reason of a withdrawal or a void as stored: cleaned by the free-text rule, 1 to 500
/// characters, else 422 naming `reason`.
pub fn reason(raw: &str) -> Result<String, AppError> {
    let reason = text::clean(raw)
        .map_err(|forbidden| AppError::Validation(vec![forbidden.field_error("reason")]))?;
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        return Err(AppError::field("reason", "invalid", "1 to 500 characters"));
    }
    Ok(reason)
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
            voided_at: at.map(crate::accounts::timestamp),
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
