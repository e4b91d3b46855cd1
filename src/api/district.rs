//! District data: facilities and GDP growth.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::concurrency::{etag, expected_version};
use super::extract::ApiJson;
use crate::auth::guard::RequestContext;
use crate::db;
use crate::domain::today;
use crate::error::AppResult;
use crate::state::AppState;
use crate::use_cases::district::{self, Facility};

pub async fn facilities(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let items = db::run(&state.pool, district::list).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

pub async fn create_facility(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<Facility>,
) -> AppResult<HttpResponse> {
    let created = db::run(&state.pool, move |conn| {
        district::create(conn, &ctx, body, today())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(created.version)))
        .json(created))
}

pub async fn update_facility(
    state: web::Data<AppState>,
    req: HttpRequest,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
    ApiJson(changes): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> AppResult<HttpResponse> {
    let expected = expected_version(&req)?;
    let id = id.into_inner().to_string();
    let updated = db::run(&state.pool, move |conn| {
        district::update(conn, &ctx, &id, expected, changes, today())
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(updated.version)))
        .json(updated))
}

pub async fn gdp_growth(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let items = db::run(&state.pool, district::gdp_growth).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrowthBody {
    growth_bp: i32,
}

pub async fn set_gdp_growth(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    year: web::Path<i32>,
    ApiJson(body): ApiJson<GrowthBody>,
) -> AppResult<HttpResponse> {
    let year = year.into_inner();
    let set = db::run(&state.pool, move |conn| {
        district::set_gdp_growth(conn, &ctx, year, body.growth_bp, today())
    })
    .await?;
    Ok(HttpResponse::Ok().json(set))
}
