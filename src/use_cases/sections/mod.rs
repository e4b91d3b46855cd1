//! The dated records of the simpler file sections (rehabilitation, employment, training,
//! education, insurance, culture and sports, income, other benefits), kept in one table with
//! one code path: each section is a type implementing [`Section`], which says how its record is
//! indexed (kind, start, end) and which rules it keeps beyond the ones every record keeps.
//!
//! A record entered by mistake is voided ([`void`], see [`crate::use_cases::corrections`]): the file shows
//! it marked void, and it counts nowhere, not even against its section's rules (a per-year
//! record of the same year may be entered again).

pub mod kinds;
pub mod record;

pub use record::{Index, Life, Section};

use serde_json::{json, Map, Value};

use crate::access::{write_in_scope, Requester};
use crate::audit::{self, Action, Event};
use crate::db::residents as residents_store;
use crate::db::{self, file_records as store, DbConn};
use crate::domain::text;
use crate::error::{AppError, FieldError};
use crate::input::merge_patch;
use crate::use_cases::corrections::{self, VoidMark, VoidRequest, VoidTarget};
use crate::use_cases::file_rows::{check_version, written, FileRow};

/// The rules every record keeps: it starts within the resident's life, not in the future.
/// A record may end (be closed) after the resident's death or move-out.
fn check_dates<S: Section>(record: &S, life: &Life, errors: &mut Vec<FieldError>) {
    if !record.dated_by_life() {
        return;
    }
    let start = record.index().start_on;
    let field = S::START_FIELD;
    if start < life.birth {
        errors.push(FieldError::new(
            field,
            "before_birth",
            "the date is before the resident's birth",
        ));
    } else if start > life.today {
        errors.push(FieldError::new(
            field,
            "in_future",
            "the date is in the future",
        ));
    } else if life.left_on.is_some_and(|left| start > left) {
        errors.push(FieldError::new(
            field,
            "after_departure",
            "the date is after the resident's death or move-out",
        ));
    }
}

/// The record with every text field cleaned by the free-text rule ([`text::clean`]), or the
/// fields that hold a forbidden character. Every field of a record that is a string is text
/// typed by someone or a code or date, which the rule leaves as it is.
fn clean_texts<S: Section>(record: S) -> Result<S, AppError> {
    let Value::Object(mut fields) = serde_json::to_value(&record).expect("records serialise")
    else {
        return Ok(record);
    };
    let mut errors = Vec::new();
    for (name, value) in fields.iter_mut() {
        if let Value::String(raw) = value {
            match text::clean(raw) {
                Ok(cleaned) => *raw = cleaned,
                Err(forbidden) => errors.push(forbidden.field_error(name.clone())),
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    crate::input::parse_json_value(Value::Object(fields))
}

fn check<S: Section>(record: &S, life: &Life, others: &[S]) -> Result<(), AppError> {
    let mut errors = Vec::new();
    check_dates(record, life, &mut errors);
    record.check(life, &mut errors);
    record.check_against(others, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// A record as the file shows it: its id, version and void mark with its own fields.
fn shown(row: &store::FileRecordRow) -> Value {
    let mut value: Value = serde_json::from_str(&row.data).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        map.insert("id".into(), json!(row.public_id));
        map.insert("version".into(), json!(row.version));
        let mark = VoidMark::of(
            row.voided_at,
            row.voided_by.as_deref(),
            row.void_reason.as_deref(),
        );
        if let Value::Object(mark) = serde_json::to_value(mark).expect("serialises") {
            map.extend(mark);
        }
    }
    value
}

fn others_of<S: Section>(
    conn: &mut DbConn,
    resident_id: i64,
    except: Option<i64>,
) -> Result<Vec<S>, AppError> {
    if !S::CHECKS_OTHERS {
        return Ok(Vec::new());
    }
    Ok(store::counted_of_section(conn, resident_id, S::NAME)?
        .into_iter()
        .filter(|r| Some(r.id) != except)
        .filter_map(|r| serde_json::from_str(&r.data).ok())
        .collect())
}

fn duplicate_key() -> AppError {
    AppError::Conflict {
        code: "record_exists",
        detail: "the resident already has a record for this year and kind; change that one"
            .to_owned(),
        extra: None,
    }
}

fn map_unique(e: diesel::result::Error) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => duplicate_key(),
        other => other.into(),
    }
}

/// Adds a record to a resident's file.
pub fn create<S: Section>(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    record: S,
) -> Result<Value, AppError> {
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let record = clean_texts(record)?;
        let others = others_of::<S>(conn, resident.id, None)?;
        check(&record, &Life::of(&resident, who.today), &others)?;
        let index = record.index();
        if let Some(key) = &index.natural_key {
            if store::by_natural_key(conn, resident.id, S::NAME, key)?.is_some() {
                return Err(duplicate_key());
            }
        }
        let now = db::now();
        let public_id = uuid::Uuid::new_v4().to_string();
        let data = serde_json::to_value(&record).expect("records serialise");
        store::insert(
            conn,
            &store::NewFileRecordRow {
                public_id: public_id.clone(),
                resident_id: resident.id,
                section: S::NAME.to_owned(),
                kind: index.kind,
                start_on: index.start_on,
                end_on: index.end_on,
                natural_key: index.natural_key,
                holds: index.holds,
                data: data.to_string(),
                created_at: now,
                updated_at: now,
            },
        )
        .map_err(map_unique)?;
        residents_store::touch(conn, resident.id, now)?;
        audit::append(
            conn,
            who.audit,
            Event::new(Action::RecordCreate)
                .entity(S::NAME, public_id.clone())
                .resident(resident.public_id.clone())
                .changes(audit::created(data)),
        )?;
        let row = store::by_public_id(conn, resident.id, S::NAME, &public_id)?
            .ok_or(AppError::NotFound)?;
        Ok(shown(&row))
    })
}

/// Changes a record: the fields sent replace the stored ones (`null` clears an optional
/// field), and the result must keep every rule. Needs the record's current version.
pub fn update<S: Section>(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    record_id: &str,
    expected_version: i32,
    changes: Map<String, Value>,
) -> Result<Value, AppError> {
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let row = store::by_public_id(conn, resident.id, S::NAME, record_id)?
            .ok_or(AppError::NotFound)?;
        if row.voided_at.is_some() {
            return Err(corrections::voided("record"));
        }
        let stored: S =
            serde_json::from_str(&row.data).map_err(|e| AppError::internal(e.to_string()))?;
        let before = serde_json::to_value(&stored).expect("records serialise");
        // A change that breaks a rule is refused whatever the version it was made on: reading
        // the record again would not make it acceptable.
        let record: S = clean_texts(merge_patch(&stored, changes)?)?;
        let others = others_of::<S>(conn, resident.id, Some(row.id))?;
        check(&record, &Life::of(&resident, who.today), &others)?;
        check_version(row.version, expected_version)?;
        let index = record.index();
        if let Some(key) = &index.natural_key {
            if store::by_natural_key(conn, resident.id, S::NAME, key)?
                .is_some_and(|other| other.id != row.id)
            {
                return Err(duplicate_key());
            }
        }
        let after = serde_json::to_value(&record).expect("records serialise");
        if after == before {
            return Ok(shown(&row));
        }
        let now = db::now();
        let changes = store::FileRecordChanges {
            kind: index.kind,
            start_on: index.start_on,
            end_on: index.end_on,
            natural_key: index.natural_key,
            holds: index.holds,
            data: after.to_string(),
        };
        let updated = store::update_versioned(conn, row.id, expected_version, &changes, now)
            .map_err(map_unique)?;
        written(updated)?;
        residents_store::touch(conn, resident.id, now)?;
        audit::append(
            conn,
            who.audit,
            Event::new(Action::RecordUpdate)
                .entity(S::NAME, row.public_id.clone())
                .resident(resident.public_id.clone())
                .changes(audit::diff(&before, &after)),
        )?;
        let row = store::by_public_id(conn, resident.id, S::NAME, record_id)?
            .ok_or(AppError::NotFound)?;
        Ok(shown(&row))
    })
}

/// Voids a record entered by mistake: it stays in the file, marked void with the reason, and
/// counts nowhere. Needs the record's current version.
pub fn void<S: Section>(
    conn: &mut DbConn,
    who: &Requester,
    resident_id: &str,
    record_id: &str,
    request: VoidRequest,
) -> Result<Value, AppError> {
    let reason = corrections::reason(&request.reason)?;
    write_in_scope(conn, who, resident_id, |conn, resident| {
        let target = VoidTarget {
            what: "record",
            action: Action::RecordVoid,
            row: FileRow {
                entity_type: S::NAME,
                load: &|conn| Ok(store::by_public_id(conn, resident.id, S::NAME, record_id)?),
                view: &|_, row| Ok(shown(row)),
            },
            mark: store::void,
        };
        corrections::void_in_file(conn, who.audit, &resident, &request, &reason, target)
    })
}

/// Every section of a resident's file, each a list of records oldest first, from the file's
/// records in that order.
pub fn of_file(rows: &[store::FileRecordRow]) -> Map<String, Value> {
    let mut sections: Map<String, Value> = kinds::SECTION_NAMES
        .iter()
        .map(|name| ((*name).to_owned(), Value::Array(Vec::new())))
        .collect();
    for row in rows {
        if let Some(Value::Array(list)) = sections.get_mut(&row.section) {
            list.push(shown(row));
        }
    }
    sections
}

/// The stored version of a record, for the ETag.
pub fn version_of(value: &Value) -> i32 {
    value["version"].as_i64().unwrap_or(0) as i32
}
