//! Moves between towns of the district. A resident's town is dated: a move takes effect on its
//! day, so "the town on D" is the `from_town` of the earliest move after D, or the current town
//! when there is none. Every move is audited (`resident_move`).

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use super::fields::{check_life_date, Areas, Rules};
use super::view::{self, ResidentView};
use crate::access::{write_in_scope, Requester};
use crate::audit::{self, Action, Event};
use crate::db::moves::{self as store, MoveRow, NewMoveRow};
use crate::db::residents::{self as residents, ResidentChanges, ResidentRow};
use crate::db::{self, DbConn, WriteTx};
use crate::error::{AppError, FieldError};
use crate::use_cases::file_rows::{check_version, written};

/// A move as shown in the file.
#[derive(Debug, Clone, Serialize)]
pub struct MoveView {
    pub id: String,
    pub from_town: String,
    pub from_village: Option<String>,
    pub to_town: String,
    pub to_village: Option<String>,
    pub moved_on: NaiveDate,
}

impl From<&MoveRow> for MoveView {
    fn from(row: &MoveRow) -> Self {
        MoveView {
            id: row.public_id.clone(),
            from_town: row.from_town.clone(),
            from_village: row.from_village.clone(),
            to_town: row.to_town.clone(),
            to_village: row.to_village.clone(),
            moved_on: row.moved_on,
        }
    }
}

/// A resident's moves as the file shows them, in the order of `rows` (oldest first).
pub fn of_file(rows: &[MoveRow]) -> Vec<MoveView> {
    rows.iter().map(MoveView::from).collect()
}

/// A move as requested.
#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub town_code: String,
    pub village_code: Option<String>,
    pub moved_on: NaiveDate,
}

/// Stores a move of `resident` (as it was before the move) to `to_town`/`to_village` on
/// `moved_on`, with its audit event, in the caller's write transaction. The resident's row is
/// the caller's to change.
pub(crate) fn insert_move(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    resident: &ResidentRow,
    to_town: &str,
    to_village: Option<&str>,
    moved_on: NaiveDate,
) -> Result<(), AppError> {
    let row = NewMoveRow {
        public_id: uuid::Uuid::new_v4().to_string(),
        resident_id: resident.id,
        from_town: resident.town_code.clone(),
        from_village: resident.village_code.clone(),
        to_town: to_town.to_owned(),
        to_village: to_village.map(str::to_owned),
        moved_on,
        created_at: db::now(),
    };
    store::insert(conn, &row)?;
    let mut changes = audit::diff(
        &json!({ "town_code": row.from_town, "village_code": row.from_village }),
        &json!({ "town_code": row.to_town, "village_code": row.to_village }),
    );
    changes["moved_on"] = json!(moved_on);
    audit::append(
        conn,
        who.audit,
        Event::new(Action::ResidentMove)
            .entity("resident_move", row.public_id.clone())
            .resident(resident.public_id.clone())
            .changes(changes),
    )?;
    Ok(())
}

/// Checks a move of `row`; returns the town and village it goes to, normalised.
fn check(
    conn: &mut DbConn,
    who: &Requester,
    row: &ResidentRow,
    request: &MoveRequest,
) -> Result<(String, Option<String>), AppError> {
    let areas = Areas::load(conn)?;
    let rules = Rules {
        areas: &areas,
        scope: who.scope,
        today: who.today,
    };
    // The place is checked by the rules every resident keeps (a town of the district, in the
    // caller's towns; a village of that town); only what they say of the place counts here.
    let mut fields = view::stored_fields(who.protector, row)?;
    fields.town_code = request.town_code.clone();
    fields.village_code = request.village_code.clone();
    let mut checked = Vec::new();
    let fields = rules.check(fields, row.birth_date, &mut checked);
    let mut errors: Vec<FieldError> = checked
        .into_iter()
        .filter(|e| e.field == "town_code" || e.field == "village_code")
        .collect();
    if fields.town_code == row.town_code {
        errors.push(FieldError::new(
            "town_code",
            "same_town",
            "the resident already lives in this town",
        ));
    }

    let day = request.moved_on;
    let mut dated = Vec::new();
    check_life_date(&mut dated, "moved_on", day, row.birth_date, who.today);
    if dated.is_empty() {
        let last = store::of_resident(conn, row.id)?.last().map(|m| m.moved_on);
        let departed = match (row.deceased_on, row.moved_out_on) {
            (Some(died), Some(left)) => Some(died.min(left)),
            (died, left) => died.or(left),
        };
        if day < row.registered_on {
            dated.push(FieldError::new(
                "moved_on",
                "before_registration",
                "the date is before the resident was registered",
            ));
        } else if let Some(last) = last.filter(|last| day <= *last) {
            dated.push(FieldError::new(
                "moved_on",
                "before_last_move",
                format!("must be after the latest recorded move ({last})"),
            ));
        } else if departed.is_some_and(|departed| day > departed) {
            dated.push(FieldError::new(
                "moved_on",
                "after_departure",
                "the resident had died or moved out of the district by then",
            ));
        }
    }
    errors.extend(dated);
    if errors.is_empty() {
        Ok((fields.town_code, fields.village_code))
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Records a move of a resident to another town of the district, on its day; the resident's
/// town becomes the new one. `expected_version`, when given, must be the resident's version.
pub fn record(
    conn: &mut DbConn,
    who: &Requester,
    public_id: &str,
    expected_version: Option<i32>,
    request: MoveRequest,
) -> Result<ResidentView, AppError> {
    write_in_scope(conn, who, public_id, |conn, row| {
        // The request's own faults first, named even on a stale version; then the version.
        let (town, village) = check(conn, who, &row, &request)?;
        if let Some(expected) = expected_version {
            check_version(row.version, expected)?;
        }
        let changes = ResidentChanges {
            town_code: Some(town.clone()),
            village_code: Some(village.clone()),
            ..Default::default()
        };
        written(residents::update_versioned(
            conn,
            row.id,
            row.version,
            &changes,
            db::now(),
        )?)?;
        insert_move(conn, who, &row, &town, village.as_deref(), request.moved_on)?;
        let row = residents::by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        let history = residents::household_history(conn, row.id)?;
        view::resident(who.protector, &row, &history)
    })
}
