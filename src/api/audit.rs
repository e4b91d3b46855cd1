//! The audit trail, read-only: search it, verify its hash chain, export it for auditors.

use super::extract::ApiQuery;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::paging::{self, Page};
use crate::audit;
use crate::auth::guard::RequestContext;
use crate::db::{self, audit::AuditFilter, audit::AuditRow};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// Walk from the first event instead of the last signed checkpoint.
    #[serde(default)]
    full: bool,
}

/// Walks the chain from its last signed checkpoint (`?full=true`: from the first event) and
/// compares it with the checkpoints kept outside the database, so an emptied or cut trail does
/// not verify; a trail that verifies moves the checkpoints on.
pub async fn verify(
    state: web::Data<AppState>,
    ApiQuery(query): ApiQuery<VerifyQuery>,
) -> AppResult<HttpResponse> {
    let data_dir = state.config.data_dir.clone();
    let configured = state.config.storage.audit_checkpoint.clone();
    let walk = if query.full {
        audit::Walk::Full
    } else {
        audit::Walk::Incremental
    };
    let report = db::run(&state.pool, move |conn| {
        crate::audit_checkpoint::verify(conn, &data_dir, configured.as_ref(), walk)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
    actor: Option<uuid::Uuid>,
    action: Option<String>,
    town: Option<String>,
    resident_id: Option<uuid::Uuid>,
}

/// The audit trail as a file an auditor keeps (CSV with a BOM, or NDJSON): the matching
/// events in chain order with their hashes, then the chain's head and verification.
pub async fn export(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    req: actix_web::HttpRequest,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> AppResult<HttpResponse> {
    use crate::use_cases::reports::audit_trail::{self, TrailFormat};
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = crate::use_cases::reports::negotiate(
        query.format.as_deref(),
        accept,
        TrailFormat::OFFERED,
        TrailFormat::Csv,
    )?;
    if let Some(action) = &query.action {
        if audit::Action::parse(action).is_none() {
            return Err(AppError::field(
                "action",
                "unknown_code",
                "not an audit action code; see /api/v1/codes",
            ));
        }
    }
    let from = query
        .from
        .as_deref()
        .map(|t| audit_trail::bound("from", t, false))
        .transpose()?;
    let to = query
        .to
        .as_deref()
        .map(|t| audit_trail::bound("to", t, true))
        .transpose()?;
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(AppError::field(
                "to",
                "before_from",
                "`to` must be after `from`",
            ));
        }
    }
    let described = serde_json::json!({
        "from": query.from,
        "to": query.to,
        "actor": query.actor,
        "action": query.action,
        "town": query.town,
        "resident_id": query.resident_id,
    });
    let filter = crate::db::reports::ExportFilter {
        actor_user_id: query.actor.map(|a| a.to_string()),
        action: query.action,
        resident_id: query.resident_id.map(|r| r.to_string()),
        town_code: query.town.clone(),
        from,
        to,
    };
    let town = query.town;
    let recorder = state.recorder.clone();
    let export = db::run(&state.pool, move |conn| {
        if let Some(town) = &town {
            let is_town = crate::db::areas::level_of(conn, town)?.as_deref()
                == Some(crate::domain::area::AreaLevel::Town.as_str());
            if !is_town {
                return Err(AppError::field(
                    "town",
                    "unknown_area",
                    "one of the district's towns (镇街道), by code",
                ));
            }
        }
        audit_trail::export(conn, &ctx, &recorder, &filter, described, format)
    })
    .await?;
    let period = match (&filter_text(&query.from), &filter_text(&query.to)) {
        (Some(f), Some(t)) => format!("{f}至{t}"),
        (Some(f), None) => format!("{f}起"),
        (None, Some(t)) => format!("截至{t}"),
        (None, None) => "全部".to_owned(),
    };
    let name = format!("审计日志（{period}）.{}", format.extension());
    let fallback = format!("audit_events.{}", format.extension());
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            crate::use_cases::reports::content_disposition(false, &name, &fallback),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Audit-Chain-Valid", export.chain.valid.to_string()))
        .insert_header((
            "X-Audit-Chain-Head-Seq",
            export.chain.head_seq.unwrap_or(0).to_string(),
        ))
        .insert_header(("X-Audit-Events", export.events.to_string()))
        .body(export.bytes))
}

/// A period's end as a file name shows it: the date part.
fn filter_text(bound: &Option<String>) -> Option<String> {
    bound.as_deref().map(|b| b.chars().take(10).collect())
}
