//! Coverage indicators, their gap lists, the subsidy reconciliation, and the versioned
//! indicator definitions.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::asker::Asker;
use super::corrections::Correction;
use super::extract::{ApiJson, ApiQuery};
use super::paging::{self, Page};
use super::reporting::{as_of, file_response, format_of};
use crate::auth::guard::RequestContext;
use crate::db;
use crate::domain::eligibility::SubsidyKind;
use crate::domain::indicators::{Definition, IndicatorCode};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::use_cases::indicators;
use crate::use_cases::reports::exports::{self, ReportRequest};
use crate::use_cases::reports::Format;

const GAPS: &str = "indicator_gaps";
const RECONCILIATION: &str = "subsidy_reconciliation";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureQuery {
    as_of: Option<String>,
    area: Option<String>,
    format: Option<String>,
    /// Gap lists to add to a workbook, comma-separated codes.
    gaps: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    as_of: Option<String>,
    area: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationQuery {
    as_of: Option<String>,
    area: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
    format: Option<String>,
}

fn indicator(code: &str) -> Result<IndicatorCode, AppError> {
    IndicatorCode::parse(code).ok_or(AppError::NotFound)
}

/// The gap lists named in `gaps` (comma-separated codes), each once.
fn gap_codes(asked: Option<&str>) -> Result<Vec<IndicatorCode>, AppError> {
    let mut codes = Vec::new();
    for part in asked
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let code = IndicatorCode::parse(part).ok_or_else(|| {
            AppError::field(
                "gaps",
                "unknown_code",
                format!("{part} is not an indicator code"),
            )
        })?;
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

/// The report or one indicator as a file.
async fn figures_file(
    state: web::Data<AppState>,
    asker: Asker,
    query: FigureQuery,
    code: Option<IndicatorCode>,
    format: Format,
) -> AppResult<HttpResponse> {
    let day = as_of(query.as_of.as_deref(), asker.today())?;
    let gaps = gap_codes(query.gaps.as_deref())?;
    let suppress_below = state.config.reports.suppress_below;
    let file = db::run(&state.pool, move |conn| {
        exports::report(
            conn,
            &asker.requester(),
            ReportRequest {
                day,
                area: query.area.as_deref(),
                code,
                gaps,
                format,
                suppress_below,
            },
        )
    })
    .await?;
    Ok(file_response(file))
}

pub async fn report(
    state: web::Data<AppState>,
    asker: Asker,
    req: HttpRequest,
    ApiQuery(query): ApiQuery<FigureQuery>,
) -> AppResult<HttpResponse> {
    let format = format_of(&req, query.format.as_deref())?;
    if format != Format::Json {
        return figures_file(state, asker, query, None, format).await;
    }
    if query.gaps.is_some() {
        return Err(gaps_not_json());
    }
    let day = as_of(query.as_of.as_deref(), asker.today())?;
    let report = db::run(&state.pool, move |conn| {
        indicators::report(conn, asker.requester().scope, day, query.area.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

fn gaps_not_json() -> AppError {
    AppError::field(
        "gaps",
        "xlsx_only",
        "gap lists are added as sheets of a workbook: ask for format=xlsx",
    )
}

pub async fn one(
    state: web::Data<AppState>,
    asker: Asker,
    req: HttpRequest,
    code: web::Path<String>,
    ApiQuery(query): ApiQuery<FigureQuery>,
) -> AppResult<HttpResponse> {
    let code = indicator(&code)?;
    let format = format_of(&req, query.format.as_deref())?;
    if format != Format::Json {
        return figures_file(state, asker, query, Some(code), format).await;
    }
    if query.gaps.is_some() {
        return Err(gaps_not_json());
    }
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
    req: HttpRequest,
    code: web::Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<HttpResponse> {
    let code = indicator(&code)?;
    let day = as_of(query.as_of.as_deref(), asker.today())?;
    let format = format_of(&req, query.format.as_deref())?;
    if format != Format::Json {
        paging::whole_list_only(query.limit, query.cursor.as_deref())?;
        let file = db::run(&state.pool, move |conn| {
            exports::gaps(
                conn,
                &asker.requester(),
                code,
                day,
                query.area.as_deref(),
                format,
            )
        })
        .await?;
        return Ok(file_response(file));
    }
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
    req: HttpRequest,
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
    let format = format_of(&req, query.format.as_deref())?;
    if format != Format::Json {
        paging::whole_list_only(query.limit, query.cursor.as_deref())?;
        let file = db::run(&state.pool, move |conn| {
            exports::reconciliation(
                conn,
                &asker.requester(),
                day,
                query.area.as_deref(),
                kind,
                format,
            )
        })
        .await?;
        return Ok(file_response(file));
    }
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

pub async fn withdraw(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<Correction>,
) -> AppResult<HttpResponse> {
    let today = crate::domain::today();
    let id = id.into_inner().to_string();
    let set = db::run(&state.pool, move |conn| {
        indicators::withdraw(conn, &ctx, today, &id, &body.reason)
    })
    .await?;
    Ok(HttpResponse::Ok().json(set))
}
