//! The audit trail, read-only: search it and verify its hash chain.

use super::extract::ApiQuery;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::paging::{self, Page};
use crate::audit;
use crate::db::{self, audit::AuditFilter, audit::AuditRow};
use crate::error::{AppError, AppResult};
use crate::startup::AppState;

const LIST: &str = "audit_events";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<uuid::Uuid>,
    action: Option<String>,
    resident_id: Option<uuid::Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize)]
pub struct AuditEventView {
    seq: i64,
    occurred_at: String,
    actor_id: Option<String>,
    actor_username: Option<String>,
    actor_role: Option<String>,
    action: String,
    entity_type: Option<String>,
    entity_id: Option<String>,
    resident_id: Option<String>,
    request_id: Option<String>,
    client_address: Option<String>,
    outcome: String,
    changes: Option<serde_json::Value>,
    prev_hash: String,
    hash: String,
}

impl From<AuditRow> for AuditEventView {
    fn from(row: AuditRow) -> Self {
        AuditEventView {
            seq: row.seq,
            occurred_at: row
                .occurred_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor_id: row.actor_user_id,
            actor_username: row.actor_username,
            actor_role: row.actor_role,
            action: row.action,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            resident_id: row.resident_id,
            request_id: row.request_id,
            client_address: row.client_address,
            outcome: row.outcome,
            changes: row.changes.and_then(|c| serde_json::from_str(&c).ok()),
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

pub async fn list(
    state: web::Data<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> AppResult<HttpResponse> {
    let limit = paging::limit(query.limit)?;
    if let Some(action) = &query.action {
        if audit::Action::parse(action).is_none() {
            return Err(AppError::field(
                "action",
                "unknown_code",
                "not an audit action code; see /api/v1/codes",
            ));
        }
    }
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from >= to {
            return Err(AppError::field(
                "to",
                "before_from",
                "`to` must be after `from`",
            ));
        }
    }
    let filter = AuditFilter {
        actor_user_id: query.actor.map(|a| a.to_string()),
        action: query.action,
        resident_id: query.resident_id.map(|r| r.to_string()),
        from: query.from.map(|t| t.naive_utc()),
        to: query.to.map(|t| t.naive_utc()),
        before_seq: match &query.cursor {
            Some(cursor) => Some(paging::decode_cursor::<i64>(LIST, cursor)?),
            None => None,
        },
    };
    let rows = db::run(&state.pool, move |conn| {
        Ok(db::audit::search(conn, &filter, limit + 1)?)
    })
    .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<AuditEventView> = rows
        .into_iter()
        .take(limit as usize)
        .map(Into::into)
        .collect();
    let next_cursor = if more {
        items.last().map(|e| paging::encode_cursor(LIST, &e.seq))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

pub async fn verify(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let report = db::run(&state.pool, |conn| Ok(audit::verify(conn)?)).await?;
    Ok(HttpResponse::Ok().json(report))
}
