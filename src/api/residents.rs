//! Resident files: register, read, search, change, reveal, history, import.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::asker::Asker;
use super::concurrency::{etag, expected_version};
use super::extract::{ApiJson, ApiQuery, SheetBody};
use super::paging::{self, Page};
use super::reporting::file_response;
use crate::db::{self, residents::ResidentFilter};
use crate::domain::certificate::Category;
use crate::domain::resident::{HouseholdFlag, HouseholdStatus, ProtectedField, ResidentStatus};
use crate::error::{AppError, AppResult};
use crate::input::read_with_placeholders;
use crate::state::AppState;
use crate::use_cases::reports::{import_sheets, negotiate, resident_list, Format};
use crate::use_cases::residents::fields::ResidentFields;
use crate::use_cases::residents::{self, import, NewResident, ResidentPatch, ResidentView};
use crate::use_cases::whole_file;

const LIST: &str = "residents";
const HISTORY: &str = "resident_history";

/// The caller's ID-number probes (lookups by ID number; answers that an ID number has a file in
/// another town) are counted per user: guessing the hidden digits of a masked number, or
/// which people have a file in other towns, takes one probe per guess.
fn probe_key(asker: &Asker) -> String {
    asker.audit.actor.user_id.clone().unwrap_or_default()
}

/// The refusal of a probe over the allowance, counted for the audit trail (one event per user
/// and window).
fn probe_refused(state: &AppState, key: &str, now: Instant) -> AppError {
    state
        .auth
        .id_probe_refusals
        .record(key, None, now, db::now());
    AppError::TooManyRequests {
        retry_after_secs: state.auth.id_probes.retry_after(key, now),
    }
}

/// Whether the caller can be told of residents of towns outside its own (a caseworker).
fn scoped(asker: &Asker) -> bool {
    asker.scope.towns().is_some()
}

fn with_etag(
    mut builder: actix_web::HttpResponseBuilder,
    version: i32,
    body: &impl Serialize,
) -> HttpResponse {
    builder.insert_header(("ETag", etag(version))).json(body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateResident {
    id_number: String,
    name: String,
    town_code: String,
    village_code: Option<String>,
    address: Option<String>,
    phone: Option<String>,
    guardian_name: Option<String>,
    guardian_phone: Option<String>,
    household_status: Option<HouseholdStatus>,
    household_status_since: Option<NaiveDate>,
    #[serde(default)]
    household_flags: Vec<HouseholdFlag>,
    work_capacity: Option<bool>,
    registered_on: Option<NaiveDate>,
    deceased_on: Option<NaiveDate>,
    moved_out_on: Option<NaiveDate>,
}

pub async fn create(
    state: web::Data<AppState>,
    asker: Asker,
    ApiJson(raw): ApiJson<serde_json::Value>,
) -> AppResult<HttpResponse> {
    let body = match read_with_placeholders::<CreateResident>(raw) {
        Ok(body) => body,
        Err(mut faults) => {
            // Members of a wrong type or code, and the domain's rules on the members that did
            // read: all in one answer. Nothing is written.
            let Some(filled) = faults.filled.take() else {
                return Err(AppError::Validation(faults.errors));
            };
            let new = new_resident(filled, asker.today());
            let domain = db::run(&state.pool, move |conn| {
                residents::faults_of_new(conn, &asker.requester(), new)
            })
            .await?;
            return Err(AppError::Validation(
                faults.with_domain_errors(domain, CHECKED_AGAINST),
            ));
        }
    };
    let new = new_resident(body, asker.today());
    let key = probe_key(&asker);
    let limited = scoped(&asker);
    if limited && state.auth.id_probes.remaining(&key, Instant::now()) == 0 {
        return Err(probe_refused(&state, &key, Instant::now()));
    }
    let created = db::run(&state.pool, move |conn| {
        residents::create(conn, &asker.requester(), new)
    })
    .await;
    if let Err(error) = &created {
        if limited && residents::is_existence_elsewhere(error) {
            state.auth.id_probes.spend(&key, 1, Instant::now());
        }
    }
    let resident = created?;
    let mut builder = HttpResponse::Created();
    builder.insert_header(("Location", format!("/api/v1/residents/{}", resident.id)));
    Ok(with_etag(builder, resident.version, &resident))
}

/// Members of a registration whose check reads another member: (member, the one it reads).
/// The dates are checked against the birth in the ID number, which a placeholder leaves out.
const CHECKED_AGAINST: &[(&str, &str)] = &[("village_code", "town_code")];

/// The registration a body asks for (registered today unless it says when).
fn new_resident(body: CreateResident, today: NaiveDate) -> NewResident {
    NewResident {
        id_number: body.id_number,
        fields: ResidentFields {
            name: body.name,
            town_code: body.town_code,
            village_code: body.village_code,
            address: body.address,
            phone: body.phone,
            guardian_name: body.guardian_name,
            guardian_phone: body.guardian_phone,
            household_flags: body.household_flags,
            work_capacity: body.work_capacity,
            registered_on: body.registered_on.unwrap_or(today),
            deceased_on: body.deceased_on,
            moved_out_on: body.moved_out_on,
        },
        household_status: body.household_status.unwrap_or(HouseholdStatus::None),
        household_status_since: body.household_status_since,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: Option<String>,
    town: Option<String>,
    village: Option<String>,
    category: Option<Category>,
    grade: Option<i32>,
    status: Option<ResidentStatus>,
    household_status: Option<HouseholdStatus>,
    certificate_expiring_before: Option<NaiveDate>,
    limit: Option<i64>,
    cursor: Option<String>,
    format: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    asker: Asker,
    req: HttpRequest,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> AppResult<HttpResponse> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = negotiate(query.format.as_deref(), accept, Format::LISTS, Format::Json)?;
    if format != Format::Json {
        paging::whole_list_only(query.limit, query.cursor.as_deref())?;
    }
    let limit = paging::limit(query.limit)?;
    if query.grade.is_some_and(|g| !(1..=4).contains(&g)) {
        return Err(AppError::field(
            "grade",
            "out_of_range",
            "a grade is 1 to 4",
        ));
    }
    // Names are stored in NFC: the query is searched the same way.
    let name = query
        .q
        .map(|q| crate::domain::text::clean(&q))
        .transpose()
        .map_err(|forbidden| AppError::Validation(vec![forbidden.field_error("q")]))?
        .filter(|q| !q.is_empty());
    let filter = ResidentFilter {
        towns: None,
        name,
        town: query.town,
        village: query.village,
        category: query.category.map(|c| c.as_str().to_owned()),
        grade: query.grade,
        status: query.status.map(|s| s.as_str().to_owned()),
        household_status: query.household_status.map(|s| s.as_str().to_owned()),
        certificate_expiring_before: query.certificate_expiring_before,
        after_id: match &query.cursor {
            Some(cursor) => paging::decode_cursor::<i64>(LIST, cursor)?,
            None => 0,
        },
    };
    if format != Format::Json {
        let file = db::run(&state.pool, move |conn| {
            resident_list::export(conn, &asker.requester(), filter, format)
        })
        .await?;
        return Ok(file_response(file));
    }
    let found = db::run(&state.pool, move |conn| {
        residents::search(conn, &asker.requester(), filter, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ResidentList {
        page: Page {
            items: found.items,
            next_cursor: found.next.map(|id| paging::encode_cursor(LIST, &id)),
        },
        total: found.total,
    }))
}

/// A page of residents and how many match over every page.
#[derive(Serialize)]
struct ResidentList {
    #[serde(flatten)]
    page: Page<residents::SearchItem>,
    total: i64,
}

pub async fn get(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let resident = db::run(&state.pool, move |conn| {
        residents::read(conn, &asker.requester(), &id)
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), resident.version, &resident))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    id_number: String,
}

pub async fn lookup(
    state: web::Data<AppState>,
    asker: Asker,
    ApiJson(body): ApiJson<Lookup>,
) -> AppResult<HttpResponse> {
    let key = probe_key(&asker);
    let now = Instant::now();
    if state.auth.id_probes.check(&key, now).is_err() {
        return Err(probe_refused(&state, &key, now));
    }
    let resident: ResidentView = db::run(&state.pool, move |conn| {
        residents::lookup(conn, &asker.requester(), &body.id_number)
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), resident.version, &resident))
}

/// `PATCH /residents/{id}`: a JSON merge patch of the resident's fields, with the household
/// status members (see [`ResidentPatch`]).
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let patch = ResidentPatch::read(body)?;
    let expected = expected_version(&req)?;
    let resident = db::run(&state.pool, move |conn| {
        residents::update(conn, &asker.requester(), &id, expected, patch)
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), resident.version, &resident))
}

pub async fn file(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let kept = whole_file::read_kept(&asker.requester(), &id).await?;
    let file = match kept {
        Some(file) => file,
        None => {
            db::run(&state.pool, move |conn| {
                whole_file::read(conn, &asker.requester(), &id)
            })
            .await?
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(file.version)))
        .content_type(actix_web::http::header::ContentType::json())
        .body(file.body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize)]
pub struct HistoryEntry {
    seq: i64,
    occurred_at: String,
    actor_id: Option<String>,
    actor_username: Option<String>,
    action: String,
    entity_type: Option<String>,
    entity_id: Option<String>,
    changes: Option<serde_json::Value>,
}

pub async fn history(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let limit = paging::limit(query.limit)?;
    let after = match &query.cursor {
        Some(cursor) => paging::decode_cursor::<i64>(HISTORY, cursor)?,
        None => 0,
    };
    let events = db::run(&state.pool, move |conn| {
        residents::history(conn, &asker.requester(), &id, after, limit + 1)
    })
    .await?;
    let more = events.len() as i64 > limit;
    let items: Vec<HistoryEntry> = events
        .into_iter()
        .take(limit as usize)
        .map(|e| HistoryEntry {
            seq: e.seq,
            occurred_at: e
                .occurred_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor_id: e.actor_user_id,
            actor_username: e.actor_username,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            changes: e.changes.and_then(|c| serde_json::from_str(&c).ok()),
        })
        .collect();
    let next_cursor = if more {
        items.last().map(|e| paging::encode_cursor(HISTORY, &e.seq))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reveal {
    field: ProtectedField,
}

pub async fn reveal(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<Reveal>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let field = body.field;
    let value = db::run(&state.pool, move |conn| {
        residents::reveal(conn, &asker.requester(), &id, field)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "field": field, "value": value })))
}

/// The `report` parameter of an import: how its report is answered.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    report: Option<String>,
}

/// What an import's report can be answered as: JSON, or CSV for Excel.
const IMPORT_REPORTS: &[(&str, &str, Format)] = &[
    ("json", "application/json", Format::Json),
    ("csv", "text/csv", Format::Csv),
];

/// `POST /imports/residents`: a CSV file or a workbook; the report as JSON, or as CSV when the
/// `report` parameter or else the `Accept` header asks for it.
pub async fn import_residents(
    state: web::Data<AppState>,
    req: HttpRequest,
    asker: Asker,
    ApiQuery(query): ApiQuery<ImportQuery>,
    SheetBody(bytes, format): SheetBody,
) -> AppResult<HttpResponse> {
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let answer = negotiate(
        query.report.as_deref(),
        accept,
        IMPORT_REPORTS,
        Format::Json,
    )
    .map_err(|e| match e {
        AppError::Validation(errors) => {
            AppError::Validation(errors.into_iter().map(|f| f.renamed("report")).collect())
        }
        other => other,
    })?;
    let key = probe_key(&asker);
    let allowance = scoped(&asker).then(|| state.auth.id_probes.remaining(&key, Instant::now()));
    if allowance == Some(0) {
        return Err(probe_refused(&state, &key, Instant::now()));
    }
    let outcome = db::run(&state.pool, move |conn| {
        import::import_within(conn, &asker.requester(), &bytes, format, allowance)
    })
    .await?;
    match outcome {
        import::ImportOutcome::Done(report) => {
            state
                .auth
                .id_probes
                .spend(&key, report.existence_answers, Instant::now());
            if answer == Format::Csv {
                return Ok(file_response(import_sheets::report_csv(&report)?));
            }
            Ok(HttpResponse::Ok().json(report))
        }
        import::ImportOutcome::OverAllowance { .. } => {
            // The allowance is spent: the refusal itself tells something of the file.
            state.auth.id_probes.exhaust(&key, Instant::now());
            Err(probe_refused(&state, &key, Instant::now()))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateQuery {
    format: Option<String>,
}

/// `GET /imports/residents/template`: the file to fill in, as CSV (the default) or XLSX.
pub async fn import_template(ApiQuery(query): ApiQuery<TemplateQuery>) -> AppResult<HttpResponse> {
    const TEMPLATES: &[(&str, &str, Format)] = &[
        ("csv", "text/csv", Format::Csv),
        ("xlsx", crate::use_cases::reports::XLSX_TYPE, Format::Xlsx),
    ];
    let format = negotiate(query.format.as_deref(), None, TEMPLATES, Format::Csv)?;
    Ok(file_response(import_sheets::template(format)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveResident {
    town_code: String,
    village_code: Option<String>,
    moved_on: NaiveDate,
}

/// `POST /residents/{id}/moves`: records a move to another town of the district. `If-Match`
/// is optional here; when sent, it must name the resident's current version.
pub async fn record_move(
    state: web::Data<AppState>,
    req: HttpRequest,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<MoveResident>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let expected = req
        .headers()
        .contains_key(actix_web::http::header::IF_MATCH)
        .then(|| expected_version(&req))
        .transpose()?;
    let request = residents::moves::MoveRequest {
        town_code: body.town_code,
        village_code: body.village_code,
        moved_on: body.moved_on,
    };
    let resident = db::run(&state.pool, move |conn| {
        residents::moves::record(conn, &asker.requester(), &id, expected, request)
    })
    .await?;
    Ok(with_etag(
        HttpResponse::Created(),
        resident.version,
        &resident,
    ))
}
