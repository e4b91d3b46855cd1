//! Frozen reports (snapshots): take one, list them, read one in any format, verify one.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::asker::Asker;
use super::extract::{ApiJson, ApiQuery};
use super::paging::{self, Page};
use super::reporting::{as_of, file_response, format_of};
use crate::db;
use crate::error::AppResult;
use crate::state::AppState;
use crate::use_cases::reports::exports;
use crate::use_cases::reports::{snapshots, Format};

const LIST: &str = "report_snapshots";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSnapshot {
    as_of: Option<String>,
    area: Option<String>,
}

pub async fn take(
    state: web::Data<AppState>,
    asker: Asker,
    ApiJson(body): ApiJson<NewSnapshot>,
) -> AppResult<HttpResponse> {
    let day = as_of(body.as_of.as_deref(), asker.today())?;
    let snapshot = db::run(&state.pool, move |conn| {
        snapshots::take(conn, &asker.requester(), day, body.area.as_deref())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/reports/{}", snapshot.id)))
        .json(snapshot))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    asker: Asker,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<HttpResponse> {
    let limit = paging::limit(query.limit)?;
    let before = query
        .cursor
        .as_deref()
        .map(|c| paging::decode_cursor::<i64>(LIST, c))
        .transpose()?;
    let (items, last) = db::run(&state.pool, move |conn| {
        snapshots::list(conn, asker.requester().scope, limit, before)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: last.map(|id| paging::encode_cursor(LIST, &id)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    format: Option<String>,
}

pub async fn get(
    state: web::Data<AppState>,
    asker: Asker,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
    ApiQuery(query): ApiQuery<GetQuery>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let format = format_of(&req, query.format.as_deref())?;
    if format == Format::Json {
        let frozen = db::run(&state.pool, move |conn| {
            snapshots::get(conn, asker.requester().scope, &id)
        })
        .await?;
        return Ok(HttpResponse::Ok().json(frozen.view));
    }
    let suppress_below = state.config.reports.suppress_below;
    let file = db::run(&state.pool, move |conn| {
        exports::snapshot(conn, &asker.requester(), &id, format, suppress_below)
    })
    .await?;
    Ok(file_response(file))
}

pub async fn verify(
    state: web::Data<AppState>,
    asker: Asker,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let verification = db::run(&state.pool, move |conn| {
        snapshots::verify(conn, &asker.requester(), &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(verification))
}
