//! Bulk import of residents from CSV (UTF-8 with or without BOM, or GBK as Excel in Chinese
//! saves it) or an Excel workbook (`.xlsx`). The header names columns by code or by Chinese
//! header ([`super::import_columns`]); a cell where a code belongs may hold its Chinese label.
//! Each row is checked like the API; a row whose ID number is registered updates that
//! resident; running the same file again changes nothing. A file that cannot be read as a whole
//! (encoding, CSV syntax, columns) is refused before anything is written.
//!
//! Written in bulk, a batch of rows per write transaction: the rows are checked on their own on
//! a second thread, a batch ahead ([`check_own`]); the writer reads what their ID numbers name
//! in one statement ([`Known`]), decides each row on that (an unchanged resident costs no
//! statement) and writes the new residents, their statuses, certificates and audit events in
//! multi-row statements ([`Pending::flush`]; `COPY` on PostgreSQL). A registered resident that
//! changes is written alone, in a savepoint, as before.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use super::certificates::{self, issue_stored, Assessment};
use super::fields::{Areas, ResidentFields, Rules, StatusChange};
use super::import_columns;
use super::{
    apply_patch, check_new, create_event, new_resident_row, plan_patch, NewResident, ResidentPatch,
};
use crate::access::Requester;
use crate::audit::{self, Action, Event};
use crate::csv_file::{self, Layout, RejectedRow, Row, SheetFormat};
use crate::db::certificates::{self as certs, CertificateRow, NewCertificateRow};
use crate::db::indicators::{self, NewResidentFacts};
use crate::db::residents::{self as store, HouseholdStatusRow, NewResidentRow, ResidentRow};
use crate::db::{self, DbConn, WriteTx};
use crate::domain::certificate::{Category, CertificateNumber, Grade};
use crate::domain::id_number::IdNumber;
use crate::domain::resident::{HouseholdFlag, HouseholdStatus};
use crate::error::{AppError, FieldError};

/// Rows written per transaction: each commit waits for the disk (synchronous=FULL), and a
/// batch holds the write lock for a fraction of a second (about 0.2 s at 10,000 rows/s).
const BATCH_ROWS: usize = 2_000;

#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<RejectedRow>,
    /// Rows told that their ID number has a file in a town the importer does not work in.
    #[serde(skip)]
    pub existence_answers: usize,
}

/// An import, or its refusal before anything was written.
#[derive(Debug)]
pub enum ImportOutcome {
    Done(ImportReport),
    /// More rows would be told that their ID number has a file in another town than the
    /// importer's allowance of ID-number probes admits.
    OverAllowance {
        answers: usize,
    },
}

fn parse_date(row: &Row, column: &'static str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = row.get(column)?;
    let normalised = raw.replace('/', "-");
    NaiveDate::parse_from_str(&normalised, "%Y-%m-%d")
        .map_err(|_| {
            errors.push(FieldError::new(
                column,
                "invalid_date",
                "write dates as YYYY-MM-DD",
            ))
        })
        .ok()
}

fn parse_bool(row: &Row, column: &'static str, errors: &mut Vec<FieldError>) -> Option<bool> {
    let raw = row.get(column)?;
    match raw.to_lowercase().as_str() {
        "true" | "1" | "yes" | "是" | "有" => Some(true),
        "false" | "0" | "no" | "否" | "无" => Some(false),
        _ => {
            errors.push(FieldError::new(
                column,
                "invalid_boolean",
                "write true or false (是 or 否)",
            ));
            None
        }
    }
}

/// The values of a cell that lists several (`一户多残；老养残`).
fn list_cell(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '；', ',', '，', '、'])
        .map(str::trim)
        .filter(|f| !f.is_empty())
}

/// A cell where a code of a set belongs: the code or its Chinese label, else `unknown_code`
/// with the choices.
fn code_cell<T>(
    column: &'static str,
    cell: &str,
    parse: fn(&str) -> Option<T>,
    choices: fn() -> String,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = parse(cell);
    if value.is_none() {
        let choices = choices();
        errors.push(
            FieldError::new(column, "unknown_code", format!("one of {choices}"))
                .with_param("allowed", choices),
        );
    }
    value
}

/// Whether a cell holds a number in scientific notation (`3.30213E+17`), as Excel shows a long
/// number typed into a cell not formatted as text, its last digits lost.
fn is_scientific(cell: &str) -> bool {
    let Some((mantissa, exponent)) = cell.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction) && digits(exponent)
}

fn scientific_notation(column: &'static str) -> FieldError {
    FieldError::new(
        column,
        "scientific_notation",
        "Excel turned this number into scientific notation (such as 3.30213E+17) and lost its \
         last digits: format the column as text, type the number again and save",
    )
}

/// The certificate a row gives: its number, and its category, grade and components when the
/// file has those columns (else the number's digits say the category and grade).
#[derive(Debug, Clone)]
struct CertificateCells {
    number: String,
    category: Option<Category>,
    grade: Option<i32>,
    components: Vec<Category>,
    issued_on: Option<NaiveDate>,
    valid_until: Option<NaiveDate>,
}

/// A row as a new resident and an optional certificate, with the errors of its cells.
struct ParsedRow {
    new: NewResident,
    certificate: Option<CertificateCells>,
    /// Columns whose cell Excel turned into scientific notation: their other errors say nothing
    /// more.
    scientific: Vec<&'static str>,
}

fn parse_certificate(
    row: &Row,
    scientific: &[&'static str],
    errors: &mut Vec<FieldError>,
) -> Option<CertificateCells> {
    let category = row.get("certificate_category").and_then(|cell| {
        code_cell(
            "certificate_category",
            &cell,
            Category::parse_code_or_label,
            Category::choices,
            errors,
        )
    });
    let grade = row.get("certificate_grade").and_then(|cell| {
        code_cell(
            "certificate_grade",
            &cell,
            Grade::parse_code_or_label,
            Grade::choices,
            errors,
        )
        .map(Grade::number)
    });
    let components: Vec<Category> = row
        .get("certificate_components")
        .map(|cell| {
            list_cell(&cell)
                .filter_map(|part| {
                    code_cell(
                        "certificate_components",
                        part,
                        Category::parse_code_or_label,
                        Category::choices,
                        errors,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if scientific.contains(&"certificate_number") {
        return None;
    }
    let Some(number) = row.get("certificate_number") else {
        let described = [
            "certificate_category",
            "certificate_grade",
            "certificate_components",
        ]
        .iter()
        .any(|c| row.get(c).is_some());
        if described {
            errors.push(FieldError::new(
                "certificate_number",
                "required",
                "give the certificate number with its category, grade or components",
            ));
        }
        return None;
    };
    // The dates are read only with a number, as before the certificate had columns of its own.
    Some(CertificateCells {
        number,
        category,
        grade,
        components,
        issued_on: parse_date(row, "certificate_issued_on", errors),
        valid_until: parse_date(row, "certificate_valid_until", errors),
    })
}

fn parse_row(row: &Row, today: NaiveDate, errors: &mut Vec<FieldError>) -> ParsedRow {
    let scientific: Vec<&'static str> = import_columns::DIGIT_STRINGS
        .iter()
        .map(|c| c.as_str())
        .filter(|c| row.get(c).is_some_and(|cell| is_scientific(&cell)))
        .collect();
    errors.extend(scientific.iter().map(|c| scientific_notation(c)));
    let household_status = match row.get("household_status") {
        None => HouseholdStatus::None,
        Some(cell) => code_cell(
            "household_status",
            &cell,
            HouseholdStatus::parse_code_or_label,
            HouseholdStatus::choices,
            errors,
        )
        .unwrap_or(HouseholdStatus::None),
    };
    let household_flags = row
        .get("household_flags")
        .map(|flags| {
            list_cell(&flags)
                .filter_map(|f| {
                    code_cell(
                        "household_flags",
                        f,
                        HouseholdFlag::parse_code_or_label,
                        HouseholdFlag::choices,
                        errors,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let fields = ResidentFields {
        name: row.get("name").unwrap_or_default(),
        town_code: row.get("town_code").unwrap_or_default(),
        village_code: row.get("village_code"),
        address: row.get("address"),
        phone: row.get("phone"),
        guardian_name: row.get("guardian_name"),
        guardian_phone: row.get("guardian_phone"),
        household_flags,
        work_capacity: parse_bool(row, "work_capacity", errors),
        registered_on: parse_date(row, "registered_on", errors).unwrap_or(today),
        deceased_on: parse_date(row, "deceased_on", errors),
        moved_out_on: parse_date(row, "moved_out_on", errors),
    };
    let certificate = parse_certificate(row, &scientific, errors);
    ParsedRow {
        new: NewResident {
            id_number: row.get("id_number").unwrap_or_default(),
            fields,
            household_status,
            household_status_since: parse_date(row, "household_status_since", errors),
        },
        certificate,
        scientific,
    }
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// A row that passed every check of its own.
struct CheckedRow {
    id_number: IdNumber,
    fields: ResidentFields,
    status: StatusChange,
    /// The household status and its date as the file gives them (an empty cell leaves the
    /// stored one).
    status_given: bool,
    status_since: Option<NaiveDate>,
    /// Whether the file gave a registration date (an empty cell leaves the stored one; a new
    /// resident is registered today).
    registered_given: bool,
    certificate: Option<CertificateCells>,
}

/// What the rows of a batch find stored, read in a few statements before the batch is written
/// (inside its write transaction, so nobody else changes it meanwhile): the residents their ID
/// numbers name and, for those in the importer's towns, their household statuses and active
/// certificates.
#[derive(Default)]
struct Known {
    /// By the blind index of the ID number.
    residents: HashMap<String, ResidentRow>,
    histories: HashMap<i64, Vec<HouseholdStatusRow>>,
    active: HashMap<i64, CertificateRow>,
}

impl Known {
    fn load(conn: &mut DbConn, who: &Requester, rows: &[OwnRow]) -> Result<Self, AppError> {
        let indexes: Vec<String> = rows.iter().filter_map(|row| row.index.clone()).collect();
        let residents = store::by_indexes(conn, &indexes)?;
        let ours: Vec<i64> = residents
            .iter()
            .filter(|r| who.scope.allows(&r.town_code))
            .map(|r| r.id)
            .collect();
        let mut known = Known::default();
        if !ours.is_empty() {
            for chunk in ours.chunks(1_000) {
                for status in store::household_histories(conn, chunk)? {
                    known
                        .histories
                        .entry(status.resident_id)
                        .or_default()
                        .push(status);
                }
                for certificate in certs::active_of(conn, chunk)? {
                    known.active.insert(certificate.resident_id, certificate);
                }
            }
        }
        known.residents = residents
            .into_iter()
            .map(|r| (r.id_number_index.clone(), r))
            .collect();
        Ok(known)
    }
}

/// A new resident of the file, checked, waiting to be written with the others: its row, its
/// household status, its certificate (whose `resident_id` is set once the resident is written)
/// and its audit events (registered, then the certificate issued).
struct NewOne {
    row: NewResidentRow,
    status: StatusChange,
    certificate: Option<NewCertificateRow>,
    events: Vec<Event>,
}

/// What the rows of a batch write, in their order, until [`Pending::flush`] writes it in
/// multi-row statements: new residents (with their household status, certificate and audit
/// events) and the audit events of refused rows.
#[derive(Default)]
struct Pending {
    new: Vec<NewOne>,
    /// The audit trail in row order: a new resident (its index in `new`) or an event.
    trail: Vec<Result<usize, Event>>,
}

impl Pending {
    fn event(&mut self, event: Event) {
        self.trail.push(Err(event));
    }

    fn resident(&mut self, one: NewOne) {
        self.trail.push(Ok(self.new.len()));
        self.new.push(one);
    }

    /// Writes everything pending: the residents, their household statuses and certificates,
    /// and the audit events in row order (a new resident's event, then its certificate's). The
    /// events are hashed into the chain on a thread of their own while the rows are written:
    /// that hashing needs only the chain's head, and costs about as much as the writing.
    fn flush(&mut self, conn: &mut WriteTx<'_>, who: &Requester) -> Result<(), AppError> {
        let new = std::mem::take(&mut self.new);
        let trail = std::mem::take(&mut self.trail);
        if trail.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(new.len());
        let mut events_of = Vec::with_capacity(new.len());
        for one in new {
            rows.push((one.row, one.status, one.certificate));
            events_of.push(Some(one.events));
        }
        let mut events = Vec::with_capacity(trail.len() + rows.len());
        for entry in trail {
            match entry {
                Ok(index) => events.extend(events_of[index].take().unwrap_or_default()),
                Err(event) => events.push(event),
            }
        }
        let head = audit::head(conn)?;
        let linked = std::thread::scope(|scope| {
            let linking = scope
                .spawn(move || audit::link_after(head, events.into_iter().map(|e| (who.audit, e))));
            let written = write_new(conn, rows);
            let linked = linking
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            written.map(|()| linked)
        })?;
        audit::append_linked(conn, &linked)?;
        Ok(())
    }
}

/// Writes new residents with their first household status and their certificate, in bulk, and
/// their indicator values, made from these rows in memory rather than read back at the commit.
fn write_new(
    conn: &mut WriteTx<'_>,
    new: Vec<(NewResidentRow, StatusChange, Option<NewCertificateRow>)>,
) -> Result<(), AppError> {
    let (rows, rest): (Vec<NewResidentRow>, Vec<_>) = new
        .into_iter()
        .map(|(row, status, certificate)| (row, (status, certificate)))
        .unzip();
    let ids: HashMap<String, i64> = store::insert_many(conn, &rows)?.into_iter().collect();
    let mut written = Vec::with_capacity(rows.len());
    for (row, (status, certificate)) in rows.iter().zip(rest) {
        let id = ids
            .get(&row.public_id)
            .copied()
            .ok_or_else(|| AppError::internal("a written resident's id was not returned"))?;
        let certificate = certificate.map(|mut certificate| {
            certificate.resident_id = id;
            certificate
        });
        written.push((id, row, status, certificate));
    }
    let statuses: Vec<_> = written
        .iter()
        .map(|(id, row, status, _)| (*id, status.status.as_str(), status.since, row.created_at))
        .collect();
    store::open_household_statuses(conn, &statuses)?;
    let certificates: Vec<NewCertificateRow> = written
        .iter()
        .filter_map(|(.., certificate)| certificate.clone())
        .collect();
    certs::insert_many(conn, &certificates)?;
    let facts: Vec<NewResidentFacts<'_>> = written
        .iter()
        .map(|(id, row, status, certificate)| NewResidentFacts {
            id: *id,
            resident: row,
            status: status.status,
            status_since: status.since,
            certificate: certificate.as_ref(),
        })
        .collect();
    indicators::write_new(conn, &facts)?;
    Ok(())
}

/// The patch a checked row makes to its registered resident. A column the file does not have
/// leaves the stored value; an empty cell of a column it has clears the value.
fn patch_of(columns: &[&'static str], row: &CheckedRow) -> ResidentPatch {
    let given = |member: &str| match member {
        "name" | "town_code" => true,
        "registered_on" => row.registered_given,
        column => columns.contains(&column),
    };
    ResidentPatch {
        household_status: row.status_given.then_some(row.status.status),
        household_status_since: row.status_given.then_some(row.status_since).flatten(),
        ..ResidentPatch::of_fields(&row.fields, given)
    }
}

/// Whether the active certificate `c` is the one a row's certificate number (and components,
/// when the row gives them) names.
fn holds(c: &CertificateRow, assessment: &Assessment, number: &str) -> bool {
    let same_components = assessment.components.is_empty() || {
        let mut given = assessment.components.clone();
        let mut stored = certs::components(c).unwrap_or_default();
        given.sort();
        stored.sort();
        given == stored
    };
    c.category == assessment.category.as_str()
        && c.grade == assessment.grade
        && same_components
        && CertificateNumber::parse(number).is_some_and(|n| c.reissue == i32::from(n.reissue))
}

fn differs_from_active() -> AppError {
    AppError::field(
        "certificate_number",
        "differs_from_active",
        "the resident holds another active certificate; use the certificate actions",
    )
}

/// Writes a checked row of a registered resident: updates it or leaves it, and issues its
/// certificate when the file gives one and the resident holds none.
fn update_row(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    rules: &Rules,
    columns: &[&'static str],
    existing: ResidentRow,
    row: CheckedRow,
) -> Result<Outcome, AppError> {
    let patch = patch_of(columns, &row);
    let changed = apply_patch(conn, who, rules, &existing, &patch)?;
    let resident = store::by_public_id(conn, &existing.public_id)?.ok_or(AppError::NotFound)?;
    let mut outcome = if changed {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    };
    let Some(cells) = &row.certificate else {
        return Ok(outcome);
    };
    let number = &cells.number;
    let assessment = certificate_assessment(cells)?;
    let active = certs::active(conn, resident.id)?;
    match active {
        Some(c) if holds(&c, &assessment, number) => {}
        Some(_) => return Err(differs_from_active()),
        // A death or move-out (in this row or before) ended the certificate: nothing to issue.
        None if resident.deceased_on.is_some() || resident.moved_out_on.is_some() => {}
        None => {
            issue_stored(conn, who, &resident, number, &assessment).map_err(certificate_fields)?;
            if matches!(outcome, Outcome::Unchanged) {
                outcome = Outcome::Updated;
            }
        }
    }
    Ok(outcome)
}

/// What [`update_row`] would do with a row, decided on what [`Known`] read (no statement).
enum Decision {
    Unchanged,
    /// The row's errors, as [`update_row`] would refuse it before writing anything.
    Refused(Vec<FieldError>),
    /// Something changes: [`update_row`] writes it.
    Write,
}

fn decide_update(
    who: &Requester,
    rules: &Rules,
    columns: &[&'static str],
    existing: &ResidentRow,
    row: &CheckedRow,
    known: &Known,
) -> Result<Decision, AppError> {
    let patch = patch_of(columns, row);
    let history = known
        .histories
        .get(&existing.id)
        .map_or(&[][..], Vec::as_slice);
    let active = known.active.get(&existing.id);
    match plan_patch(who, rules, existing, &patch, history, active.cloned()) {
        Ok(Some(_)) => return Ok(Decision::Write),
        Ok(None) => {}
        Err(e) => return row_errors(e).map(Decision::Refused),
    }
    let Some(cells) = &row.certificate else {
        return Ok(Decision::Unchanged);
    };
    let number = &cells.number;
    let assessment = match certificate_assessment(cells) {
        Ok(assessment) => assessment,
        Err(e) => return row_errors(e).map(Decision::Refused),
    };
    Ok(match active {
        Some(c) if holds(c, &assessment, number) => Decision::Unchanged,
        Some(_) => Decision::Refused(row_errors(differs_from_active())?),
        None if existing.deceased_on.is_some() || existing.moved_out_on.is_some() => {
            Decision::Unchanged
        }
        None => Decision::Write,
    })
}

/// The errors of a refused row, as field errors.
fn row_errors(error: AppError) -> Result<Vec<FieldError>, AppError> {
    match error {
        AppError::Validation(errors) => Ok(errors),
        AppError::Conflict { code, detail, .. } => {
            Ok(vec![FieldError::new("id_number", code, detail)])
        }
        other => Err(other),
    }
}

fn rejected(field: &str, code: &str, message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError::new(field, code, message)]
}

/// The answer to a valid row whose ID number has a file in a town the caller does not work in.
fn existence_answer() -> Vec<FieldError> {
    rejected(
        "id_number",
        "out_of_scope",
        "this resident is registered in a town you do not work in",
    )
}

/// A row checked on its own (no stored data involved), away from the writer: its values or its
/// errors, the blind index of its ID number (when it is one), and, when it is valid, the new
/// resident it would register (or the errors of its certificate), in case its ID number is not
/// registered.
struct OwnRow {
    line: usize,
    index: Option<String>,
    own: Result<CheckedRow, Vec<FieldError>>,
    new: Option<Result<NewOne, Vec<FieldError>>>,
}

/// Checks a row on its own; with `prepare`, also prepares the new resident it would register
/// (encrypted, with its audit event's values), which only a row whose ID number is not
/// registered uses.
fn check_own(who: &Requester, rules: &Rules, row: &Row, prepare: bool) -> Result<OwnRow, AppError> {
    let mut errors = Vec::new();
    let parsed = parse_row(row, who.today, &mut errors);
    let index = IdNumber::parse(&parsed.new.id_number)
        .ok()
        .map(|id| who.protector.index.of(id.as_str()));
    let scientific = parsed.scientific;
    let own = match check_new(rules, parsed.new) {
        Ok((id_number, fields, status)) if errors.is_empty() => Ok(CheckedRow {
            id_number,
            fields,
            status,
            status_given: row.get("household_status").is_some(),
            status_since: row.get("household_status_since").and(Some(status.since)),
            registered_given: row.get("registered_on").is_some(),
            certificate: parsed.certificate,
        }),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(
                more.into_iter()
                    .filter(|e| !scientific.contains(&e.field.as_str())),
            );
            Err(errors)
        }
    };
    let new = match (&own, prepare) {
        (Ok(checked), true) => Some(new_one(who, checked, index.clone())?),
        _ => None,
    };
    Ok(OwnRow {
        line: row.line,
        index,
        own,
        new,
    })
}

/// Decides a row checked on its own ([`check_own`]) on what is stored, and writes it or leaves it
/// pending: `Ok(Err(errors))` when the row is refused, `Err` for a fault that stops the import. A
/// new resident is pending until the batch ends; a registered one is written at once (after what
/// is pending), in a savepoint, when it changes.
#[allow(clippy::too_many_arguments)]
fn import_row(
    conn: &mut WriteTx<'_>,
    who: &Requester,
    rules: &Rules,
    columns: &[&'static str],
    row: OwnRow,
    seen: &mut HashMap<String, usize>,
    known: &Known,
    pending: &mut Pending,
) -> Result<Result<Outcome, Vec<FieldError>>, AppError> {
    let registered = row
        .index
        .as_ref()
        .and_then(|index| known.residents.get(index))
        .cloned();
    // A resident of another town. A row with errors of its own gets those, and nothing about
    // that resident (the attempt on it is audited as denied). Only a row valid otherwise is
    // told that the ID number has a file elsewhere, audited as that answer and counted
    // against the user's probes: so that answer costs a valid row, and a row that is not
    // told so registers a new resident.
    if let Some(other) = registered
        .as_ref()
        .filter(|r| !who.scope.allows(&r.town_code))
    {
        return Ok(Err(match row.own {
            Err(errors) => {
                pending.event(
                    Event::new(Action::AccessDenied)
                        .outcome(crate::audit::Outcome::Denied)
                        .resident(other.public_id.clone())
                        .changes(json!({ "reason": "import row outside the caller's towns", "row": row.line })),
                );
                errors
            }
            Ok(_) => {
                pending.event(super::existence_elsewhere_event(
                    other,
                    json!({ "via": "import", "row": row.line }),
                ));
                existence_answer()
            }
        }));
    }
    let checked = match row.own {
        Ok(checked) => checked,
        Err(errors) => return Ok(Err(errors)),
    };
    if let Some(first) = seen.insert(checked.id_number.as_str().to_owned(), row.line) {
        return Ok(Err(rejected(
            "id_number",
            "repeated_in_file",
            format!("the same ID number is on line {first}"),
        )));
    }
    let Some(registered) = registered else {
        let new = match row.new {
            Some(new) => new,
            None => new_one(who, &checked, row.index)?,
        };
        return Ok(match new {
            Ok(one) => {
                pending.resident(one);
                Ok(Outcome::Created)
            }
            Err(errors) => Err(errors),
        });
    };
    match decide_update(who, rules, columns, &registered, &checked, known)? {
        Decision::Unchanged => return Ok(Ok(Outcome::Unchanged)),
        Decision::Refused(errors) => return Ok(Err(errors)),
        Decision::Write => {}
    }
    // The rows before this one are written first, so the trail keeps the file's order.
    pending.flush(conn, who)?;
    // A row that fails while writing leaves nothing behind: it runs in a savepoint.
    let written = db::write_transaction(conn, |conn| {
        update_row(conn, who, rules, columns, registered, checked)
    });
    match written {
        Ok(outcome) => Ok(Ok(outcome)),
        Err(e) => row_errors(e).map(Err),
    }
}

/// The new resident a valid row registers when its ID number is not registered, with its
/// certificate, checked and ready to write: `Ok(Err(errors))` when its certificate is refused.
/// Everything is checked here: a failure when it is written is a fault, not the row's. `index`
/// is the blind index of its ID number when the caller has it already.
fn new_one(
    who: &Requester,
    row: &CheckedRow,
    index: Option<String>,
) -> Result<Result<NewOne, Vec<FieldError>>, AppError> {
    let departed = row.fields.deceased_on.is_some() || row.fields.moved_out_on.is_some();
    let certificate = match (&row.certificate, departed) {
        // A death or move-out in the row ended the certificate: nothing to issue.
        (None, _) | (Some(_), true) => None,
        (Some(cells), false) => {
            let parsed = match certificate_assessment(cells) {
                Ok(parsed) => parsed,
                Err(e) => return row_errors(e).map(Err),
            };
            match certificates::check_new(&row.id_number, &cells.number, &parsed, who.today) {
                Ok(checked) => Some((parsed, checked)),
                Err(e) => return row_errors(certificate_fields(e)).map(Err),
            }
        }
    };
    let index = index.unwrap_or_else(|| who.protector.index.of(row.id_number.as_str()));
    let resident = new_resident_row(who, &row.id_number, index, &row.fields, db::now());
    let mut events = vec![create_event(
        &resident.public_id,
        &row.id_number,
        &row.fields,
        row.status,
    )];
    let certificate = certificate.map(|(assessment, checked)| {
        let (certificate, event) =
            certificates::issued_row(0, &resident.public_id, &assessment, checked);
        events.push(event);
        certificate
    });
    Ok(Ok(NewOne {
        row: resident,
        status: row.status,
        certificate,
        events,
    }))
}

/// The assessment a row's certificate stands for: the category and grade of its columns, else
/// of its number's digits (a number that disagrees with its columns is refused when checked).
fn certificate_assessment(cells: &CertificateCells) -> Result<Assessment, AppError> {
    let parsed = CertificateNumber::parse(&cells.number).ok_or_else(|| {
        AppError::field(
            "certificate_number",
            "invalid_format",
            "not a certificate number",
        )
    })?;
    let issued_on = cells.issued_on.ok_or_else(|| {
        AppError::field(
            "certificate_issued_on",
            "required",
            "give the certificate's issue date",
        )
    })?;
    Ok(Assessment {
        category: cells.category.unwrap_or(parsed.category),
        components: cells.components.clone(),
        grade: cells.grade.unwrap_or(parsed.grade),
        issued_on,
        valid_until: cells.valid_until,
    })
}

/// Certificate errors under the import's column names.
fn certificate_fields(error: AppError) -> AppError {
    match error {
        AppError::Validation(errors) => AppError::Validation(
            errors
                .into_iter()
                .map(|f| {
                    let field = match f.field.as_str() {
                        "number" => "certificate_number".to_owned(),
                        other => format!("certificate_{other}"),
                    };
                    f.renamed(field)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Imports a file. Rows that break a rule are reported and skipped; the others are written in
/// batches, each batch one transaction.
pub fn import(
    conn: &mut DbConn,
    who: &Requester,
    bytes: &[u8],
    format: SheetFormat,
) -> Result<ImportReport, AppError> {
    match import_within(conn, who, bytes, format, None)? {
        ImportOutcome::Done(report) => Ok(report),
        ImportOutcome::OverAllowance { .. } => Err(AppError::internal("no allowance was set")),
    }
}

/// How many rows would be told that their ID number has a file in a town outside the
/// requester's (see [`import_row`]), found with reads only.
fn existence_answers(
    conn: &mut DbConn,
    who: &Requester,
    rules: &Rules,
    rows: &[Row],
) -> Result<usize, AppError> {
    let mut answers = 0;
    for batch in rows.chunks(BATCH_ROWS) {
        let checked = batch
            .iter()
            .map(|row| check_own(who, rules, row, false))
            .collect::<Result<Vec<_>, _>>()?;
        let known = Known::load(conn, who, &checked)?;
        for row in checked {
            let registered = row.index.as_ref().and_then(|i| known.residents.get(i));
            if row.own.is_ok() && registered.is_some_and(|r| !who.scope.allows(&r.town_code)) {
                answers += 1;
            }
        }
    }
    Ok(answers)
}

/// [`import`], for a requester with an `allowance` of answers that an ID number has a file in
/// another town: a file that would get more is refused whole before anything is written (and
/// audited as refused), since writing it row by row would answer for every row.
pub fn import_within(
    conn: &mut DbConn,
    who: &Requester,
    bytes: &[u8],
    format: SheetFormat,
    allowance: Option<usize>,
) -> Result<ImportOutcome, AppError> {
    let known = import_columns::codes();
    let names = import_columns::names();
    let required: Vec<&'static str> = import_columns::REQUIRED
        .iter()
        .map(|c| c.as_str())
        .collect();
    let layout = Layout {
        known: &known,
        names: &names,
        required: &required,
    };
    let (columns, rows) = csv_file::read_sheet(bytes, format, &layout)?;
    let areas = Areas::load(conn)?;
    let rules = Rules {
        areas: &areas,
        scope: who.scope,
        today: who.today,
    };
    if let Some(allowance) = allowance.filter(|_| who.scope.towns().is_some()) {
        let answers = existence_answers(conn, who, &rules, &rows)?;
        if answers > allowance {
            let event = Event::new(Action::ResidentImport)
                .outcome(crate::audit::Outcome::Denied)
                .changes(json!({
                    "rows": rows.len(),
                    "refused": "id_probe_allowance",
                    "registered_elsewhere": answers,
                    "allowance": allowance,
                }));
            audit::append_alone(conn, who.audit, event)?;
            return Ok(ImportOutcome::OverAllowance { answers });
        }
    }
    let mut report = ImportReport {
        rows: rows.len(),
        ..Default::default()
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Rows are checked on their own (parsed, validated, their new resident encrypted) a batch
    // ahead on a thread of their own, while the writer decides and writes the batch before: the
    // two overlap. New residents are prepared there while the last batch was mostly new ones (a
    // file of registered residents would waste the work).
    let mostly_new = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|scope| {
        let (batches, checked) = std::sync::mpsc::sync_channel(1);
        let rules = &rules;
        let rows = &rows;
        let mostly_new = &mostly_new;
        scope.spawn(move || {
            for batch in rows.chunks(BATCH_ROWS) {
                let prepare = mostly_new.load(std::sync::atomic::Ordering::Relaxed);
                let own: Result<Vec<OwnRow>, AppError> = batch
                    .iter()
                    .map(|row| check_own(who, rules, row, prepare))
                    .collect();
                // The writer stopped (a fault): nothing more to check.
                if batches.send(own).is_err() {
                    break;
                }
            }
        });
        for batch in checked {
            let batch = batch?;
            let (rows_before, created_before) = (batch.len(), report.created);
            db::write_transaction(conn, |conn| {
                let known = Known::load(conn, who, &batch)?;
                let mut pending = Pending::default();
                for row in batch {
                    let line = row.line;
                    let outcome = import_row(
                        conn,
                        who,
                        rules,
                        &columns,
                        row,
                        &mut seen,
                        &known,
                        &mut pending,
                    )?;
                    match outcome {
                        Ok(Outcome::Created) => report.created += 1,
                        Ok(Outcome::Updated) => report.updated += 1,
                        Ok(Outcome::Unchanged) => report.unchanged += 1,
                        Err(errors) => report.rejected.push(RejectedRow { row: line, errors }),
                    }
                }
                pending.flush(conn, who)
            })?;
            let created = report.created - created_before;
            mostly_new.store(
                2 * created >= rows_before,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        Ok::<_, AppError>(())
    })?;
    let summary = json!({
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected.len(),
    });
    audit::append_alone(
        conn,
        who.audit,
        Event::new(Action::ResidentImport).changes(summary),
    )?;
    report.existence_answers = report
        .rejected
        .iter()
        .filter(|r| r.errors == existence_answer())
        .count();
    Ok(ImportOutcome::Done(report))
}
