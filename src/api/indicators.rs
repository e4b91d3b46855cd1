//! Coverage indicators, their gap lists, the subsidy reconciliation, and the versioned
//! indicator definitions.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery};
use super::paging::{self, Page};
use super::residents::Asker;
use crate::auth::RequestContext;
use crate::db;
use crate::domain::eligibility::SubsidyKind;
use crate::domain::indicators::{Definition, IndicatorCode};
use crate::error::{AppError, AppResult};
use crate::indicators;
use crate::startup::AppState;

const GAPS: &str = "indicator_gaps";
const RECONCILIATION: &str = "subsidy_reconciliation";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureQuery {
    as_of: Option<String>,
    area: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    as_of: Option<String>,
    area: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationQuery {
    as_of: Option<String>,
    area: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// The as-of day asked for (`YYYY-MM-DD`, not after today), or today.
fn as_of(asked: Option<&str>, today: NaiveDate) -> Result<NaiveDate, AppError> {
    let Some(text) = asked else {
        return Ok(today);
    };
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| AppError::field("as_of", "invalid_date", "write the date as YYYY-MM-DD"))?;
    indicators::check_as_of(day, today)
}

fn indicator(code: &str) -> Result<IndicatorCode, AppError> {
    IndicatorCode::parse(code).ok_or(AppError::NotFound)
}

pub async fn report(
    state: web::Data<AppState>,
    asker: Asker,
    ApiQuery(query): ApiQuery<FigureQuery>,
) -> AppResult<HttpResponse> {
    let day = as_of(query.as_of.as_deref(), asker.today())?;
    let report = db::run(&state.pool, move |conn| {
        indicators::report(conn, asker.requester().scope, day, query.area.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

pub async fn one(
    state: web::Data<AppState>,
    asker: Asker,
    code: web::Path<String>,
    ApiQuery(query): ApiQuery<FigureQuery>,
) -> AppResult<HttpResponse> {
    let code = indicator(&code)?;
    let day = as_of(query.as_of.as_deref(), asker.today())?;
    let result = db::run(&state.pool, move |conn| {
        indicators::one(
            conn,
            asker.requester().scope,
            code,
            day,
            query.area.as_deref(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(serde::Serialize)]
struct GapList {
    #[serde(flatten)]
    page: Page<indicators::Gap>,
    total: i64,
}

pub async fn gaps(
    state: web::Data<AppState>,
    asker: Asker,
    code: web::Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<HttpResponse> {
    let code = indicator(&code)?;
    let day = as_of(query.as_of.as_deref(), asker.today())?;
    let limit = paging::limit(query.limit)?;
    let list = format!("{GAPS}:{code}:{day}");
    let after = query
        .cursor
        .as_deref()
        .map(|c| paging::decode_cursor::<i64>(&list, c))
        .transpose()?;
    let page = db::run(&state.pool, move |conn| {
        indicators::gaps(
            conn,
            &asker.requester(),
            code,
            day,
            query.area.as_deref(),
            limit,
            after,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(GapList {
        page: Page {
            next_cursor: page.last.map(|last| paging::encode_cursor(&list, &last)),
            items: page.items,
        },
        total: page.total,
    }))
}

#[derive(serde::Serialize)]
struct ReconciliationPage {
    #[serde(flatten)]
    body: indicators::Reconciliation,
    next_cursor: Option<String>,
}

pub async fn reconciliation(
    state: web::Data<AppState>,
    asker: Asker,
    ApiQuery(query): ApiQuery<ReconciliationQuery>,
) -> AppResult<HttpResponse> {
    let day = as_of(query.as_of.as_deref(), asker.today())?;
    let kind = query
        .kind
        .as_deref()
        .map(|k| {
            SubsidyKind::parse(k)
                .ok_or_else(|| AppError::field("kind", "invalid", "living or nursing"))
        })
        .transpose()?;
    let limit = paging::limit(query.limit)?;
    let list = format!("{RECONCILIATION}:{day}");
    let after = query
        .cursor
        .as_deref()
        .map(|c| paging::decode_cursor::<(i64, i64)>(&list, c))
        .transpose()?;
    let body = db::run(&state.pool, move |conn| {
        indicators::reconciliation(
            conn,
            &asker.requester(),
            day,
            query.area.as_deref(),
            kind,
            limit,
            after,
        )
    })
    .await?;
    let next_cursor = body.last.map(|last| paging::encode_cursor(&list, &last));
    Ok(HttpResponse::Ok().json(ReconciliationPage { body, next_cursor }))
}

pub async fn definitions(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let today = crate::domain::today();
    let items = db::run(&state.pool, move |conn| {
        indicators::definition_sets(conn, today)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDefinitions {
    effective_from: NaiveDate,
    indicators: Vec<Definition>,
}

pub async fn publish(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<NewDefinitions>,
) -> AppResult<HttpResponse> {
    let today = crate::domain::today();
    let set = db::run(&state.pool, move |conn| {
        indicators::publish(conn, &ctx, today, body.effective_from, body.indicators)
    })
    .await?;
    Ok(HttpResponse::Created().json(set))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    reason: String,
}

pub async fn withdraw(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<Withdrawal>,
) -> AppResult<HttpResponse> {
    let today = crate::domain::today();
    let id = id.into_inner().to_string();
    let set = db::run(&state.pool, move |conn| {
        indicators::withdraw(conn, &ctx, today, &id, &body.reason)
    })
    .await?;
    Ok(HttpResponse::Ok().json(set))
}
