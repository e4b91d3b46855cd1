//! Home modification cases and their steps.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::asker::Asker;
use super::concurrency::{etag, expected_version};
use super::corrections::Correction;
use super::extract::ApiJson;
use crate::db;
use crate::domain::home_modification::Assessment;
use crate::error::AppResult;
use crate::state::AppState;
use crate::use_cases::corrections::VoidRequest;
use crate::use_cases::home_modifications::{self, CaseAction, Item};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    applied_on: NaiveDate,
    #[serde(default)]
    items: Vec<Item>,
}

pub async fn apply(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<Apply>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let case = db::run(&state.pool, move |conn| {
        home_modifications::apply(conn, &asker.requester(), &id, body.applied_on, body.items)
    })
    .await?;
    Ok(HttpResponse::Created().json(case))
}

#[derive(Deserialize)]
pub struct CasePath {
    id: uuid::Uuid,
    case_id: uuid::Uuid,
}

async fn act(
    state: web::Data<AppState>,
    asker: Asker,
    path: CasePath,
    action: CaseAction,
) -> AppResult<HttpResponse> {
    let (resident_id, case_id) = (path.id.to_string(), path.case_id.to_string());
    let case = db::run(&state.pool, move |conn| {
        home_modifications::act(conn, &asker.requester(), &resident_id, &case_id, action)
    })
    .await?;
    Ok(HttpResponse::Ok().json(case))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assess {
    assessed_on: NaiveDate,
    outcome: Assessment,
}

pub async fn assess(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<CasePath>,
    ApiJson(body): ApiJson<Assess>,
) -> AppResult<HttpResponse> {
    let action = CaseAction::Assess {
        on: body.assessed_on,
        outcome: body.outcome,
    };
    act(state, asker, path.into_inner(), action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    started_on: NaiveDate,
}

pub async fn start(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<CasePath>,
    ApiJson(body): ApiJson<Start>,
) -> AppResult<HttpResponse> {
    act(
        state,
        asker,
        path.into_inner(),
        CaseAction::Start {
            on: body.started_on,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complete {
    completed_on: NaiveDate,
    cost_fen: Option<i64>,
    items: Option<Vec<Item>>,
}

pub async fn complete(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<CasePath>,
    ApiJson(body): ApiJson<Complete>,
) -> AppResult<HttpResponse> {
    let action = CaseAction::Complete {
        on: body.completed_on,
        cost_fen: body.cost_fen,
        items: body.items,
    };
    act(state, asker, path.into_inner(), action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    cancelled_on: NaiveDate,
    reason: String,
}

pub async fn cancel(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<CasePath>,
    ApiJson(body): ApiJson<Cancel>,
) -> AppResult<HttpResponse> {
    let action = CaseAction::Cancel {
        on: body.cancelled_on,
        reason: body.reason,
    };
    act(state, asker, path.into_inner(), action).await
}

/// Voids a case entered by mistake, with a reason; needs its version (`ETag`) in `If-Match`.
pub async fn void(
    state: web::Data<AppState>,
    req: HttpRequest,
    asker: Asker,
    path: web::Path<CasePath>,
    ApiJson(body): ApiJson<Correction>,
) -> AppResult<HttpResponse> {
    let request = VoidRequest {
        expected_version: expected_version(&req)?,
        reason: body.reason,
    };
    let (resident_id, case_id) = (path.id.to_string(), path.case_id.to_string());
    let case = db::run(&state.pool, move |conn| {
        home_modifications::void(conn, &asker.requester(), &resident_id, &case_id, request)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(case.version)))
        .json(case))
}
