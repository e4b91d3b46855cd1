//! The certificate's life: issue, renew, reissue (`B1`…`B9`), re-assess, cancel. At most one
//! certificate is active; every earlier one stays in the file, cancelled with its reason.

use chrono::{Months, NaiveDate};
use serde_json::json;

use super::view::{self, CertificateView};
use crate::access::{write_in_scope, Requester};
use crate::audit::{self, Action, Event};
use crate::db::certificates::{self as store, CertificateRow, NewCertificateRow};
use crate::db::residents::{self as residents, ResidentRow};
use crate::db::{self, DbConn, WriteTx};
use crate::domain::certificate::{grade_error, CancelReason, Category, CertificateNumber};
use crate::domain::id_number::IdNumber;
use crate::domain::resident::{status, ResidentStatus};
use crate::error::{AppError, FieldError};

/// How long a certificate is valid unless another date is given.
const VALIDITY_YEARS: u32 = 10;

/// What a new certificate says: category, its parts if multiple, grade, dates.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub category: Category,
    pub components: Vec<Category>,
    pub grade: i32,
    pub issued_on: NaiveDate,
    pub valid_until: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub enum CertificateAction {
    Renew {
        issued_on: NaiveDate,
        valid_until: Option<NaiveDate>,
    },
    Reissue {
        issued_on: NaiveDate,
    },
    Reassess(Assessment),
    Cancel {
        reason: CancelReason,
        cancelled_on: NaiveDate,
    },
}

fn default_validity(issued_on: NaiveDate) -> NaiveDate {
    issued_on
        .checked_add_months(Months::new(12 * VALIDITY_YEARS))
        .unwrap_or(NaiveDate::MAX)
}

/// Checks an assessment against the holder; returns the validity end.
fn check_assessment(
    a: &Assessment,
    birth: NaiveDate,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> NaiveDate {
    errors.extend(grade_error("grade", a.grade));
    match a.category {
        Category::Multiple => {
            let mut parts = a.components.clone();
            parts.sort();
            parts.dedup();
            if parts.len() < 2
                || parts.contains(&Category::Multiple)
                || parts.len() != a.components.len()
            {
                errors.push(FieldError::new(
                    "components",
                    "invalid",
                    "a multiple disability lists two or more different single categories",
                ));
            }
        }
        _ if !a.components.is_empty() => errors.push(FieldError::new(
            "components",
            "not_allowed",
            "only a multiple disability has components",
        )),
        _ => {}
    }
    super::fields::check_life_date(errors, "issued_on", a.issued_on, birth, today);
    let valid_until = a
        .valid_until
        .unwrap_or_else(|| default_validity(a.issued_on));
    if valid_until <= a.issued_on {
        errors.push(FieldError::new(
            "valid_until",
            "not_after_issue",
            "must be after the issue date",
        ));
    }
    valid_until
}

fn insert(
    conn: &mut DbConn,
    resident: &ResidentRow,
    a: &Assessment,
    valid_until: NaiveDate,
    reissue: i32,
) -> Result<CertificateRow, AppError> {
    let new = new_row(resident.id, a, valid_until, reissue);
    let id = store::insert(conn, &new).map_err(|e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => active_exists(),
        other => other.into(),
    })?;
    Ok(new.stored(id))
}

/// The row of a new active certificate of the resident `resident_id`, under a new public id.
fn new_row(
    resident_id: i64,
    a: &Assessment,
    valid_until: NaiveDate,
    reissue: i32,
) -> NewCertificateRow {
    let components = (!a.components.is_empty()).then(|| {
        serde_json::to_string(&a.components.iter().map(|c| c.as_str()).collect::<Vec<_>>())
            .expect("codes serialise")
    });
    NewCertificateRow {
        public_id: uuid::Uuid::new_v4().to_string(),
        resident_id,
        category: a.category.as_str().to_owned(),
        components,
        grade: a.grade,
        reissue,
        issued_on: a.issued_on,
        valid_until,
        status: "active".to_owned(),
        created_at: db::now(),
    }
}

/// A checked new certificate of a resident who holds no active one, as a row to write (many at
/// once: an import; `resident_id` may be set later, when the resident is written), and the
/// audit event of issuing it.
pub(crate) fn issued_row(
    resident_id: i64,
    resident_public_id: &str,
    a: &Assessment,
    checked: Checked,
) -> (NewCertificateRow, Event) {
    let new = new_row(resident_id, a, checked.valid_until, checked.reissue);
    // The event shows no row id.
    let event = change_event(
        resident_public_id,
        Action::CertificateIssue,
        &new.clone().stored(0),
        None,
    );
    (new, event)
}

fn active_exists() -> AppError {
    AppError::Conflict {
        code: "active_certificate_exists",
        detail: "the resident already holds an active certificate; renew, reissue, re-assess or cancel it"
            .to_owned(),
        extra: None,
    }
}

fn must_be_active_resident(resident: &ResidentRow) -> Result<(), AppError> {
    if status(resident.deceased_on, resident.moved_out_on) != ResidentStatus::Active {
        return Err(AppError::Conflict {
            code: "resident_not_active",
            detail: "the resident is recorded as deceased or moved out".to_owned(),
            extra: None,
        });
    }
    Ok(())
}

/// What the audit trail keeps of a certificate: never the number, which holds the ID number.
fn audit_image(row: &CertificateRow) -> serde_json::Value {
    json!({
        "category": row.category,
        "components": row.components,
        "grade": row.grade,
        "reissue": row.reissue,
        "issued_on": row.issued_on,
        "valid_until": row.valid_until,
        "status": row.status,
        "cancelled_on": row.cancelled_on,
        "cancel_reason": row.cancel_reason,
    })
}

fn record(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    resident: &ResidentRow,
    action: Action,
    certificate: &CertificateRow,
    before: Option<&CertificateRow>,
) -> Result<(), AppError> {
    audit::append(
        conn,
        who.audit,
        change_event(&resident.public_id, action, certificate, before),
    )?;
    Ok(())
}

/// The audit event of a change to a certificate of the resident `resident_public_id`.
fn change_event(
    resident_public_id: &str,
    action: Action,
    certificate: &CertificateRow,
    before: Option<&CertificateRow>,
) -> Event {
    let changes = match before {
        Some(before) => audit::diff(&audit_image(before), &audit_image(certificate)),
        None => audit::created(audit_image(certificate)),
    };
    Event::new(action)
        .entity("certificate", certificate.public_id.clone())
        .resident(resident_public_id.to_owned())
        .changes(changes)
}

/// Cancels a stored certificate (for a death or move-out recorded on the resident, or an
/// action), audited.
pub(crate) fn cancel_stored(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    resident: &ResidentRow,
    cert: &CertificateRow,
    reason: CancelReason,
    on: NaiveDate,
) -> Result<CertificateRow, AppError> {
    store::cancel(conn, cert.id, on, reason.as_str())?;
    let after =
        store::by_public_id(conn, resident.id, &cert.public_id)?.ok_or(AppError::NotFound)?;
    record(
        conn,
        who,
        resident,
        Action::CertificateCancel,
        &after,
        Some(cert),
    )?;
    Ok(after)
}

/// Checks a submitted certificate number against the holder and the assessment.
fn check_number(
    number: &str,
    holder: &IdNumber,
    a: &Assessment,
    errors: &mut Vec<FieldError>,
) -> i32 {
    let Some(parsed) = CertificateNumber::parse(number) else {
        errors.push(FieldError::new(
            "number",
            "invalid_format",
            "a certificate number is the 18-character ID number, the category digit (1-7), the grade digit (1-4) and optionally B1-B9",
        ));
        return 0;
    };
    if parsed.holder_prefix != holder.as_str() {
        errors.push(FieldError::new(
            "number",
            "holder_mismatch",
            "the first 18 characters must be the holder's ID number",
        ));
    }
    if parsed.category != a.category {
        errors.push(FieldError::new(
            "number",
            "category_mismatch",
            "the category digit does not match the category",
        ));
    }
    if parsed.grade != a.grade {
        errors.push(FieldError::new(
            "number",
            "grade_mismatch",
            "the grade digit does not match the grade",
        ));
    }
    i32::from(parsed.reissue)
}

/// Issues a first (or, after a cancellation, a new) certificate, inside the caller's write
/// transaction.
pub(crate) fn issue_stored(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    resident: &ResidentRow,
    number: &str,
    a: &Assessment,
) -> Result<CertificateRow, AppError> {
    must_be_active_resident(resident)?;
    let holder = view::id_number(who.protector, resident)?;
    let checked = check_new(&holder, number, a, who.today)?;
    if store::active(conn, resident.id)?.is_some() {
        return Err(active_exists());
    }
    let cert = issue_checked(conn, who, resident, a, checked)?;
    residents::touch(conn, resident.id, db::now())?;
    Ok(cert)
}

/// A new certificate that passed its checks: its reissue count and last valid day.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checked {
    reissue: i32,
    valid_until: NaiveDate,
}

/// Checks a new certificate of `holder`, before anything is written.
pub(crate) fn check_new(
    holder: &IdNumber,
    number: &str,
    a: &Assessment,
    today: NaiveDate,
) -> Result<Checked, AppError> {
    let mut errors = Vec::new();
    let reissue = check_number(number, holder, a, &mut errors);
    let valid_until = check_assessment(a, holder.birth_date(), today, &mut errors);
    if errors.is_empty() {
        Ok(Checked {
            reissue,
            valid_until,
        })
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Writes a checked certificate of a resident who holds no active one, with its audit event.
pub(crate) fn issue_checked(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    resident: &ResidentRow,
    a: &Assessment,
    checked: Checked,
) -> Result<CertificateRow, AppError> {
    let cert = insert(conn, resident, a, checked.valid_until, checked.reissue)?;
    record(conn, who, resident, Action::CertificateIssue, &cert, None)?;
    Ok(cert)
}

pub fn issue(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    number: &str,
    a: Assessment,
) -> Result<CertificateView, AppError> {
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let cert = issue_stored(conn, who, &resident, number, &a)?;
        view::certificate(
            &view::id_number(who.protector, &resident)?,
            &cert,
            who.today,
            who.certificate_expiring_days,
        )
    })
}

fn not_active() -> AppError {
    AppError::Conflict {
        code: "certificate_not_active",
        detail: "only the active certificate can be renewed, reissued, re-assessed or cancelled"
            .to_owned(),
        extra: None,
    }
}

/// Applies an action to the active certificate; returns the certificate that results (the new
/// one, or the cancelled one).
pub fn act(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    certificate_id: &str,
    action: CertificateAction,
) -> Result<CertificateView, AppError> {
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let cert =
            store::by_public_id(conn, resident.id, certificate_id)?.ok_or(AppError::NotFound)?;
        if cert.status != "active" {
            return Err(not_active());
        }
        let holder = view::id_number(who.protector, &resident)?;
        let current = Assessment {
            category: store::category(&cert)?,
            components: store::components(&cert)?,
            grade: cert.grade,
            issued_on: cert.issued_on,
            valid_until: Some(cert.valid_until),
        };
        let mut errors = Vec::new();
        let result = match action {
            CertificateAction::Cancel {
                reason,
                cancelled_on,
            } => {
                if !reason.is_manual() {
                    errors.push(FieldError::new(
                        "reason",
                        "not_allowed",
                        "renewed, reissued and reassessed are set by those actions",
                    ));
                }
                if cancelled_on < cert.issued_on {
                    errors.push(FieldError::new(
                        "cancelled_on",
                        "before_issue",
                        "the certificate was not yet issued",
                    ));
                } else if cancelled_on > who.today {
                    errors.push(FieldError::new(
                        "cancelled_on",
                        "in_future",
                        "the date is in the future",
                    ));
                }
                if !errors.is_empty() {
                    return Err(AppError::Validation(errors));
                }
                cancel_stored(conn, who, &resident, &cert, reason, cancelled_on)?
            }
            other => {
                must_be_active_resident(&resident)?;
                let (next, reissue, reason, action) = match other {
                    CertificateAction::Renew {
                        issued_on,
                        valid_until,
                    } => (
                        Assessment {
                            issued_on,
                            valid_until,
                            ..current.clone()
                        },
                        cert.reissue,
                        CancelReason::Renewed,
                        Action::CertificateRenew,
                    ),
                    CertificateAction::Reissue { issued_on } => {
                        if cert.reissue >= 9 {
                            return Err(AppError::Conflict {
                                code: "reissue_limit",
                                detail: "a certificate can be reissued at most nine times (B1-B9)"
                                    .to_owned(),
                                extra: None,
                            });
                        }
                        (
                            Assessment {
                                issued_on,
                                valid_until: Some(cert.valid_until),
                                ..current.clone()
                            },
                            cert.reissue + 1,
                            CancelReason::Reissued,
                            Action::CertificateReissue,
                        )
                    }
                    CertificateAction::Reassess(a) => {
                        (a, 0, CancelReason::Reassessed, Action::CertificateReassess)
                    }
                    CertificateAction::Cancel { .. } => unreachable!("handled above"),
                };
                let valid_until =
                    check_assessment(&next, resident.birth_date, who.today, &mut errors);
                if next.issued_on < cert.issued_on {
                    errors.push(FieldError::new(
                        "issued_on",
                        "before_current",
                        "the new certificate cannot be issued before the current one",
                    ));
                }
                if !errors.is_empty() {
                    return Err(AppError::Validation(errors));
                }
                cancel_stored(conn, who, &resident, &cert, reason, next.issued_on)?;
                let new = insert(conn, &resident, &next, valid_until, reissue)?;
                record(conn, who, &resident, action, &new, None)?;
                new
            }
        };
        residents::touch(conn, resident.id, db::now())?;
        view::certificate(&holder, &result, who.today, who.certificate_expiring_days)
    })
}
