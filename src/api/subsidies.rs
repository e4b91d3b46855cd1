//! Subsidy policies, eligibility, and grants.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::asker::Asker;
use super::concurrency::{etag, expected_version};
use super::corrections::Correction;
use super::extract::{ApiJson, ApiQuery};
use crate::auth::guard::RequestContext;
use crate::db;
use crate::domain::eligibility::SubsidyKind;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::use_cases::corrections::VoidRequest;
use crate::use_cases::subsidies::{self, GrantAction, GrantRequest};

pub async fn policies(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let items = db::run(&state.pool, subsidies::policy_versions).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    kind: SubsidyKind,
    effective_from: NaiveDate,
    monthly_amount_fen: i64,
    rules: serde_json::Value,
}

pub async fn create_policy(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<NewPolicy>,
) -> AppResult<HttpResponse> {
    let policy = db::run(&state.pool, move |conn| {
        subsidies::create_policy(
            conn,
            &ctx,
            body.kind,
            body.effective_from,
            body.monthly_amount_fen,
            body.rules,
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(policy))
}

pub async fn withdraw_policy(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<Correction>,
) -> AppResult<HttpResponse> {
    let today = crate::domain::today();
    let id = id.into_inner().to_string();
    let policy = db::run(&state.pool, move |conn| {
        subsidies::withdraw_policy(conn, &ctx, today, &id, &body.reason)
    })
    .await?;
    Ok(HttpResponse::Ok().json(policy))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsOf {
    as_of: Option<NaiveDate>,
}

pub async fn eligibility(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiQuery(query): ApiQuery<AsOf>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let as_of = query.as_of.unwrap_or(asker.today());
    let view = db::run(&state.pool, move |conn| {
        subsidies::eligibility(conn, &asker.requester(), &id, as_of)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A month written `YYYY-MM`.
fn parse_month(field: &str, value: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| value.len() == 7)
        .ok_or_else(|| AppError::field(field, "invalid_month", "write the month as YYYY-MM"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    kind: SubsidyKind,
    start_month: String,
    monthly_amount_fen: Option<i64>,
    override_reason: Option<String>,
}

pub async fn grant(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<NewGrant>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let request = GrantRequest {
        kind: body.kind,
        start_month: parse_month("start_month", &body.start_month)?,
        monthly_amount_fen: body.monthly_amount_fen,
        override_reason: body.override_reason,
    };
    let grant = db::run(&state.pool, move |conn| {
        subsidies::grant(conn, &asker.requester(), &id, request)
    })
    .await?;
    Ok(HttpResponse::Created().json(grant))
}

#[derive(Deserialize)]
pub struct GrantPath {
    id: uuid::Uuid,
    grant_id: uuid::Uuid,
}

async fn act(
    state: web::Data<AppState>,
    asker: Asker,
    path: GrantPath,
    action: GrantAction,
) -> AppResult<HttpResponse> {
    let (resident_id, grant_id) = (path.id.to_string(), path.grant_id.to_string());
    let grant = db::run(&state.pool, move |conn| {
        subsidies::act(conn, &asker.requester(), &resident_id, &grant_id, action)
    })
    .await?;
    Ok(HttpResponse::Ok().json(grant))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    suspended_on: NaiveDate,
    reason: String,
}

pub async fn suspend(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<GrantPath>,
    ApiJson(body): ApiJson<Suspend>,
) -> AppResult<HttpResponse> {
    let action = GrantAction::Suspend {
        on: body.suspended_on,
        reason: body.reason,
    };
    act(state, asker, path.into_inner(), action).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    resumed_on: NaiveDate,
}

pub async fn resume(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<GrantPath>,
    ApiJson(body): ApiJson<Resume>,
) -> AppResult<HttpResponse> {
    act(
        state,
        asker,
        path.into_inner(),
        GrantAction::Resume {
            on: body.resumed_on,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terminate {
    terminated_on: NaiveDate,
    reason: String,
}

pub async fn terminate(
    state: web::Data<AppState>,
    asker: Asker,
    path: web::Path<GrantPath>,
    ApiJson(body): ApiJson<Terminate>,
) -> AppResult<HttpResponse> {
    let action = GrantAction::Terminate {
        on: body.terminated_on,
        reason: body.reason,
    };
    act(state, asker, path.into_inner(), action).await
}

/// Voids a grant entered by mistake, with a reason; needs its version (`ETag`) in `If-Match`.
pub async fn void(
    state: web::Data<AppState>,
    req: HttpRequest,
    asker: Asker,
    path: web::Path<GrantPath>,
    ApiJson(body): ApiJson<Correction>,
) -> AppResult<HttpResponse> {
    let request = VoidRequest {
        expected_version: expected_version(&req)?,
        reason: body.reason,
    };
    let (resident_id, grant_id) = (path.id.to_string(), path.grant_id.to_string());
    let grant = db::run(&state.pool, move |conn| {
        subsidies::void(conn, &asker.requester(), &resident_id, &grant_id, request)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(grant.version)))
        .json(grant))
}
