//! Applications (DESIGN §7): submitted by the Zheliban client (or at a counter), matched to the
//! resident by the ID number's blind index, decided by the caseworkers of the town, with the
//! approval's effect on the file in the same transaction, and every status change written to
//! the client's outbox in that transaction too.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{json, Value};

use super::model::{next_status, ApplicationKind, ApplicationStatus, Channel, Decision, Step};
use super::outbox;
use crate::access::Requester;
use crate::audit::{self, Action, AuditContext, Event};
use crate::db::integration::{self as store, ApplicationFilter, ApplicationRow, NewApplicationRow};
use crate::db::residents as residents_store;
use crate::db::{self, areas, certificates as certs, DbConn, WriteTx};
use crate::domain::area::AreaLevel;
use crate::domain::certificate::{grade_error, Category, CertificateNumber};
use crate::domain::eligibility::SubsidyKind;
use crate::domain::id_number::IdNumber;
use crate::domain::resident::{clean_name, mask_name, HouseholdStatus};
use crate::domain::role::Scope;
use crate::domain::text;
use crate::error::{AppError, FieldError};
use crate::protect::Protector;
use crate::use_cases::accounts::timestamp;
use crate::use_cases::residents::certificates::{
    self as certificates, Assessment, CertificateAction,
};
use crate::use_cases::residents::fields::{Areas, ResidentFields, Rules, StatusChange};

/// Who reads applications: a client (its own) or staff (their towns).
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    Client(i64),
    Staff(&'a Scope),
}

#[derive(Debug, Clone, Serialize)]
pub struct Applicant {
    /// Masked: the first character and a `*` for each other one.
    pub name: String,
    /// Masked: the region and the last four characters.
    pub id_number: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    /// `subsidy_grant`, `home_modification` or `certificate`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    pub id: String,
    pub kind: ApplicationKind,
    pub channel: Channel,
    pub status: ApplicationStatus,
    pub external_ref: Option<String>,
    pub town_code: String,
    pub applicant: Applicant,
    /// Whether the applicant is registered in the file; false is a pending registration.
    pub registered: bool,
    /// The resident's id (staff only; `null` for clients).
    pub resident_id: Option<String>,
    pub payload: Value,
    /// Why it was rejected or withdrawn.
    pub reason: Option<String>,
    /// What the approval created in the file (staff only; `null` for clients).
    pub effect: Option<Effect>,
    pub submitted_at: String,
    pub decided_at: Option<String>,
    pub updated_at: String,
}

fn context(column: &str, public_id: &str) -> String {
    format!("applications.{column}:{public_id}")
}

fn corrupt() -> AppError {
    AppError::internal("a stored application is not readable")
}

fn id_number_of(protector: &Protector, row: &ApplicationRow) -> Result<IdNumber, AppError> {
    let plain = protector
        .cipher
        .decrypt(&row.id_number_enc, &context("id_number", &row.public_id))
        .map_err(|_| corrupt())?;
    IdNumber::parse(&plain).map_err(|_| corrupt())
}

fn name_of(protector: &Protector, row: &ApplicationRow) -> Result<String, AppError> {
    protector
        .cipher
        .decrypt(&row.name_enc, &context("name", &row.public_id))
        .map_err(|_| corrupt())
}

/// The application as `for_staff` or a client sees it.
pub fn view(
    conn: &mut DbConn,
    protector: &Protector,
    row: &ApplicationRow,
    for_staff: bool,
) -> Result<ApplicationView, AppError> {
    let resident_id = match (for_staff, row.resident_id) {
        (true, Some(id)) => residents_store::by_ids(conn, &[id])?
            .into_iter()
            .next()
            .map(|r| r.public_id),
        _ => None,
    };
    view_of(protector, row, for_staff, resident_id)
}

/// [`view`] with the registered resident's public id already known (`None` hides it).
fn view_of(
    protector: &Protector,
    row: &ApplicationRow,
    for_staff: bool,
    resident_id: Option<String>,
) -> Result<ApplicationView, AppError> {
    let effect = match (&row.effect_type, &row.effect_id) {
        (Some(kind), Some(id)) if for_staff => Some(Effect {
            kind: kind.clone(),
            id: id.clone(),
        }),
        _ => None,
    };
    Ok(ApplicationView {
        id: row.public_id.clone(),
        kind: ApplicationKind::parse(&row.kind).ok_or_else(corrupt)?,
        channel: Channel::parse(&row.channel).ok_or_else(corrupt)?,
        status: ApplicationStatus::parse(&row.status).ok_or_else(corrupt)?,
        external_ref: row.external_ref.clone(),
        town_code: row.town_code.clone(),
        applicant: Applicant {
            name: mask_name(&name_of(protector, row)?),
            id_number: id_number_of(protector, row)?.masked(),
        },
        registered: row.resident_id.is_some(),
        resident_id,
        payload: serde_json::from_str(&row.payload).unwrap_or(Value::Null),
        reason: row.reason.clone(),
        effect,
        submitted_at: timestamp(row.submitted_at),
        decided_at: row.decided_at.map(timestamp),
        updated_at: timestamp(row.updated_at),
    })
}

/// An application as submitted, before validation.
#[derive(Debug, Clone)]
pub struct Submission {
    pub kind: ApplicationKind,
    pub id_number: String,
    pub name: String,
    pub town_code: String,
    pub external_ref: Option<String>,
    pub payload: Value,
}

/// Who submits: a client over the integration, or staff at a counter.
#[derive(Debug, Clone, Copy)]
pub enum Submitter<'a> {
    Client(i64),
    Staff { scope: &'a Scope, channel: Channel },
}

struct Checked {
    id_number: IdNumber,
    name: String,
    external_ref: Option<String>,
}

fn check_submission(sub: &Submission, today: NaiveDate) -> Result<Checked, AppError> {
    let mut errors = Vec::new();
    let id_number = match IdNumber::parse(&sub.id_number) {
        Ok(id) if id.birth_date() > today => {
            errors.push(FieldError::new(
                "id_number",
                "invalid_birth_date",
                "the birth date inside the ID number is in the future",
            ));
            None
        }
        Ok(id) => Some(id),
        Err(e) => {
            errors.push(FieldError::new("id_number", e.code(), e.message()));
            None
        }
    };
    let name = clean_name(&sub.name);
    if name.is_none() {
        errors.push(
            FieldError::new("name", "invalid", "give a name of 1 to 50 characters")
                .with_param("max", 50),
        );
    }
    let external_ref = match sub.external_ref.as_deref().map(text::clean).transpose() {
        Ok(external_ref) => external_ref.filter(|r| !r.is_empty()),
        Err(forbidden) => {
            errors.push(forbidden.field_error("external_ref"));
            None
        }
    };
    if external_ref
        .as_ref()
        .is_some_and(|r| r.chars().count() > 100)
    {
        errors.push(FieldError::new(
            "external_ref",
            "invalid",
            "at most 100 characters",
        ));
    }
    if !sub.payload.is_object() {
        errors.push(FieldError::new(
            "payload",
            "invalid_type",
            "the payload is a JSON object",
        ));
    }
    match (id_number, name) {
        (Some(id_number), Some(name)) if errors.is_empty() => Ok(Checked {
            id_number,
            name,
            external_ref,
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

fn duplicate_ref(existing: &ApplicationRow) -> AppError {
    AppError::Conflict {
        code: "duplicate_external_ref",
        detail: format!(
            "an application with this external_ref exists: {}",
            existing.public_id
        ),
        extra: Some(json!({ "existing_id": existing.public_id })),
    }
}

/// Submits an application, inside the caller's write transaction (the idempotency check runs
/// in the same one). The resident is matched by the ID number's blind index; an unknown person
/// is a pending registration, found by the caseworkers of the town given.
pub fn submit(
    conn: &mut DbConn,
    ctx: &AuditContext,
    protector: &Protector,
    today: NaiveDate,
    submitter: Submitter,
    sub: Submission,
) -> Result<ApplicationView, AppError> {
    let checked = check_submission(&sub, today)?;
    db::write_transaction(conn, |conn| {
        let index = protector.index.of(checked.id_number.as_str());
        let resident = residents_store::by_index(conn, &index)?;
        let town_code = match &resident {
            // The caseworkers of the town the resident lives in handle it.
            Some(r) => r.town_code.clone(),
            None => sub.town_code.trim().to_owned(),
        };
        if areas::level_of(conn, &town_code)?.as_deref() != Some(AreaLevel::Town.as_str()) {
            return Err(AppError::field(
                "town_code",
                "unknown_town",
                "not a town or street of the district",
            ));
        }
        let (client_id, channel) = match submitter {
            Submitter::Client(id) => (Some(id), Channel::Zheliban),
            Submitter::Staff { scope, channel } => {
                if !scope.allows(&town_code) {
                    return Err(AppError::field(
                        "town_code",
                        "out_of_scope",
                        "you do not work in this town",
                    ));
                }
                (None, channel)
            }
        };
        if let (Some(client), Some(reference)) = (client_id, &checked.external_ref) {
            if let Some(existing) = store::application_by_external_ref(conn, client, reference)? {
                return Err(duplicate_ref(&existing));
            }
        }
        let now = db::now();
        let public_id = uuid::Uuid::new_v4().to_string();
        let id = store::insert_application(
            conn,
            &NewApplicationRow {
                public_id: &public_id,
                client_id,
                channel: channel.as_str(),
                kind: sub.kind.as_str(),
                status: ApplicationStatus::Submitted.as_str(),
                external_ref: checked.external_ref.as_deref(),
                resident_id: resident.as_ref().map(|r| r.id),
                id_number_enc: &protector.cipher.encrypt(
                    checked.id_number.as_str(),
                    &context("id_number", &public_id),
                ),
                id_number_index: &index,
                name_enc: &protector
                    .cipher
                    .encrypt(&checked.name, &context("name", &public_id)),
                town_code: &town_code,
                payload: &sub.payload.to_string(),
                submitted_at: now,
                updated_at: now,
            },
        )?;
        if let Some(r) = &resident {
            residents_store::touch(conn, r.id, now)?;
        }
        let row = store::application_by_public_id(conn, &public_id)?.ok_or(AppError::NotFound)?;
        let mut event = Event::new(Action::ApplicationSubmit)
            .entity("application", public_id.clone())
            .changes(json!({
                "kind": sub.kind,
                "channel": channel,
                "town_code": town_code,
                "external_ref": checked.external_ref,
                "registered": resident.is_some(),
                "status": ApplicationStatus::Submitted,
            }));
        if let Some(r) = &resident {
            event = event.resident(r.public_id.clone());
        }
        audit::append(conn, ctx, event)?;
        if let Some(client) = client_id {
            let data = view(conn, protector, &row, false)?;
            outbox::record(conn, client, id, &data)?;
        }
        view(conn, protector, &row, client_id.is_none())
    })
}

/// An application the reader may see, or 404.
fn load_visible(
    conn: &mut DbConn,
    reader: Reader,
    public_id: &str,
) -> Result<ApplicationRow, AppError> {
    let row = store::application_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
    let visible = match reader {
        Reader::Client(client) => row.client_id == Some(client),
        Reader::Staff(scope) => scope.allows(&row.town_code),
    };
    if visible {
        Ok(row)
    } else {
        Err(AppError::NotFound)
    }
}

pub fn get(
    conn: &mut DbConn,
    protector: &Protector,
    reader: Reader,
    public_id: &str,
) -> Result<ApplicationView, AppError> {
    let row = load_visible(conn, reader, public_id)?;
    view(conn, protector, &row, matches!(reader, Reader::Staff(_)))
}

#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub kind: Option<ApplicationKind>,
    pub status: Option<ApplicationStatus>,
    pub town: Option<String>,
    pub after_id: i64,
}

/// A page of applications, oldest first: a client's own, or the work queue of a caseworker's
/// towns (open applications, `submitted` and `accepted`, unless a status is asked for).
pub fn list(
    conn: &mut DbConn,
    protector: &Protector,
    reader: Reader,
    query: ListQuery,
    limit: i64,
) -> Result<(Vec<ApplicationView>, Option<i64>), AppError> {
    let mut filter = ApplicationFilter {
        kind: query.kind.map(|k| k.as_str().to_owned()),
        town: query.town,
        after_id: query.after_id,
        ..Default::default()
    };
    match reader {
        Reader::Client(client) => {
            filter.client_id = Some(client);
            filter.statuses = query
                .status
                .map(|s| s.as_str().to_owned())
                .into_iter()
                .collect();
        }
        Reader::Staff(scope) => {
            filter.towns = scope.towns();
            filter.statuses = match query.status {
                Some(s) => vec![s.as_str().to_owned()],
                None => vec!["submitted".to_owned(), "accepted".to_owned()],
            };
        }
    }
    let rows = store::search_applications(conn, &filter, limit + 1)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let for_staff = matches!(reader, Reader::Staff(_));
    let views = rows
        .iter()
        .map(|r| view(conn, protector, r, for_staff))
        .collect::<Result<_, _>>()?;
    Ok((views, next))
}

/// The applications in a resident's file, in the order of `rows` (newest first).
pub fn of_file(
    protector: &Protector,
    rows: &[ApplicationRow],
    resident_public_id: &str,
) -> Result<Vec<ApplicationView>, AppError> {
    rows.iter()
        .map(|r| view_of(protector, r, true, Some(resident_public_id.to_owned())))
        .collect()
}

/// The certificate an approved `certificate_new` issues.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub category: Category,
    pub components: Vec<Category>,
    pub grade: i32,
}

#[derive(Debug, Clone)]
pub struct DecisionRequest {
    pub decision: Decision,
    pub reason: Option<String>,
    /// For a subsidy: the first month of the grant (default this month).
    pub start_month: Option<NaiveDate>,
    /// For `certificate_new`: what the assessment found.
    pub certificate: Option<NewCertificate>,
}

fn illegal(status: ApplicationStatus, what: &str) -> AppError {
    AppError::Conflict {
        code: "illegal_transition",
        detail: format!(
            "an application that is {} cannot be {what}",
            status.as_str()
        ),
        extra: None,
    }
}

fn check_reason(reason: Option<&str>, required: bool) -> Result<Option<String>, AppError> {
    let reason = reason
        .map(text::clean)
        .transpose()
        .map_err(|forbidden| AppError::Validation(vec![forbidden.field_error("reason")]))?
        .filter(|r| !r.is_empty());
    match &reason {
        None if required => Err(AppError::field(
            "reason",
            "required",
            "give the reason for the rejection",
        )),
        Some(r) if r.chars().count() > 500 => Err(AppError::field(
            "reason",
            "too_long",
            "at most 500 characters",
        )),
        _ => Ok(reason),
    }
}

/// Finds the resident of a pending application again (someone may have registered the
/// person meanwhile) and links it. The caller records the status change in the same
/// transaction ([`record_change`]), which moves the file's version on.
fn match_resident(
    conn: &mut DbConn,
    row: &ApplicationRow,
) -> Result<Option<residents_store::ResidentRow>, AppError> {
    if let Some(id) = row.resident_id {
        return Ok(residents_store::by_ids(conn, &[id])?.into_iter().next());
    }
    let found = residents_store::by_index(conn, &row.id_number_index)?;
    if let Some(r) = &found {
        store::link_resident(conn, row.id, r.id, &r.town_code, db::now())?;
    }
    Ok(found)
}

/// The day of a timestamp in the district (UTC+8).
fn district_day(t: chrono::NaiveDateTime) -> NaiveDate {
    (t + chrono::Duration::hours(8)).date()
}

/// The approval's effect on the resident's file, through the same functions (and checks) a
/// caseworker's own action uses.
fn approve_effect(
    conn: &mut DbConn,
    who: &Requester,
    protector: &Protector,
    row: &ApplicationRow,
    resident: &residents_store::ResidentRow,
    request: &DecisionRequest,
) -> Result<Option<(String, String)>, AppError> {
    let kind = ApplicationKind::parse(&row.kind).ok_or_else(corrupt)?;
    let resident_id = resident.public_id.as_str();
    let effect = match kind {
        ApplicationKind::LivingSubsidy | ApplicationKind::NursingSubsidy => {
            let subsidy = if kind == ApplicationKind::LivingSubsidy {
                SubsidyKind::Living
            } else {
                SubsidyKind::Nursing
            };
            let start = request.start_month.unwrap_or(who.today);
            let grant = crate::use_cases::subsidies::grant(
                conn,
                who,
                resident_id,
                crate::use_cases::subsidies::GrantRequest {
                    kind: subsidy,
                    start_month: start.with_day(1).unwrap_or(start),
                    monthly_amount_fen: None,
                    override_reason: None,
                },
            )?;
            Some(("subsidy_grant".to_owned(), grant.id))
        }
        ApplicationKind::HomeModification => {
            let items = row
                .payload
                .parse::<Value>()
                .ok()
                .and_then(|p| p.get("items").cloned())
                .and_then(|items| serde_json::from_value(items).ok())
                .unwrap_or_default();
            let case = crate::use_cases::home_modifications::apply(
                conn,
                who,
                resident_id,
                district_day(row.submitted_at),
                items,
            )?;
            Some(("home_modification".to_owned(), case.id))
        }
        ApplicationKind::CertificateRenewal => {
            let active = certs::active(conn, resident.id)?.ok_or_else(|| AppError::Conflict {
                code: "no_active_certificate",
                detail: "the resident holds no active certificate to renew".to_owned(),
                extra: None,
            })?;
            let renewed = certificates::act(
                conn,
                who,
                resident_id,
                &active.public_id,
                CertificateAction::Renew {
                    issued_on: who.today,
                    valid_until: None,
                },
            )?;
            Some(("certificate".to_owned(), renewed.id))
        }
        ApplicationKind::CertificateNew => {
            let Some(cert) = &request.certificate else {
                return Err(AppError::field(
                    "certificate",
                    "required",
                    "give the category and grade the assessment found",
                ));
            };
            let holder = id_number_of(protector, row)?;
            let number = CertificateNumber::compose(&holder, cert.category, cert.grade, 0);
            let issued = certificates::issue(
                conn,
                who,
                resident_id,
                &number,
                Assessment {
                    category: cert.category,
                    components: cert.components.clone(),
                    grade: cert.grade,
                    issued_on: who.today,
                    valid_until: None,
                },
            )?;
            Some(("certificate".to_owned(), issued.id))
        }
        // The service itself is recorded in its section of the file when it is given.
        ApplicationKind::AssistiveDevice | ApplicationKind::RehabService => None,
    };
    Ok(effect)
}

/// A caseworker's decision. Approval has its effect in the same transaction; a refused effect
/// (the resident is not eligible, has no certificate to renew…) refuses the approval.
pub fn decide(
    conn: &mut DbConn,
    who: &Requester,
    public_id: &str,
    request: DecisionRequest,
) -> Result<ApplicationView, AppError> {
    let reason = check_reason(
        request.reason.as_deref(),
        request.decision == Decision::Reject,
    )?;
    // Checked whatever the application's kind: a grade out of range is refused, not ignored
    // because this kind issues no certificate.
    if let Some(fault) = (request.certificate.as_ref())
        .and_then(|found| grade_error("certificate.grade", found.grade))
    {
        return Err(AppError::Validation(vec![fault]));
    }
    db::write_transaction(conn, |conn| {
        let row = load_visible(conn, Reader::Staff(who.scope), public_id)?;
        let status = ApplicationStatus::parse(&row.status).ok_or_else(corrupt)?;
        let done = match request.decision {
            Decision::Accept => "accepted",
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        };
        let next = next_status(status, Step::Decide(request.decision))
            .ok_or_else(|| illegal(status, done))?;
        let effect = if request.decision == Decision::Approve {
            let resident = match_resident(conn, &row)?.ok_or_else(|| AppError::Conflict {
                code: "resident_not_registered",
                detail: "the applicant is not registered yet; register the person first \
                         (POST /api/v1/applications/{id}/register)"
                    .to_owned(),
                extra: None,
            })?;
            approve_effect(conn, who, who.protector, &row, &resident, &request)?
        } else {
            None
        };
        let row = store::application_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        let now = db::now();
        let decided_by = who.audit.actor.username.clone();
        if !store::set_status(
            conn,
            row.id,
            row.version,
            next.as_str(),
            reason.as_deref(),
            effect.as_ref().map(|(k, i)| (k.as_str(), i.as_str())),
            decided_by.as_deref(),
            now,
        )? {
            return Err(AppError::PreconditionFailed);
        }
        let row = store::application_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        record_change(
            conn,
            who.audit,
            who.protector,
            &row,
            Action::ApplicationDecide,
            status,
            next,
        )?;
        view(conn, who.protector, &row, true)
    })
}

/// Audits a status change and writes its outbox event. The application is part of its
/// resident's file, so the file's version moves on with it (its ETag shows the change).
fn record_change(
    conn: &mut WriteTx<'_>,
    ctx: &AuditContext,
    protector: &Protector,
    row: &ApplicationRow,
    action: Action,
    from: ApplicationStatus,
    to: ApplicationStatus,
) -> Result<(), AppError> {
    let mut changes = json!({ "status": { "from": from, "to": to } });
    if let Some(reason) = &row.reason {
        changes["reason"] = json!(reason);
    }
    if let (Some(kind), Some(id)) = (&row.effect_type, &row.effect_id) {
        changes["effect"] = json!({ "type": kind, "id": id });
    }
    let mut event = Event::new(action)
        .entity("application", row.public_id.clone())
        .changes(changes);
    if let Some(resident) = row.resident_id {
        residents_store::touch(conn, resident, row.updated_at)?;
        if let Some(r) = residents_store::by_ids(conn, &[resident])?
            .into_iter()
            .next()
        {
            event = event.resident(r.public_id);
        }
    }
    audit::append(conn, ctx, event)?;
    if let Some(client) = row.client_id {
        let data = view(conn, protector, row, false)?;
        outbox::record(conn, client, row.id, &data)?;
    }
    Ok(())
}

/// The client withdraws its own application while nothing is decided.
pub fn withdraw(
    conn: &mut DbConn,
    ctx: &AuditContext,
    protector: &Protector,
    client_id: i64,
    public_id: &str,
    reason: Option<String>,
) -> Result<ApplicationView, AppError> {
    let reason = check_reason(reason.as_deref(), false)?;
    db::write_transaction(conn, |conn| {
        let row = load_visible(conn, Reader::Client(client_id), public_id)?;
        let status = ApplicationStatus::parse(&row.status).ok_or_else(corrupt)?;
        let next =
            next_status(status, Step::Withdraw).ok_or_else(|| illegal(status, "withdrawn"))?;
        if !store::set_status(
            conn,
            row.id,
            row.version,
            next.as_str(),
            reason.as_deref(),
            None,
            None,
            db::now(),
        )? {
            return Err(AppError::PreconditionFailed);
        }
        let row = store::application_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        record_change(
            conn,
            ctx,
            protector,
            &row,
            Action::ApplicationWithdraw,
            status,
            next,
        )?;
        view(conn, protector, &row, false)
    })
}

/// What a caseworker adds when registering the applicant of a pending application.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub village_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub household_status: Option<HouseholdStatus>,
    pub registered_on: Option<NaiveDate>,
}

/// Registers the applicant of a pending application as a resident of its town, from the ID
/// number and name the application holds (encrypted), and links every pending application of
/// that person. A person registered meanwhile is linked instead.
pub fn register(
    conn: &mut DbConn,
    who: &Requester,
    public_id: &str,
    registration: Registration,
) -> Result<ApplicationView, AppError> {
    db::write_transaction(conn, |conn| {
        let row = load_visible(conn, Reader::Staff(who.scope), public_id)?;
        if row.resident_id.is_some() {
            return Err(AppError::Conflict {
                code: "already_registered",
                detail: "the applicant is registered already".to_owned(),
                extra: None,
            });
        }
        let id_number = id_number_of(who.protector, &row)?;
        let resident = match residents_store::by_index(conn, &row.id_number_index)? {
            Some(existing) if who.scope.allows(&existing.town_code) => existing,
            Some(_) => return Err(AppError::NotFound),
            None => {
                let areas = Areas::load(conn)?;
                let rules = Rules {
                    areas: &areas,
                    scope: who.scope,
                    today: who.today,
                };
                let mut errors = Vec::new();
                let registered_on = registration.registered_on.unwrap_or(who.today);
                let fields = rules.check(
                    ResidentFields {
                        name: name_of(who.protector, &row)?,
                        town_code: row.town_code.clone(),
                        village_code: registration.village_code.clone(),
                        address: registration.address.clone(),
                        phone: registration.phone.clone(),
                        guardian_name: None,
                        guardian_phone: None,
                        household_flags: Vec::new(),
                        work_capacity: None,
                        registered_on,
                        deceased_on: None,
                        moved_out_on: None,
                    },
                    id_number.birth_date(),
                    &mut errors,
                );
                if !errors.is_empty() {
                    return Err(AppError::Validation(errors));
                }
                crate::use_cases::residents::insert_unregistered(
                    conn,
                    who,
                    &id_number,
                    row.id_number_index.clone(),
                    &fields,
                    StatusChange {
                        status: registration
                            .household_status
                            .unwrap_or(HouseholdStatus::None),
                        since: registered_on,
                    },
                )?
            }
        };
        let now = db::now();
        if store::link_pending(
            conn,
            &row.id_number_index,
            resident.id,
            &resident.town_code,
            now,
        )? > 0
        {
            // The linked applications join the resident's file.
            residents_store::touch(conn, resident.id, now)?;
        }
        audit::append(
            conn,
            who.audit,
            Event::new(Action::ApplicationRegister)
                .entity("application", row.public_id.clone())
                .resident(resident.public_id.clone()),
        )?;
        let row = store::application_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        view(conn, who.protector, &row, true)
    })
}
