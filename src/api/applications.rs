//! Applications, their decisions and withdrawal, the client's event feed, and certificate
//! verification.

use std::time::Instant;

use actix_web::http::header::ContentType;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use super::asker::Asker;
use super::extract::{ApiJson, ApiQuery};
use super::paging::{self, Page};
use crate::auth::guard::{Principal, RequestContext};
use crate::db;
use crate::domain::certificate::Category;
use crate::domain::resident::HouseholdStatus;
use crate::error::{AppError, AppResult};
use crate::input::parse_json_value;
use crate::state::AppState;
use crate::use_cases::integration::applications::{
    self, DecisionRequest, ListQuery, NewCertificate, Reader, Registration, Submission, Submitter,
};
use crate::use_cases::integration::clients::ClientCaller;
use crate::use_cases::integration::idempotency::{self, Key};
use crate::use_cases::integration::model::{
    request_hash, ApplicationKind, ApplicationStatus, Channel, Decision,
};
use crate::use_cases::integration::{outbox, verify};

const LIST: &str = "applications";
const EVENTS: &str = "application_events";

/// The checked `Idempotency-Key` of a client's POST, bound to this request.
fn idempotency_key(req: &HttpRequest, body: &Value) -> AppResult<Key> {
    let value = idempotency::parse_key(key_header(req))?;
    Ok(Key {
        value,
        request_hash: request_hash(req.method().as_str(), req.path(), body),
    })
}

/// The `Idempotency-Key` header as sent (a value that is no text reads as one no key may be).
fn key_header(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}"))
}

/// A stored or fresh answer, sent byte for byte; a replay says so in `Idempotent-Replayed`.
fn answer(answer: idempotency::Answer) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::OK);
    let mut builder = HttpResponse::build(status);
    builder.insert_header(ContentType::json());
    if answer.replayed {
        builder.insert_header(("Idempotent-Replayed", "true"));
    }
    builder.body(answer.body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApplication {
    kind: ApplicationKind,
    id_number: String,
    name: String,
    town_code: String,
    external_ref: Option<String>,
    #[serde(default = "empty_object")]
    payload: Value,
    /// Staff only: `counter` (default) or `caseworker`.
    channel: Option<Channel>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    principal: Principal,
    RequestContext(ctx): RequestContext,
    ApiJson(raw): ApiJson<Value>,
) -> AppResult<HttpResponse> {
    let body: CreateApplication = parse_json_value(raw.clone())?;
    let submission = Submission {
        kind: body.kind,
        id_number: body.id_number,
        name: body.name,
        town_code: body.town_code,
        external_ref: body.external_ref,
        payload: body.payload,
    };
    let today = crate::domain::today();
    let protector = state.protector.clone();
    match principal {
        Principal::Client(client) => {
            if body.channel.is_some() {
                return Err(AppError::field(
                    "channel",
                    "not_allowed",
                    "applications of a client come in through its own channel",
                ));
            }
            let key = idempotency_key(&req, &raw)?;
            let done = db::run(&state.pool, move |conn| {
                idempotency::run_once(conn, client.id, &key, 201, |conn| {
                    applications::submit(
                        conn,
                        &ctx,
                        &protector,
                        today,
                        Submitter::Client(client.id),
                        submission,
                    )
                })
            })
            .await?;
            Ok(answer(done))
        }
        Principal::Staff(caller) => {
            // Staff submissions are not replayed by key, but a key sent must still be one.
            if let Some(key) = key_header(&req) {
                idempotency::parse_key(Some(key))?;
            }
            let channel = match body.channel.unwrap_or(Channel::Counter) {
                Channel::Zheliban => {
                    return Err(AppError::field(
                        "channel",
                        "not_allowed",
                        "staff record applications made at a counter or by a caseworker",
                    ))
                }
                other => other,
            };
            let scope = caller.scope();
            let view = db::run(&state.pool, move |conn| {
                applications::submit(
                    conn,
                    &ctx,
                    &protector,
                    today,
                    Submitter::Staff {
                        scope: &scope,
                        channel,
                    },
                    submission,
                )
            })
            .await?;
            Ok(HttpResponse::Created().json(view))
        }
    }
}

fn reader_scope(principal: &Principal) -> (Option<i64>, crate::domain::role::Scope) {
    match principal {
        Principal::Client(c) => (Some(c.id), crate::domain::role::Scope::Towns(Vec::new())),
        Principal::Staff(s) => (None, s.scope()),
    }
}

pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let protector = state.protector.clone();
    let (client, scope) = reader_scope(&principal);
    let view = db::run(&state.pool, move |conn| {
        let reader = match client {
            Some(c) => Reader::Client(c),
            None => Reader::Staff(&scope),
        };
        applications::get(conn, &protector, reader, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationsQuery {
    kind: Option<ApplicationKind>,
    status: Option<ApplicationStatus>,
    town: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ApplicationsQuery>,
) -> AppResult<HttpResponse> {
    let limit = paging::limit(query.limit)?;
    let after_id = match &query.cursor {
        Some(cursor) => paging::decode_cursor::<i64>(LIST, cursor)?,
        None => 0,
    };
    let protector = state.protector.clone();
    let (client, scope) = reader_scope(&principal);
    let list_query = ListQuery {
        kind: query.kind,
        status: query.status,
        town: query.town,
        after_id,
    };
    let (items, next) = db::run(&state.pool, move |conn| {
        let reader = match client {
            Some(c) => Reader::Client(c),
            None => Reader::Staff(&scope),
        };
        applications::list(conn, &protector, reader, list_query, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: next.map(|id| paging::encode_cursor(LIST, &id)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateFound {
    category: Category,
    #[serde(default)]
    components: Vec<Category>,
    grade: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    decision: Decision,
    reason: Option<String>,
    start_month: Option<NaiveDate>,
    certificate: Option<CertificateFound>,
}

pub async fn decide(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let request = DecisionRequest {
        decision: body.decision,
        reason: body.reason,
        start_month: body.start_month,
        certificate: body.certificate.map(|c| NewCertificate {
            category: c.category,
            components: c.components,
            grade: c.grade,
        }),
    };
    let view = db::run(&state.pool, move |conn| {
        applications::decide(conn, &asker.requester(), &id, request)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    village_code: Option<String>,
    address: Option<String>,
    phone: Option<String>,
    household_status: Option<HouseholdStatus>,
    registered_on: Option<NaiveDate>,
}

pub async fn register(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let registration = Registration {
        village_code: body.village_code,
        address: body.address,
        phone: body.phone,
        household_status: body.household_status,
        registered_on: body.registered_on,
    };
    let view = db::run(&state.pool, move |conn| {
        applications::register(conn, &asker.requester(), &id, registration)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    reason: Option<String>,
}

pub async fn withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientCaller,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
    ApiJson(raw): ApiJson<Value>,
) -> AppResult<HttpResponse> {
    let body: WithdrawBody = parse_json_value(raw.clone())?;
    let key = idempotency_key(&req, &raw)?;
    let id = id.into_inner().to_string();
    let protector = state.protector.clone();
    let done = db::run(&state.pool, move |conn| {
        idempotency::run_once(conn, client.id, &key, 200, |conn| {
            applications::withdraw(conn, &ctx, &protector, client.id, &id, body.reason)
        })
    })
    .await?;
    Ok(answer(done))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The client's events, oldest first: what its webhook receives, for polling.
pub async fn events(
    state: web::Data<AppState>,
    client: ClientCaller,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> AppResult<HttpResponse> {
    let limit = paging::limit(query.limit)?;
    let after = match &query.cursor {
        Some(cursor) => paging::decode_cursor::<i64>(EVENTS, cursor)?,
        None => 0,
    };
    let (items, next) = db::run(&state.pool, move |conn| {
        outbox::feed(conn, client.id, after, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: next.map(|id| paging::encode_cursor(EVENTS, &id)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    number: String,
}

pub async fn verify_certificate(
    state: web::Data<AppState>,
    principal: Principal,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<VerifyBody>,
) -> AppResult<HttpResponse> {
    let limiter_key = match &principal {
        Principal::Client(c) => format!("client:{}", c.client_id),
        Principal::Staff(s) => format!("user:{}", s.public_id),
    };
    let limited = state
        .integration
        .verify_limiter
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .check(&limiter_key, Instant::now());
    if let Err(retry_after_secs) = limited {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let protector = state.protector.clone();
    let today = crate::domain::today();
    let recorder = state.recorder.clone();
    let found = db::run(&state.pool, move |conn| {
        verify::verify(conn, &ctx, &recorder, &protector, &body.number, today)
    })
    .await?;
    Ok(HttpResponse::Ok().json(found))
}
