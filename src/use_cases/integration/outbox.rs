//! The webhook outbox: every status change of a client's application writes one event in the
//! transaction of the change; the worker delivers it; clients may also poll the same events.

use serde::Serialize;
use serde_json::{json, Value};

use crate::audit::{self, Action, AuditContext, Event};
use crate::db::integration::{self as store, AttemptRow, EventFilter, EventRow, NewEventRow};
use crate::db::{self, DbConn};
use crate::error::{stored_code, AppError};
use crate::use_cases::accounts::timestamp;
use crate::use_cases::integration::model::DeliveryState;

/// The type of the one event there is so far.
pub const STATUS_CHANGED: &str = "application.status_changed";

/// Writes the event of a status change, inside the caller's write transaction. `data` is the
/// application as the client sees it after the change; the body is fixed now, so a delivery
/// after a restart sends exactly what was recorded.
pub fn record(
    conn: &mut DbConn,
    client_id: i64,
    application_id: i64,
    data: &impl Serialize,
) -> Result<(), AppError> {
    let client = store::client_by_id(conn, client_id)?;
    let now = db::now();
    let public_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "id": public_id,
        "type": STATUS_CHANGED,
        "created_at": timestamp(now),
        "data": data,
    })
    .to_string();
    let state = if client.webhook_url.is_some() {
        DeliveryState::Pending
    } else {
        DeliveryState::NoWebhook
    };
    store::insert_event(
        conn,
        &NewEventRow {
            public_id: &public_id,
            client_id,
            application_id,
            event_type: STATUS_CHANGED,
            body: &body,
            state: state.as_str(),
            next_attempt_at: now,
            created_at: now,
        },
    )?;
    Ok(())
}

/// An event as a client polls it: exactly the body a webhook delivers.
pub fn polled(row: &EventRow) -> Value {
    serde_json::from_str(&row.body).unwrap_or(Value::Null)
}

/// A page of one client's events, oldest first, after the event with row id `after_id`.
pub fn feed(
    conn: &mut DbConn,
    client_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<(Vec<Value>, Option<i64>), AppError> {
    let filter = EventFilter {
        client_id: Some(client_id),
        state: None,
        after_id,
    };
    let rows = store::search_events(conn, &filter, limit + 1)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows.iter().map(polled).collect(), next))
}

#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub attempt: i32,
    pub instance: String,
    pub started_at: String,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

/// An event as an admin sees its delivery.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub client_id: String,
    pub application_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<AttemptView>>,
}

fn delivery_view(
    conn: &mut DbConn,
    row: &EventRow,
    history: Option<Vec<AttemptRow>>,
) -> Result<DeliveryView, AppError> {
    let client = store::client_by_id(conn, row.client_id)?;
    let application: String = {
        use crate::db::schema::applications;
        use diesel::prelude::*;
        applications::table
            .find(row.application_id)
            .select(applications::public_id)
            .first(conn)?
    };
    let state = stored_code("webhook_events", "state", &row.state, DeliveryState::parse)?;
    Ok(DeliveryView {
        id: row.public_id.clone(),
        client_id: client.public_id,
        application_id: application,
        event_type: row.event_type.clone(),
        state,
        attempts: row.attempts,
        next_attempt_at: (state == DeliveryState::Pending).then(|| timestamp(row.next_attempt_at)),
        delivered_at: row.delivered_at.map(timestamp),
        last_error: row.last_error.clone(),
        created_at: timestamp(row.created_at),
        history: history.map(|rows| {
            rows.into_iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    instance: a.instance,
                    started_at: timestamp(a.started_at),
                    duration_ms: a.duration_ms,
                    status_code: a.status_code,
                    error: a.error,
                })
                .collect()
        }),
    })
}

/// Deliveries for an admin, oldest first, by state and client.
pub fn deliveries(
    conn: &mut DbConn,
    client_public_id: Option<&str>,
    state: Option<DeliveryState>,
    after_id: i64,
    limit: i64,
) -> Result<(Vec<DeliveryView>, Option<i64>), AppError> {
    let client_id = match client_public_id {
        Some(id) => match store::client_by_public_id(conn, id)? {
            Some(c) => Some(c.id),
            None => return Ok((Vec::new(), None)),
        },
        None => None,
    };
    let filter = EventFilter {
        client_id,
        state: state.map(|s| s.as_str().to_owned()),
        after_id,
    };
    let rows = store::search_events(conn, &filter, limit + 1)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let views = rows
        .iter()
        .map(|r| delivery_view(conn, r, None))
        .collect::<Result<_, _>>()?;
    Ok((views, next))
}

/// One delivery with every attempt.
pub fn delivery(conn: &mut DbConn, public_id: &str) -> Result<DeliveryView, AppError> {
    let row = store::event_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
    let attempts = store::attempts_of(conn, row.id)?;
    delivery_view(conn, &row, Some(attempts))
}

/// Sends a failed (or already delivered) event again, from a fresh count of attempts.
pub fn replay(
    conn: &mut DbConn,
    ctx: &AuditContext,
    public_id: &str,
) -> Result<DeliveryView, AppError> {
    db::write_transaction(conn, |conn| {
        let row = store::event_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        let state = stored_code("webhook_events", "state", &row.state, DeliveryState::parse)?;
        match state {
            DeliveryState::Failed | DeliveryState::Delivered => {}
            DeliveryState::Pending => {
                return Err(AppError::Conflict {
                    code: "delivery_pending",
                    detail: "the event is still being delivered".to_owned(),
                    extra: None,
                })
            }
            DeliveryState::NoWebhook => {
                let client = store::client_by_id(conn, row.client_id)?;
                if client.webhook_url.is_none() {
                    return Err(AppError::Conflict {
                        code: "no_webhook",
                        detail: "the client has no webhook URL to deliver to".to_owned(),
                        extra: None,
                    });
                }
            }
        }
        store::requeue(conn, row.id, db::now())?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::WebhookReplay)
                .entity("webhook_event", row.public_id.clone())
                .changes(json!({ "state": { "from": state, "to": DeliveryState::Pending } })),
        )?;
        delivery(conn, public_id)
    })
}
