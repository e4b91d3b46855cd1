//! Integration clients, applications, idempotency keys and the webhook outbox.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::conn::DbConn;
use super::schema::{
    applications, idempotency_keys, integration_clients, webhook_attempts, webhook_events,
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = integration_clients)]
pub struct ClientRow {
    pub id: i64,
    pub public_id: String,
    pub name: String,
    pub secret_hash: String,
    pub generation: i32,
    pub scopes: String,
    pub webhook_url: Option<String>,
    pub webhook_secret_enc: Option<String>,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = integration_clients)]
pub struct NewClientRow<'a> {
    pub public_id: &'a str,
    pub name: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub webhook_url: Option<&'a str>,
    pub webhook_secret_enc: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_client(conn: &mut DbConn, row: &NewClientRow) -> QueryResult<i64> {
    diesel::insert_into(integration_clients::table)
        .values(row)
        .returning(integration_clients::id)
        .get_result(conn)
}

pub fn client_by_public_id(conn: &mut DbConn, public_id: &str) -> QueryResult<Option<ClientRow>> {
    integration_clients::table
        .filter(integration_clients::public_id.eq(public_id))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}

pub fn client_by_id(conn: &mut DbConn, id: i64) -> QueryResult<ClientRow> {
    integration_clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
}

pub fn clients_page(conn: &mut DbConn, after_id: i64, limit: i64) -> QueryResult<Vec<ClientRow>> {
    integration_clients::table
        .filter(integration_clients::id.gt(after_id))
        .order(integration_clients::id.asc())
        .limit(limit)
        .select(ClientRow::as_select())
        .load(conn)
}

pub fn set_secret(conn: &mut DbConn, id: i64, hash: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(integration_clients::table.find(id))
        .set((
            integration_clients::secret_hash.eq(hash),
            integration_clients::generation.eq(integration_clients::generation + 1),
            integration_clients::updated_at.eq(now),
            integration_clients::version.eq(integration_clients::version + 1),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn set_disabled(
    conn: &mut DbConn,
    id: i64,
    disabled: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(integration_clients::table.find(id))
        .set((
            integration_clients::disabled.eq(disabled),
            integration_clients::updated_at.eq(now),
            integration_clients::version.eq(integration_clients::version + 1),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn set_webhook(
    conn: &mut DbConn,
    id: i64,
    url: Option<&str>,
    secret_enc: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(integration_clients::table.find(id))
        .set((
            integration_clients::webhook_url.eq(url),
            integration_clients::webhook_secret_enc.eq(secret_enc),
            integration_clients::updated_at.eq(now),
            integration_clients::version.eq(integration_clients::version + 1),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, serde::Deserialize)]
#[diesel(table_name = applications)]
pub struct ApplicationRow {
    pub id: i64,
    pub public_id: String,
    pub client_id: Option<i64>,
    pub channel: String,
    pub kind: String,
    pub status: String,
    pub external_ref: Option<String>,
    pub resident_id: Option<i64>,
    pub id_number_enc: String,
    pub id_number_index: String,
    pub name_enc: String,
    pub town_code: String,
    pub payload: String,
    pub reason: Option<String>,
    pub effect_type: Option<String>,
    pub effect_id: Option<String>,
    pub submitted_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    pub decided_by: Option<String>,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = applications)]
pub struct NewApplicationRow<'a> {
    pub public_id: &'a str,
    pub client_id: Option<i64>,
    pub channel: &'a str,
    pub kind: &'a str,
    pub status: &'a str,
    pub external_ref: Option<&'a str>,
    pub resident_id: Option<i64>,
    pub id_number_enc: &'a str,
    pub id_number_index: &'a str,
    pub name_enc: &'a str,
    pub town_code: &'a str,
    pub payload: &'a str,
    pub submitted_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_application(conn: &mut DbConn, row: &NewApplicationRow) -> QueryResult<i64> {
    diesel::insert_into(applications::table)
        .values(row)
        .returning(applications::id)
        .get_result(conn)
}

pub fn application_by_public_id(
    conn: &mut DbConn,
    public_id: &str,
) -> QueryResult<Option<ApplicationRow>> {
    applications::table
        .filter(applications::public_id.eq(public_id))
        .select(ApplicationRow::as_select())
        .first(conn)
        .optional()
}

pub fn application_by_external_ref(
    conn: &mut DbConn,
    client_id: i64,
    external_ref: &str,
) -> QueryResult<Option<ApplicationRow>> {
    applications::table
        .filter(applications::client_id.eq(client_id))
        .filter(applications::external_ref.eq(external_ref))
        .select(ApplicationRow::as_select())
        .first(conn)
        .optional()
}

pub fn applications_of_resident(
    conn: &mut DbConn,
    resident_id: i64,
) -> QueryResult<Vec<ApplicationRow>> {
    applications::table
        .filter(applications::resident_id.eq(resident_id))
        .order(applications::id.desc())
        .select(ApplicationRow::as_select())
        .load(conn)
}

#[derive(Debug, Default, Clone)]
pub struct ApplicationFilter {
    pub client_id: Option<i64>,
    /// `None`: every town.
    pub towns: Option<Vec<String>>,
    pub town: Option<String>,
    pub kind: Option<String>,
    pub statuses: Vec<String>,
    pub after_id: i64,
}

/// Matching applications, oldest first.
pub fn search_applications(
    conn: &mut DbConn,
    filter: &ApplicationFilter,
    limit: i64,
) -> QueryResult<Vec<ApplicationRow>> {
    let mut query = applications::table
        .filter(applications::id.gt(filter.after_id))
        .into_boxed();
    if let Some(client) = filter.client_id {
        query = query.filter(applications::client_id.eq(client));
    }
    if let Some(towns) = &filter.towns {
        query = query.filter(applications::town_code.eq_any(towns.clone()));
    }
    if let Some(town) = &filter.town {
        query = query.filter(applications::town_code.eq(town.clone()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(applications::kind.eq(kind.clone()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(applications::status.eq_any(filter.statuses.clone()));
    }
    query
        .order(applications::id.asc())
        .limit(limit)
        .select(ApplicationRow::as_select())
        .load(conn)
}

/// Moves an application to a new status if it is still at `version`; false when it changed.
#[allow(clippy::too_many_arguments)]
pub fn set_status(
    conn: &mut DbConn,
    id: i64,
    version: i32,
    status: &str,
    reason: Option<&str>,
    effect: Option<(&str, &str)>,
    decided_by: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let decided = matches!(status, "approved" | "rejected" | "withdrawn");
    let changed = diesel::update(
        applications::table
            .find(id)
            .filter(applications::version.eq(version)),
    )
    .set((
        applications::status.eq(status),
        applications::reason.eq(reason),
        applications::effect_type.eq(effect.map(|e| e.0)),
        applications::effect_id.eq(effect.map(|e| e.1)),
        applications::decided_at.eq(decided.then_some(now)),
        applications::decided_by.eq(decided_by),
        applications::updated_at.eq(now),
        applications::version.eq(applications::version + 1),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Links an application to its (now registered) resident, in the resident's town.
pub fn link_resident(
    conn: &mut DbConn,
    id: i64,
    resident_id: i64,
    town_code: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(applications::table.find(id))
        .set((
            applications::resident_id.eq(resident_id),
            applications::town_code.eq(town_code),
            applications::updated_at.eq(now),
            applications::version.eq(applications::version + 1),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Links every pending application of one ID number to its resident, in the resident's town.
pub fn link_pending(
    conn: &mut DbConn,
    id_number_index: &str,
    resident_id: i64,
    town_code: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        applications::table
            .filter(applications::id_number_index.eq(id_number_index))
            .filter(applications::resident_id.is_null()),
    )
    .set((
        applications::resident_id.eq(resident_id),
        applications::town_code.eq(town_code),
        applications::updated_at.eq(now),
        applications::version.eq(applications::version + 1),
    ))
    .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub client_id: i64,
    pub idem_key: String,
    pub request_hash: String,
    pub status: i32,
    pub response_body: String,
    pub created_at: NaiveDateTime,
}

/// The stored answer for a key, unless it is older than `not_before` (then it is forgotten).
pub fn idempotency_key(
    conn: &mut DbConn,
    client_id: i64,
    key: &str,
    not_before: NaiveDateTime,
) -> QueryResult<Option<IdempotencyRow>> {
    idempotency_keys::table
        .filter(idempotency_keys::client_id.eq(client_id))
        .filter(idempotency_keys::idem_key.eq(key))
        .filter(idempotency_keys::created_at.ge(not_before))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .optional()
}

pub fn store_idempotency_key(conn: &mut DbConn, row: &IdempotencyRow) -> QueryResult<()> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::client_id.eq(row.client_id))
            .filter(idempotency_keys::idem_key.eq(&row.idem_key)),
    )
    .execute(conn)?;
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::client_id.eq(row.client_id),
            idempotency_keys::idem_key.eq(&row.idem_key),
            idempotency_keys::request_hash.eq(&row.request_hash),
            idempotency_keys::status.eq(row.status),
            idempotency_keys::response_body.eq(&row.response_body),
            idempotency_keys::created_at.eq(row.created_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Forgets keys created before `before`; returns how many.
pub fn purge_idempotency_keys(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before)))
        .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = webhook_events)]
pub struct EventRow {
    pub id: i64,
    pub public_id: String,
    pub client_id: i64,
    pub application_id: i64,
    pub event_type: String,
    pub body: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub claimed_by: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = webhook_events)]
pub struct NewEventRow<'a> {
    pub public_id: &'a str,
    pub client_id: i64,
    pub application_id: i64,
    pub event_type: &'a str,
    pub body: &'a str,
    pub state: &'a str,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert_event(conn: &mut DbConn, row: &NewEventRow) -> QueryResult<()> {
    diesel::insert_into(webhook_events::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Claims up to `limit` due events for `instance` until `lease_until`, in one statement, and
/// returns them. A row is due when pending, its time has come, and no live lease holds it. On
/// PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so instances claiming at once take
/// different rows without waiting; the outer conditions are checked again on the row as
/// updated, so a row another instance claimed meanwhile is never taken twice. On SQLite the
/// statement runs under the database's write lock.
pub fn claim_due(
    conn: &mut DbConn,
    instance: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let due = |now: &str| {
        format!(
            "state = 'pending' AND next_attempt_at <= {now} \
             AND (claimed_until IS NULL OR claimed_until < {now})"
        )
    };
    let sql = match conn {
        // `ARRAY(…)` is evaluated once. As the subquery of an `IN`, the limited `FOR UPDATE
        // SKIP LOCKED` pick may be evaluated again for each row, each time skipping the rows
        // it locked before, and the claim took every due event.
        DbConn::Postgres(_) => {
            let due = due("$3");
            format!(
                "UPDATE webhook_events SET claimed_until = $1, claimed_by = $2 \
                 WHERE {due} AND id = ANY(ARRAY(SELECT id FROM webhook_events WHERE {due} \
                                                ORDER BY next_attempt_at, id LIMIT $4 \
                                                FOR UPDATE SKIP LOCKED)) \
                 RETURNING *"
            )
        }
        DbConn::Sqlite(_) => {
            let due = due("?3");
            format!(
                "UPDATE webhook_events SET claimed_until = ?1, claimed_by = ?2 \
                 WHERE {due} AND id IN (SELECT id FROM webhook_events WHERE {due} \
                                        ORDER BY next_attempt_at, id LIMIT ?4) \
                 RETURNING *"
            )
        }
    };
    diesel::sql_query(sql)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Text, _>(instance)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(conn)
}

pub fn event_by_public_id(conn: &mut DbConn, public_id: &str) -> QueryResult<Option<EventRow>> {
    webhook_events::table
        .filter(webhook_events::public_id.eq(public_id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub client_id: Option<i64>,
    pub state: Option<String>,
    pub after_id: i64,
}

/// Matching events, oldest first.
pub fn search_events(
    conn: &mut DbConn,
    filter: &EventFilter,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = webhook_events::table
        .filter(webhook_events::id.gt(filter.after_id))
        .into_boxed();
    if let Some(client) = filter.client_id {
        query = query.filter(webhook_events::client_id.eq(client));
    }
    if let Some(state) = &filter.state {
        query = query.filter(webhook_events::state.eq(state.clone()));
    }
    query
        .order(webhook_events::id.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}

/// The result of one delivery attempt, recorded if `instance` still holds the claim it had.
pub struct AttemptOutcome<'a> {
    pub event_id: i64,
    pub instance: &'a str,
    pub claimed_until: NaiveDateTime,
    pub attempt: i32,
    pub started_at: NaiveDateTime,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
    /// `delivered`, `pending` (retry at `next_attempt_at`) or `failed`.
    pub state: &'a str,
    pub next_attempt_at: NaiveDateTime,
    pub now: NaiveDateTime,
}

/// Records an attempt and the event's new state, releasing the claim. Returns false (and writes
/// nothing) when the claim was lost meanwhile (the lease ran out and another instance took it).
pub fn record_attempt(conn: &mut DbConn, o: &AttemptOutcome) -> QueryResult<bool> {
    let updated = diesel::update(
        webhook_events::table
            .find(o.event_id)
            .filter(webhook_events::claimed_by.eq(o.instance))
            .filter(webhook_events::claimed_until.eq(o.claimed_until)),
    )
    .set((
        webhook_events::state.eq(o.state),
        webhook_events::attempts.eq(o.attempt),
        webhook_events::next_attempt_at.eq(o.next_attempt_at),
        webhook_events::claimed_until.eq(None::<NaiveDateTime>),
        webhook_events::claimed_by.eq(None::<String>),
        webhook_events::delivered_at.eq((o.state == "delivered").then_some(o.now)),
        webhook_events::last_error.eq(o.error),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::event_id.eq(o.event_id),
            webhook_attempts::attempt.eq(o.attempt),
            webhook_attempts::instance.eq(o.instance),
            webhook_attempts::started_at.eq(o.started_at),
            webhook_attempts::duration_ms.eq(o.duration_ms),
            webhook_attempts::status_code.eq(o.status_code),
            webhook_attempts::error.eq(o.error),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Puts an event back in the queue, due now, with a fresh count of attempts.
pub fn requeue(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(webhook_events::table.find(id))
        .set((
            webhook_events::state.eq("pending"),
            webhook_events::attempts.eq(0),
            webhook_events::next_attempt_at.eq(now),
            webhook_events::claimed_until.eq(None::<NaiveDateTime>),
            webhook_events::claimed_by.eq(None::<String>),
            webhook_events::delivered_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub id: i64,
    pub event_id: i64,
    pub attempt: i32,
    pub instance: String,
    pub started_at: NaiveDateTime,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

pub fn attempts_of(conn: &mut DbConn, event_id: i64) -> QueryResult<Vec<AttemptRow>> {
    webhook_attempts::table
        .filter(webhook_attempts::event_id.eq(event_id))
        .order(webhook_attempts::id.asc())
        .select(AttemptRow::as_select())
        .load(conn)
}
