//! Barrier-free home modification cases: applied, assessed, in progress, completed or
//! cancelled, each step by its own action, dated and audited. A case entered by mistake is
//! voided ([`void`], see [`crate::use_cases::corrections`]): shown marked, counted nowhere, changed no more.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::access::{write_in_scope, Requester};
use crate::audit::{self, Action, Event};
use crate::db::home_modifications::{self as store, CaseRow, StepChanges};
use crate::db::residents as residents_store;
use crate::db::{self, DbConn};
use crate::domain::home_modification::{next, Assessment, CaseState, CaseStatus, Step, StepError};
use crate::domain::text;
use crate::error::{stored_code, AppError, FieldError};
use crate::use_cases::corrections::{self, VoidMark, VoidRequest, VoidTarget};
use crate::use_cases::file_rows::{change_in_file, written, FileRow};
use crate::use_cases::sections::Life;

/// Most characters of a cancellation's reason.
const REASON_MAX: usize = 200;

/// One item of the work (a ramp, grab bars…), with its cost in fen when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub name: String,
    pub cost_fen: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub id: String,
    pub status: CaseStatus,
    pub applied_on: NaiveDate,
    pub assessed_on: Option<NaiveDate>,
    pub assessment: Option<Assessment>,
    pub started_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    pub cancelled_on: Option<NaiveDate>,
    pub cancel_reason: Option<String>,
    pub items: Vec<Item>,
    pub cost_fen: Option<i64>,
    pub version: i32,
    /// Set once the case is voided as entered by mistake; it then counts nowhere.
    #[serde(flatten)]
    pub void: VoidMark,
}

fn view(row: &CaseRow) -> Result<CaseView, AppError> {
    const TABLE: &str = "home_modifications";
    Ok(CaseView {
        id: row.public_id.clone(),
        status: stored_code(TABLE, "status", &row.status, CaseStatus::parse)?,
        applied_on: row.applied_on,
        assessed_on: row.assessed_on,
        assessment: row
            .assessment
            .as_deref()
            .map(|a| stored_code(TABLE, "assessment", a, Assessment::parse))
            .transpose()?,
        started_on: row.started_on,
        completed_on: row.completed_on,
        cancelled_on: row.cancelled_on,
        cancel_reason: row.cancel_reason.clone(),
        items: serde_json::from_str(&row.items)
            .map_err(|_| AppError::unknown_code(TABLE, "items", &row.items))?,
        cost_fen: row.cost_fen,
        version: row.version,
        void: VoidMark::of(
            row.voided_at,
            row.voided_by.as_deref(),
            row.void_reason.as_deref(),
        ),
    })
}

/// A resident's cases as the file shows them, in the order of `rows`.
pub fn of_file(rows: &[CaseRow]) -> Result<Vec<CaseView>, AppError> {
    rows.iter().map(view).collect()
}

/// Checks the items and returns them as stored (names cleaned by the free-text rule).
fn check_items(items: Vec<Item>, errors: &mut Vec<FieldError>) -> Vec<Item> {
    let items: Vec<Item> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| Item {
            name: text::clean_field(&item.name, &format!("items[{i}].name"), errors),
            ..item
        })
        .collect();
    for (i, item) in items.iter().enumerate() {
        let n = item.name.chars().count();
        if n == 0 || n > 100 {
            errors.push(
                FieldError::new(format!("items[{i}].name"), "invalid", "1 to 100 characters")
                    .with_param("max", 100),
            );
        }
        if item
            .cost_fen
            .is_some_and(|c| !(0..=10_000_000_000).contains(&c))
        {
            errors.push(FieldError::new(
                format!("items[{i}].cost_fen"),
                "out_of_range",
                "0 or more, in fen",
            ));
        }
    }
    items
}

fn check_day(field: &str, on: NaiveDate, life: &Life, errors: &mut Vec<FieldError>) {
    if on < life.birth {
        errors.push(FieldError::new(
            field,
            "before_birth",
            "the date is before the resident's birth",
        ));
    } else if on > life.today {
        errors.push(FieldError::new(
            field,
            "in_future",
            "the date is in the future",
        ));
    }
}

pub fn apply(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    applied_on: NaiveDate,
    items: Vec<Item>,
) -> Result<CaseView, AppError> {
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let life = Life::of(&resident, who.today);
        let mut errors = Vec::new();
        check_day("applied_on", applied_on, &life, &mut errors);
        if life.left_on.is_some_and(|left| applied_on > left) {
            errors.push(FieldError::new(
                "applied_on",
                "after_departure",
                "the resident has died or moved out",
            ));
        }
        let items = check_items(items, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let now = db::now();
        let public_id = uuid::Uuid::new_v4().to_string();
        store::insert(
            conn,
            &public_id,
            resident.id,
            applied_on,
            &serde_json::to_string(&items).expect("items serialise"),
            now,
        )?;
        residents_store::touch(conn, resident.id, now)?;
        let row = store::by_public_id(conn, resident.id, &public_id)?.ok_or(AppError::NotFound)?;
        let case = view(&row)?;
        audit::append(
            conn,
            who.audit,
            Event::new(Action::HomeModificationApply)
                .entity("home_modification", public_id)
                .resident(resident.public_id.clone())
                .changes(audit::created_of(&case)),
        )?;
        Ok(case)
    })
}

/// A step requested on a case.
#[derive(Debug, Clone)]
pub enum CaseAction {
    Assess {
        on: NaiveDate,
        outcome: Assessment,
    },
    Start {
        on: NaiveDate,
    },
    Complete {
        on: NaiveDate,
        cost_fen: Option<i64>,
        items: Option<Vec<Item>>,
    },
    Cancel {
        on: NaiveDate,
        reason: String,
    },
}

pub fn act(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    case_id: &str,
    action: CaseAction,
) -> Result<CaseView, AppError> {
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let target = FileRow {
            entity_type: "home_modification",
            load: &|conn| Ok(store::by_public_id(conn, resident.id, case_id)?),
            view: &|_, row| view(row),
        };
        change_in_file(conn, who.audit, &resident, target, |conn, row, now| {
            if row.voided_at.is_some() {
                return Err(corrections::voided("case"));
            }
            let changes = step_changes(row, action, who.today)?;
            written(store::apply(conn, row.id, row.version, &changes, now)?)?;
            Ok(Action::HomeModificationStep)
        })
    })
}

/// What a step changes of a case as it stands: 409 for a step its status does not allow, 422
/// for a date or a field that breaks a rule.
fn step_changes(
    row: &CaseRow,
    action: CaseAction,
    today: NaiveDate,
) -> Result<StepChanges, AppError> {
    let before = view(row)?;
    let last_step_on = [row.applied_on]
        .into_iter()
        .chain(row.assessed_on)
        .chain(row.started_on)
        .max()
        .unwrap_or(row.applied_on);
    let state = CaseState {
        status: before.status,
        assessment: before.assessment,
        last_step_on,
    };
    let (step, on, field) = match &action {
        CaseAction::Assess { on, outcome } => (Step::Assess(*outcome), *on, "assessed_on"),
        CaseAction::Start { on } => (Step::Start, *on, "started_on"),
        CaseAction::Complete { on, .. } => (Step::Complete, *on, "completed_on"),
        CaseAction::Cancel { on, .. } => (Step::Cancel, *on, "cancelled_on"),
    };
    let status = match next(state, step, on) {
        Ok(status) => status,
        Err(StepError::Illegal) => {
            return Err(AppError::Conflict {
                code: "illegal_transition",
                detail: format!(
                    "a case that is {} cannot take this step",
                    before.status.as_str()
                ),
                extra: None,
            })
        }
        Err(StepError::BeforePrevious) => {
            return Err(AppError::field(
                field,
                "before_previous_step",
                "the date is before the case's previous step",
            ))
        }
    };
    let mut errors = Vec::new();
    if on > today {
        errors.push(FieldError::new(
            field,
            "in_future",
            "the date is in the future",
        ));
    }
    let mut changes = StepChanges {
        status: Some(status.as_str().to_owned()),
        ..Default::default()
    };
    match action {
        CaseAction::Assess { on, outcome } => {
            changes.assessed_on = Some(Some(on));
            changes.assessment = Some(Some(outcome.as_str().to_owned()));
        }
        CaseAction::Start { on } => changes.started_on = Some(Some(on)),
        CaseAction::Complete {
            on,
            cost_fen,
            items,
        } => {
            changes.completed_on = Some(Some(on));
            if let Some(items) = items {
                let items = check_items(items, &mut errors);
                changes.items = Some(serde_json::to_string(&items).expect("items serialise"));
            }
            if cost_fen.is_some_and(|c| c < 0) {
                errors.push(FieldError::new(
                    "cost_fen",
                    "out_of_range",
                    "0 or more, in fen",
                ));
            }
            changes.cost_fen = Some(cost_fen);
        }
        CaseAction::Cancel { on, reason } => {
            let reason = text::bounded_field(&reason, "reason", REASON_MAX, &mut errors);
            changes.cancelled_on = Some(Some(on));
            changes.cancel_reason = Some(Some(reason));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(changes)
}

/// Voids a case entered by mistake (see [`crate::use_cases::corrections`]): it stays in the file, marked
/// void with the reason, leaves the home-modification indicator and the work queue, and takes
/// no further step. Needs the case's current version.
pub fn void(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    case_id: &str,
    request: VoidRequest,
) -> Result<CaseView, AppError> {
    let reason = corrections::reason(&request.reason)?;
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let target = VoidTarget {
            what: "case",
            action: Action::HomeModificationVoid,
            row: FileRow {
                entity_type: "home_modification",
                load: &|conn| Ok(store::by_public_id(conn, resident.id, case_id)?),
                view: &|_, row| view(row),
            },
            mark: store::void,
        };
        corrections::void_in_file(conn, who.audit, &resident, &request, &reason, target)
    })
}
