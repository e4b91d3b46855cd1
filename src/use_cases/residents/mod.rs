//! One person, one file (一人一档): registering residents, keeping their records (a change of
//! town records a move; a death or a move-out cancels the active certificate and ends the
//! running grants), reading and searching them, within the caller's towns, every step audited.
//! The whole file with all its sections is read by [`crate::use_cases::whole_file`].
//!
//! Handlers call these functions with a [`Requester`] (see [`crate::access`]).

pub mod certificates;
pub mod fields;
pub mod import;
pub mod import_columns;
pub mod moves;
pub mod view;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::access::{check_scope, load_in_scope, record_read, write_in_scope, Requester};
use crate::audit::{self, Action, Event};
use crate::db::residents::{
    self as store, NewResidentRow, ResidentChanges, ResidentFilter, ResidentRow,
};
use crate::db::{self, certificates as certs, DbConn, WriteTx};
use crate::domain::certificate::CancelReason;
use crate::domain::id_number::IdNumber;
use crate::domain::resident::{HouseholdStatus, ProtectedField};
use crate::error::{stored_code, AppError, FieldError};
use crate::input;
use crate::protect::Protector;
use crate::use_cases::file_rows::{check_version, written};
use fields::{check_life_date, Areas, ResidentFields, Rules, StatusChange};
pub use view::{CertificateView, ResidentView};

/// A new resident as submitted (by the API or an import row), before validation.
#[derive(Debug, Clone)]
pub struct NewResident {
    pub id_number: String,
    pub fields: ResidentFields,
    pub household_status: HouseholdStatus,
    /// Defaults to the registration date.
    pub household_status_since: Option<NaiveDate>,
}

/// A change to a resident: a JSON merge patch (RFC 7396) of its [`ResidentFields`], applied to
/// the stored fields and checked whole by the rules of a new resident, and the household status,
/// which is a dated history rather than a field.
#[derive(Debug, Clone, Default)]
pub struct ResidentPatch {
    /// The members of [`ResidentFields`] sent: each replaces the stored one, `null` clears it.
    pub fields: Map<String, Value>,
    pub household_status: Option<HouseholdStatus>,
    /// When the new household status takes effect (default today).
    pub household_status_since: Option<NaiveDate>,
    /// Whether the patch gave an ID number, which cannot be changed.
    id_number_given: bool,
}

/// The members of a resident patch that are not fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtherMembers {
    /// Present only to be refused with a clear message.
    id_number: Option<Value>,
    household_status: Option<HouseholdStatus>,
    household_status_since: Option<NaiveDate>,
}

const OTHER_MEMBERS: [&str; 3] = ["id_number", "household_status", "household_status_since"];

/// The fields a resident always has: a patch cannot clear them.
const REQUIRED: [&str; 3] = ["name", "town_code", "registered_on"];

impl ResidentPatch {
    /// Reads the body of a change, naming every member that is unknown or of the wrong type
    /// (nothing else is checked yet). `null` clears a field, except the household flags, which
    /// it leaves as they are, as it leaves the members that are not fields (openapi.yaml).
    pub fn read(body: Map<String, Value>) -> Result<Self, AppError> {
        let (others, mut fields): (Map<String, Value>, Map<String, Value>) = body
            .into_iter()
            .partition(|(member, _)| OTHER_MEMBERS.contains(&member.as_str()));
        if fields.get("household_flags").is_some_and(Value::is_null) {
            fields.remove("household_flags");
        }
        let mut errors = Vec::new();
        let others = input::read_value::<OtherMembers>(Value::Object(others))
            .map_err(|faults| errors.extend(faults))
            .ok();
        // The members sent over fields that all read, so only the members' own faults show; a
        // `null` of a field is a clearing, weighed when the patch is checked.
        let Ok(Value::Object(mut shape)) = serde_json::to_value(ResidentFields::default()) else {
            unreachable!("fields serialise as an object");
        };
        for (member, value) in &fields {
            if !(value.is_null() && shape.contains_key(member)) {
                shape.insert(member.clone(), value.clone());
            }
        }
        if let Err(faults) = input::read_value::<ResidentFields>(Value::Object(shape)) {
            errors.extend(faults);
        }
        let Some(others) = others.filter(|_| errors.is_empty()) else {
            // In the order of the members, as one read of the whole body names them.
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            return Err(AppError::Validation(errors));
        };
        Ok(ResidentPatch {
            fields,
            household_status: others.household_status,
            household_status_since: others.household_status_since,
            id_number_given: others.id_number.is_some_and(|v| !v.is_null()),
        })
    }

    /// The patch that sets the `given` members of `fields`.
    pub fn of_fields(fields: &ResidentFields, given: impl Fn(&str) -> bool) -> Self {
        let Ok(Value::Object(all)) = serde_json::to_value(fields) else {
            unreachable!("fields serialise as an object");
        };
        ResidentPatch {
            fields: all
                .into_iter()
                .filter(|(member, _)| given(member))
                .collect(),
            ..Default::default()
        }
    }

    /// Refuses what no resident may be changed to, whatever its file holds: another ID number,
    /// or none of a field it must have.
    fn check_members(&self) -> Result<(), AppError> {
        if self.id_number_given {
            return Err(AppError::field(
                "id_number",
                "immutable",
                "the ID number cannot be changed; a wrongly registered person is corrected by an \
                 admin",
            ));
        }
        let cleared: Vec<FieldError> = REQUIRED
            .iter()
            .filter(|field| self.fields.get(**field).is_some_and(Value::is_null))
            .map(|field| FieldError::new(*field, "required", "this field cannot be cleared"))
            .collect();
        if cleared.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(cleared))
        }
    }

    /// The fields after the patch.
    fn apply(&self, current: &ResidentFields) -> Result<ResidentFields, AppError> {
        input::merge_patch(current, self.fields.clone())
    }
}

fn encrypt(
    protector: &Protector,
    column: &str,
    public_id: &str,
    value: Option<&String>,
) -> Option<String> {
    value.map(|v| {
        protector
            .cipher
            .encrypt(v, &view::context(column, public_id))
    })
}

/// What the audit trail records of a resident: every field by name; the sensitive ones are
/// redacted by the trail itself.
fn audit_image(
    id_number: &str,
    fields: &ResidentFields,
    household_status: HouseholdStatus,
) -> Value {
    let mut image = serde_json::to_value(fields).expect("fields serialise");
    image["id_number"] = json!(id_number);
    image["household_status"] = json!(household_status);
    image
}

fn flags_json(fields: &ResidentFields) -> String {
    serde_json::to_string(&fields.household_flags).expect("flags serialise")
}

fn duplicate(existing: &ResidentRow, who: &Requester, areas: &Areas) -> AppError {
    if who.scope.allows(&existing.town_code) {
        return AppError::Conflict {
            code: "duplicate_id_number",
            detail: "a resident with this ID number is already registered".to_owned(),
            extra: Some(json!({ "existing_id": existing.public_id })),
        };
    }
    // The town, not the resident: the caseworker learns whom to ask, and nothing of the file.
    let town = areas
        .name(&existing.town_code)
        .unwrap_or(&existing.town_code);
    AppError::Conflict {
        code: "duplicate_id_number",
        detail: format!(
            "a resident with this ID number is registered in {town}, a town you do not work \
             in: ask its caseworkers"
        ),
        extra: Some(json!({
            "registered_in": { "town_code": existing.town_code, "town_name": town },
        })),
    }
}

/// Whether `error` told the caller that an ID number has a file in a town outside its own:
/// the one answer about another town's residents that registration gives, on purpose
/// (deduplication needs it). The caller counts it against the user's ID-number probes.
pub fn is_existence_elsewhere(error: &AppError) -> bool {
    matches!(
        error,
        AppError::Conflict {
            code: "duplicate_id_number",
            extra: Some(extra),
            ..
        } if extra.get("registered_in").is_some()
    )
}

/// The audit event of telling a caller that an ID number has a file in a town outside its
/// own, about that resident. `detail` says where (an import row).
pub(crate) fn existence_elsewhere_event(existing: &ResidentRow, detail: Value) -> Event {
    Event::new(Action::ResidentDuplicateElsewhere)
        .outcome(audit::Outcome::Denied)
        .resident(existing.public_id.clone())
        .changes(detail)
}

/// Validates a new resident: the ID number, every field rule, and the status date.
fn check_new(
    rules: &Rules,
    new: NewResident,
) -> Result<(IdNumber, ResidentFields, StatusChange), Vec<FieldError>> {
    let mut errors = Vec::new();
    let id_number = IdNumber::parse(&new.id_number)
        .map_err(|e| errors.push(FieldError::new("id_number", e.code(), e.message())))
        .ok();
    let id_number = id_number.filter(|id| {
        let born_later = id.birth_date() > rules.today;
        if born_later {
            errors.push(FieldError::new(
                "id_number",
                "invalid_birth_date",
                "the birth date inside the ID number is in the future",
            ));
        }
        !born_later
    });
    let birth = id_number
        .as_ref()
        .map_or(NaiveDate::MIN, IdNumber::birth_date);
    let fields = rules.check(new.fields, birth, &mut errors);
    // Without its own date the status starts with the registration, already checked.
    if let Some(since) = new.household_status_since {
        check_life_date(
            &mut errors,
            "household_status_since",
            since,
            birth,
            rules.today,
        );
    }
    let since = new.household_status_since.unwrap_or(fields.registered_on);
    match id_number {
        Some(id) if errors.is_empty() => Ok((
            id,
            fields,
            StatusChange {
                status: new.household_status,
                since,
            },
        )),
        _ => Err(errors),
    }
}

/// Registers a resident whose ID number (blind `index`) the caller found unregistered in this
/// write transaction.
pub(crate) fn insert_unregistered(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    id_number: &IdNumber,
    index: String,
    fields: &ResidentFields,
    status: StatusChange,
) -> Result<ResidentRow, AppError> {
    let now = db::now();
    let row = new_resident_row(who, id_number, index, fields, now);
    let id = store::insert(conn, &row)?;
    store::open_household_status(conn, id, status.status.as_str(), status.since, now)?;
    audit::append(
        conn,
        who.audit,
        create_event(&row.public_id, id_number, fields, status),
    )?;
    Ok(row.stored(id))
}

/// The row of a new resident under a new public id, created at `now`, its ID number and phones
/// encrypted.
pub(crate) fn new_resident_row(
    who: &Requester,
    id_number: &IdNumber,
    index: String,
    fields: &ResidentFields,
    now: chrono::NaiveDateTime,
) -> NewResidentRow {
    let public_id = uuid::Uuid::new_v4().to_string();
    NewResidentRow {
        id_number_enc: who
            .protector
            .cipher
            .encrypt(id_number.as_str(), &view::context("id_number", &public_id)),
        id_number_index: index,
        name: fields.name.clone(),
        sex: id_number.sex().as_str().to_owned(),
        birth_date: id_number.birth_date(),
        town_code: fields.town_code.clone(),
        village_code: fields.village_code.clone(),
        address: fields.address.clone(),
        phone_enc: encrypt(who.protector, "phone", &public_id, fields.phone.as_ref()),
        guardian_name: fields.guardian_name.clone(),
        guardian_phone_enc: encrypt(
            who.protector,
            "guardian_phone",
            &public_id,
            fields.guardian_phone.as_ref(),
        ),
        household_flags: flags_json(fields),
        work_capacity: fields.work_capacity,
        registered_on: fields.registered_on,
        deceased_on: fields.deceased_on,
        moved_out_on: fields.moved_out_on,
        created_at: now,
        updated_at: now,
        public_id,
    }
}

/// The columns that store `fields` of the resident `public_id`, every one set: the one
/// conversion from fields to a stored change, its phones encrypted.
fn changes_to(protector: &Protector, public_id: &str, fields: &ResidentFields) -> ResidentChanges {
    let fields = fields.clone();
    ResidentChanges {
        phone_enc: Some(encrypt(
            protector,
            "phone",
            public_id,
            fields.phone.as_ref(),
        )),
        guardian_phone_enc: Some(encrypt(
            protector,
            "guardian_phone",
            public_id,
            fields.guardian_phone.as_ref(),
        )),
        household_flags: Some(flags_json(&fields)),
        name: Some(fields.name),
        town_code: Some(fields.town_code),
        village_code: Some(fields.village_code),
        address: Some(fields.address),
        guardian_name: Some(fields.guardian_name),
        work_capacity: Some(fields.work_capacity),
        registered_on: Some(fields.registered_on),
        deceased_on: Some(fields.deceased_on),
        moved_out_on: Some(fields.moved_out_on),
    }
}

/// The audit event of registering the resident `public_id`: every field, from nothing.
pub(crate) fn create_event(
    public_id: &str,
    id_number: &IdNumber,
    fields: &ResidentFields,
    status: StatusChange,
) -> Event {
    Event::new(Action::ResidentCreate)
        .entity("resident", public_id.to_owned())
        .resident(public_id.to_owned())
        .changes(audit::created(audit_image(
            id_number.as_str(),
            fields,
            status.status,
        )))
}

pub fn create(
    conn: &mut DbConn,
    who: &Requester,
    new: NewResident,
) -> Result<ResidentView, AppError> {
    db::write_transaction(conn, |conn| {
        let areas = Areas::load(conn)?;
        let rules = Rules {
            areas: &areas,
            scope: who.scope,
            today: who.today,
        };
        let (id_number, fields, status) = check_new(&rules, new).map_err(AppError::Validation)?;
        let index = who.protector.index.of(id_number.as_str());
        if let Some(existing) = store::by_index(conn, &index)? {
            if !who.scope.allows(&existing.town_code) {
                // Said only of a request that is valid otherwise, and audited as what it is:
                // committed with the refusal, not rolled back with it.
                let event = existence_elsewhere_event(&existing, json!({ "via": "register" }));
                audit::append(conn, who.audit, event)?;
            }
            return Ok::<_, AppError>(Err(duplicate(&existing, who, &areas)));
        }
        let row = insert_unregistered(conn, who, &id_number, index, &fields, status)?;
        let history = store::household_history(conn, row.id)?;
        Ok(Ok(view::resident(who.protector, &row, &history)?))
    })?
}

/// The errors the checks of a registration find in `new` (none written): for a body whose
/// other members did not read, so every fault comes back in one answer.
pub fn faults_of_new(
    conn: &mut DbConn,
    who: &Requester,
    new: NewResident,
) -> Result<Vec<FieldError>, AppError> {
    let areas = Areas::load(conn)?;
    let rules = Rules {
        areas: &areas,
        scope: who.scope,
        today: who.today,
    };
    Ok(check_new(&rules, new).err().unwrap_or_default())
}

/// Applies a patch to a stored resident (already checked to be in scope). Returns whether
/// anything changed. A change of town records a move dated today. A recorded death or move-out
/// cancels the active certificate the same day and ends the running subsidy grants from the
/// month after.
pub(crate) fn apply_patch(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    rules: &Rules,
    row: &ResidentRow,
    patch: &ResidentPatch,
) -> Result<bool, AppError> {
    match plan_stored(conn, who, rules, row, patch)? {
        Some(plan) => {
            write_patch(conn, who, row, plan)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// [`plan_patch`] on the household statuses and the active certificate stored now.
fn plan_stored(
    conn: &mut DbConn,
    who: &Requester,
    rules: &Rules,
    row: &ResidentRow,
    patch: &ResidentPatch,
) -> Result<Option<PatchPlan>, AppError> {
    let history = store::household_history(conn, row.id)?;
    let active = certs::active(conn, row.id)?;
    plan_patch(who, rules, row, patch, &history, active)
}

/// What a patch changes of a stored resident, decided before anything is written.
pub(crate) struct PatchPlan {
    id_number: IdNumber,
    before: ResidentFields,
    after: ResidentFields,
    current_status: Option<(HouseholdStatus, NaiveDate)>,
    status_change: Option<StatusChange>,
    ended: Option<(NaiveDate, CancelReason, &'static str)>,
    active: Option<certs::CertificateRow>,
}

/// Checks a patch against a stored resident, its household statuses (`history`) and its active
/// certificate, reading and writing nothing: what to write, `None` when nothing would change, or
/// the errors (as [`apply_patch`] would answer them).
pub(crate) fn plan_patch(
    who: &Requester,
    rules: &Rules,
    row: &ResidentRow,
    patch: &ResidentPatch,
    history: &[store::HouseholdStatusRow],
    active: Option<certs::CertificateRow>,
) -> Result<Option<PatchPlan>, AppError> {
    let id_number = view::id_number(who.protector, row)?;
    let before = view::stored_fields(who.protector, row)?;
    let mut errors = Vec::new();
    let after = rules.check(patch.apply(&before)?, row.birth_date, &mut errors);

    let current_status = history
        .iter()
        .find(|h| h.until.is_none())
        .map(|h| {
            stored_code(
                "household_statuses",
                "status",
                &h.status,
                HouseholdStatus::parse,
            )
            .map(|s| (s, h.since))
        })
        .transpose()?;
    let status_change = match patch.household_status {
        // A status different from the current one, or the same one from a new date.
        Some(status)
            if current_status.map(|(s, _)| s) != Some(status)
                || patch
                    .household_status_since
                    .is_some_and(|since| Some(since) != current_status.map(|(_, d)| d)) =>
        {
            let since = patch.household_status_since.unwrap_or(who.today);
            check_life_date(
                &mut errors,
                "household_status_since",
                since,
                row.birth_date,
                who.today,
            );
            if let Some((_, current_since)) = current_status {
                if since <= current_since {
                    errors.push(FieldError::new(
                        "household_status_since",
                        "not_after_current",
                        "a new household status must start after the current one",
                    ));
                }
            }
            Some(StatusChange { status, since })
        }
        Some(_) => None,
        None if patch.household_status_since.is_some() => {
            errors.push(FieldError::new(
                "household_status",
                "required",
                "give the new household status with its start date",
            ));
            None
        }
        None => None,
    };

    let ended = match (after.deceased_on, after.moved_out_on) {
        (Some(day), _) if before.deceased_on.is_none() => {
            Some((day, CancelReason::Deceased, "deceased_on"))
        }
        (None, Some(day)) if before.moved_out_on.is_none() => {
            Some((day, CancelReason::MovedOut, "moved_out_on"))
        }
        _ => None,
    };
    if let (Some((day, _, field)), Some(cert)) = (ended, &active) {
        if day < cert.issued_on {
            errors.push(FieldError::new(
                field,
                "before_certificate",
                "the date is before the active certificate was issued",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if after == before && status_change.is_none() {
        return Ok(None);
    }
    Ok(Some(PatchPlan {
        id_number,
        before,
        after,
        current_status,
        status_change,
        ended,
        active,
    }))
}

/// Writes what [`plan_patch`] decided, with its audit event, the move and the ends of the
/// certificate and grants it brings.
fn write_patch(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    row: &ResidentRow,
    plan: PatchPlan,
) -> Result<(), AppError> {
    let PatchPlan {
        id_number,
        before,
        after,
        current_status,
        status_change,
        ended,
        active,
    } = plan;
    let now = db::now();
    let changes = changes_to(who.protector, &row.public_id, &after);
    let updated = store::update_versioned(conn, row.id, row.version, &changes, now)?;
    written(updated)?;
    if let Some(change) = status_change {
        store::change_household_status(conn, row.id, change.status.as_str(), change.since, now)?;
    }
    let old_status = current_status.map_or(HouseholdStatus::None, |(s, _)| s);
    let new_status = status_change.map_or(old_status, |c| c.status);
    let mut diff = audit::diff(
        &audit_image(id_number.as_str(), &before, old_status),
        &audit_image(id_number.as_str(), &after, new_status),
    );
    if let (Some(change), Some(map)) = (status_change, diff.as_object_mut()) {
        map.insert("household_status_since".into(), json!(change.since));
    }
    audit::append(
        conn,
        who.audit,
        Event::new(Action::ResidentUpdate)
            .entity("resident", row.public_id.clone())
            .resident(row.public_id.clone())
            .changes(diff),
    )?;
    if after.town_code != before.town_code {
        moves::insert_move(
            conn,
            who,
            row,
            &after.town_code,
            after.village_code.as_deref(),
            who.today,
        )?;
    }
    if let (Some((day, reason, _)), Some(cert)) = (ended, active) {
        certificates::cancel_stored(conn, who, row, &cert, reason, day)?;
    }
    if let Some((day, reason, _)) = ended {
        crate::use_cases::subsidies::end_on_departure(conn, who, row, day, reason)?;
    }
    Ok(())
}

/// Changes a resident: the patch is checked whole first, so a change that breaks a rule is
/// named even when made on a stale version; then the version the client read
/// (`expected_version`) is weighed, then the change is written.
pub fn update(
    conn: &mut DbConn,
    who: &Requester,
    public_id: &str,
    expected_version: i32,
    patch: ResidentPatch,
) -> Result<ResidentView, AppError> {
    patch.check_members()?;
    write_in_scope(conn, who, public_id, |conn, row| {
        let areas = Areas::load(conn)?;
        let rules = Rules {
            areas: &areas,
            scope: who.scope,
            today: who.today,
        };
        let plan = plan_stored(conn, who, &rules, &row, &patch)?;
        check_version(row.version, expected_version)?;
        if let Some(plan) = plan {
            write_patch(conn, who, &row, plan)?;
        }
        let row = store::by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        let history = store::household_history(conn, row.id)?;
        view::resident(who.protector, &row, &history)
    })
}

pub fn read(conn: &mut DbConn, who: &Requester, public_id: &str) -> Result<ResidentView, AppError> {
    let row = load_in_scope(conn, who, public_id)?;
    let history = store::household_history(conn, row.id)?;
    let view = view::resident(who.protector, &row, &history)?;
    record_read(conn, who, Action::ResidentRead, &row, None)?;
    Ok(view)
}

/// Finds a resident by ID number (sent in a body, never a URL).
pub fn lookup(
    conn: &mut DbConn,
    who: &Requester,
    id_number: &str,
) -> Result<ResidentView, AppError> {
    let id_number = IdNumber::parse(id_number)
        .map_err(|e| AppError::field("id_number", e.code(), e.message()))?;
    let index = who.protector.index.of(id_number.as_str());
    let Some(row) = store::by_index(conn, &index)? else {
        // A miss is audited too: guessing the hidden digits of a masked number one lookup at a
        // time leaves a trace of every guess.
        who.recorder
            .record_read(conn, who.audit, Event::new(Action::ResidentLookupMiss))?;
        return Err(AppError::NotFound);
    };
    check_scope(conn, who, &row)?;
    let history = store::household_history(conn, row.id)?;
    let view = view::resident(who.protector, &row, &history)?;
    record_read(
        conn,
        who,
        Action::ResidentRead,
        &row,
        Some(json!({ "via": "lookup" })),
    )?;
    Ok(view)
}

/// One unmasked value, for an admin or a caseworker in scope. Audited with the field's name.
pub fn reveal(
    conn: &mut DbConn,
    who: &Requester,
    public_id: &str,
    field: ProtectedField,
) -> Result<Option<String>, AppError> {
    let row = load_in_scope(conn, who, public_id)?;
    let value = match field {
        ProtectedField::IdNumber => Some(view::id_number(who.protector, &row)?.as_str().to_owned()),
        ProtectedField::Phone => {
            view::protected(who.protector, &row, "phone", row.phone_enc.as_ref())?
        }
        ProtectedField::GuardianPhone => view::protected(
            who.protector,
            &row,
            "guardian_phone",
            row.guardian_phone_enc.as_ref(),
        )?,
    };
    record_read(
        conn,
        who,
        Action::ResidentReveal,
        &row,
        Some(json!({ "field": field })),
    )?;
    Ok(value)
}

/// The changes to a resident's file, oldest first, from the audit trail.
pub fn history(
    conn: &mut DbConn,
    who: &Requester,
    public_id: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<crate::db::audit::AuditRow>, AppError> {
    let row = load_in_scope(conn, who, public_id)?;
    let events = crate::db::audit::changes_of_resident(
        conn,
        &row.public_id,
        Action::CHANGES,
        after_seq,
        limit,
    )?;
    record_read(conn, who, Action::HistoryRead, &row, None)?;
    Ok(events)
}

/// A resident as a search lists it: the resident, its town's name, and its certificate with
/// the status derived for the day, so a list tells a caseworker whose certificate needs work.
#[derive(serde::Serialize)]
pub struct SearchItem {
    #[serde(flatten)]
    pub resident: ResidentView,
    pub town_name: String,
    /// The certificate in force (not cancelled), else the last one cancelled; `None` without.
    pub certificate: Option<view::CertificateView>,
}

/// A page of residents the requester may see, in a stable order.
pub struct SearchPage {
    pub items: Vec<SearchItem>,
    /// The id of the last resident of the page when more follow.
    pub next: Option<i64>,
    /// How many residents match, over every page.
    pub total: i64,
}

/// A page of residents the requester may see, in a stable order, and how many match in all:
/// read in one snapshot, so the count is that of the pages.
pub fn search(
    conn: &mut DbConn,
    who: &Requester,
    mut filter: ResidentFilter,
    limit: i64,
) -> Result<SearchPage, AppError> {
    filter.towns = who.scope.towns();
    let (rows, total, histories, certificates, areas) = db::read_snapshot(conn, |conn| {
        let rows = store::search(conn, &filter, limit + 1)?;
        let total = store::count(conn, &filter)?;
        let ids: Vec<i64> = rows.iter().take(limit as usize).map(|r| r.id).collect();
        let histories = store::household_histories(conn, &ids)?;
        let certificates = certs::of_residents(conn, &ids)?;
        Ok((rows, total, histories, certificates, Areas::load(conn)?))
    })?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<ResidentRow> = rows.into_iter().take(limit as usize).collect();
    let items = rows
        .iter()
        .map(|row| {
            let mine: Vec<_> = histories
                .iter()
                .filter(|h| h.resident_id == row.id)
                .cloned()
                .collect();
            let certificate = certificates
                .iter()
                .filter(|c| c.resident_id == row.id)
                .min_by_key(|c| c.cancelled_on.is_some())
                .map(|c| {
                    let holder = view::id_number(who.protector, row)?;
                    view::certificate(&holder, c, who.today, who.certificate_expiring_days)
                })
                .transpose()?;
            Ok(SearchItem {
                resident: view::resident(who.protector, row, &mine)?,
                town_name: areas.name(&row.town_code).unwrap_or_default().to_owned(),
                certificate,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(SearchPage {
        items,
        next: if more {
            rows.last().map(|r| r.id)
        } else {
            None
        },
        total,
    })
}
