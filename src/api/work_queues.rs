//! The work queues (待办) of the caller's towns.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::asker::Asker;
use super::extract::ApiQuery;
use super::paging::{self, Page};
use super::reporting::file_response;
use crate::db;
use crate::domain::work_queue::WorkQueue;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::use_cases::reports::{negotiate, resident_list, work_queue, Format};
use crate::use_cases::work_queues::{self, QueueRequest, WorkItem};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    town: Option<String>,
    days: Option<i64>,
    limit: Option<i64>,
    cursor: Option<String>,
    format: Option<String>,
}

#[derive(Serialize)]
struct QueueList {
    #[serde(flatten)]
    page: Page<WorkItem>,
    total: i64,
}

pub async fn list(
    state: web::Data<AppState>,
    asker: Asker,
    req: HttpRequest,
    queue: web::Path<String>,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> AppResult<HttpResponse> {
    let queue = WorkQueue::parse(&queue).ok_or(AppError::NotFound)?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = negotiate(query.format.as_deref(), accept, Format::LISTS, Format::Json)?;
    let list = format!("work_queue:{}", queue.as_str());
    let limit = if format == Format::Json {
        paging::limit(query.limit)?
    } else {
        paging::whole_list_only(query.limit, query.cursor.as_deref())?;
        resident_list::MAX_ROWS
    };
    let asked = QueueRequest {
        queue,
        town: query.town,
        days: query.days,
        after: query
            .cursor
            .as_deref()
            .map(|c| paging::decode_cursor::<(i64, i64)>(&list, c))
            .transpose()?,
        limit,
    };
    let page = db::run(&state.pool, move |conn| {
        work_queues::list(conn, &asker.requester(), &asked)
    })
    .await?;
    if format != Format::Json {
        let file = work_queue::file(queue, &page.items, format)?;
        return Ok(file_response(file));
    }
    Ok(HttpResponse::Ok().json(QueueList {
        page: Page {
            items: page.items,
            next_cursor: page.next.map(|key| paging::encode_cursor(&list, &key)),
        },
        total: page.total,
    }))
}
