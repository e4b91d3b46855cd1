//! The simpler file sections, one generic set of handlers for all of them.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::asker::Asker;
use super::concurrency::{etag, expected_version};
use super::corrections::Correction;
use super::extract::ApiJson;
use crate::db;
use crate::error::AppResult;
use crate::state::AppState;
use crate::use_cases::corrections::VoidRequest;
use crate::use_cases::sections::{self, Section};

#[derive(serde::Deserialize)]
pub struct RecordPath {
    id: uuid::Uuid,
    record_id: uuid::Uuid,
}

pub async fn create<S: Section>(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(record): ApiJson<S>,
) -> AppResult<HttpResponse> {
    let resident_id = id.into_inner().to_string();
    let created = db::run(&state.pool, move |conn| {
        sections::create(conn, &asker.requester(), &resident_id, record)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(sections::version_of(&created))))
        .json(created))
}

pub async fn update<S: Section>(
    state: web::Data<AppState>,
    req: HttpRequest,
    asker: Asker,
    path: web::Path<RecordPath>,
    ApiJson(changes): ApiJson<Map<String, Value>>,
) -> AppResult<HttpResponse> {
    let expected = expected_version(&req)?;
    let path = path.into_inner();
    let (resident_id, record_id) = (path.id.to_string(), path.record_id.to_string());
    let updated = db::run(&state.pool, move |conn| {
        sections::update::<S>(
            conn,
            &asker.requester(),
            &resident_id,
            &record_id,
            expected,
            changes,
        )
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(sections::version_of(&updated))))
        .json(updated))
}

/// Voids a record entered by mistake, with a reason; needs its `ETag` in `If-Match`.
pub async fn void<S: Section>(
    state: web::Data<AppState>,
    req: HttpRequest,
    asker: Asker,
    path: web::Path<RecordPath>,
    ApiJson(body): ApiJson<Correction>,
) -> AppResult<HttpResponse> {
    let request = VoidRequest {
        expected_version: expected_version(&req)?,
        reason: body.reason,
    };
    let path = path.into_inner();
    let (resident_id, record_id) = (path.id.to_string(), path.record_id.to_string());
    let voided = db::run(&state.pool, move |conn| {
        sections::void::<S>(conn, &asker.requester(), &resident_id, &record_id, request)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(sections::version_of(&voided))))
        .json(voided))
}
