//! `Idempotency-Key`: a client's retried POST gets the first answer again instead of a second
//! effect. The key is checked and stored in the same write transaction as the work, and writers
//! are serialised, so any number of concurrent retries create one effect.

use chrono::Duration;
use serde::Serialize;

use crate::db::integration::{self as store, IdempotencyRow};
use crate::db::{self, DbConn, WriteTx};
use crate::error::AppError;

/// How long a key is remembered (at least 24 hours, as promised to clients).
pub const RETENTION_HOURS: i64 = 24;

/// A checked `Idempotency-Key` with the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct Key {
    pub value: String,
    pub request_hash: String,
}

/// Parses the header value: 1 to 255 visible ASCII characters.
pub fn parse_key(header: Option<&str>) -> Result<String, AppError> {
    let value = header.ok_or_else(|| {
        AppError::bad_request(
            "idempotency_key_required",
            "send an Idempotency-Key header (for example a UUID) with every integration POST",
        )
    })?;
    let value = value.trim();
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::bad_request(
            "invalid_idempotency_key",
            "the Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(value.to_owned())
}

/// An answer: the status and the JSON body, and whether it is a replay of the first one.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// Runs `work` once per key of `client_id`, in one write transaction: with a key seen before
/// (and not yet forgotten), the stored answer is returned if the request is the same and a 422
/// if it is not; otherwise `work` runs and its successful answer is stored with the key. Failed
/// work stores nothing, so a retry after an error runs again.
pub fn run_once<T, F>(
    conn: &mut DbConn,
    client_id: i64,
    key: &Key,
    status: u16,
    work: F,
) -> Result<Answer, AppError>
where
    T: Serialize,
    F: FnOnce(&mut WriteTx<'_>) -> Result<T, AppError>,
{
    db::write_transaction(conn, |conn| {
        let now = db::now();
        let not_before = now - Duration::hours(RETENTION_HOURS);
        if let Some(seen) = store::idempotency_key(conn, client_id, &key.value, not_before)? {
            if seen.request_hash != key.request_hash {
                return Err(AppError::Validation(vec![crate::error::FieldError::new(
                    "Idempotency-Key",
                    "idempotency_key_reused",
                    "this key was used with a different request; use a new key for a new request",
                )]));
            }
            return Ok(Answer {
                status: u16::try_from(seen.status).unwrap_or(200),
                body: seen.response_body,
                replayed: true,
            });
        }
        let value = work(conn)?;
        let body = serde_json::to_string(&value).expect("answers serialise");
        store::store_idempotency_key(
            conn,
            &IdempotencyRow {
                client_id,
                idem_key: key.value.clone(),
                request_hash: key.request_hash.clone(),
                status: i32::from(status),
                response_body: body.clone(),
                created_at: now,
            },
        )?;
        Ok(Answer {
            status,
            body,
            replayed: false,
        })
    })
}

/// Forgets keys past their retention; returns how many.
pub fn purge(conn: &mut DbConn) -> Result<usize, AppError> {
    let before = db::now() - Duration::hours(RETENTION_HOURS);
    Ok(store::purge_idempotency_keys(conn, before)?)
}
