//! Reference data: the area tree and the code catalogue.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::db::{self, areas::AreaRow};
use crate::domain::codes;
use crate::error::AppResult;
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct AreaNode {
    pub code: String,
    pub name: String,
    pub level: String,
    pub children: Vec<AreaNode>,
}

/// Builds the tree from rows; rows whose parent is missing are not shown.
fn tree(rows: Vec<AreaRow>) -> Vec<AreaNode> {
    fn children_of(parent: Option<&str>, rows: &[AreaRow]) -> Vec<AreaNode> {
        rows.iter()
            .filter(|r| r.parent_code.as_deref() == parent)
            .map(|r| AreaNode {
                code: r.code.clone(),
                name: r.name.clone(),
                level: r.level.clone(),
                children: children_of(Some(&r.code), rows),
            })
            .collect()
    }
    children_of(None, &rows)
}

pub async fn areas(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let rows = db::run(&state.pool, |conn| Ok(db::areas::all(conn)?)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": tree(rows) })))
}

pub async fn codes() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "items": codes::catalogue() }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVillage {
    code: String,
    name: String,
    parent_code: String,
}

/// Adds a village or community (村社区) under a town.
pub async fn create_village(
    state: web::Data<AppState>,
    crate::auth::RequestContext(ctx): crate::auth::RequestContext,
    super::extract::ApiJson(body): super::extract::ApiJson<NewVillage>,
) -> AppResult<HttpResponse> {
    let village = db::run(&state.pool, move |conn| {
        crate::areas::create_village(conn, &ctx, &body.code, &body.name, &body.parent_code)
    })
    .await?;
    let mut builder = HttpResponse::Created();
    builder.insert_header(("Location", "/api/v1/areas"));
    Ok(builder.json(AreaNode {
        code: village.code,
        name: village.name,
        level: village.level,
        children: Vec::new(),
    }))
}

/// `POST /imports/areas`: adds villages and communities from a CSV file (`code,name,town_code`).
pub async fn import_villages(
    state: web::Data<AppState>,
    crate::auth::RequestContext(ctx): crate::auth::RequestContext,
    super::extract::CsvBody(bytes): super::extract::CsvBody,
) -> AppResult<HttpResponse> {
    let report = db::run(&state.pool, move |conn| {
        crate::areas::import_villages(conn, &ctx, &bytes)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
