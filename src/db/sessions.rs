use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::{refresh_tokens, sessions, users};
use super::users::{self as accounts, UserRow};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i64,
    pub public_id: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: i64,
    pub session_id: i64,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn create(
    conn: &mut DbConn,
    public_id: &str,
    user_id: i64,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::public_id.eq(public_id),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .returning(sessions::id)
        .get_result(conn)
}

pub fn add_refresh_token(
    conn: &mut DbConn,
    session_id: i64,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::created_at.eq(now),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A refresh token by its hash, with its session and user.
pub fn refresh_token(
    conn: &mut DbConn,
    token_hash: &str,
) -> QueryResult<Option<(RefreshTokenRow, SessionRow, UserRow)>> {
    refresh_tokens::table
        .inner_join(sessions::table.inner_join(users::table))
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((
            RefreshTokenRow::as_select(),
            SessionRow::as_select(),
            UserRow::as_select(),
        ))
        .first(conn)
        .optional()
}

/// Marks a refresh token spent; false if it already was (a concurrent or repeated use).
pub fn spend_refresh_token(
    conn: &mut DbConn,
    token_id: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::id.eq(token_id))
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(updated == 1)
}

/// A live session with its user: the check behind every authenticated request.
pub fn live_with_user(
    conn: &mut DbConn,
    session_public_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(SessionRow, UserRow)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::public_id.eq(session_public_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select((SessionRow::as_select(), UserRow::as_select()))
        .first(conn)
        .optional()
}

pub fn revoke(
    conn: &mut DbConn,
    session_id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    accounts::changed();
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(Some(now)),
        sessions::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)
}

/// Revokes every live session of a user; returns how many.
pub fn revoke_all_of_user(
    conn: &mut DbConn,
    user_id: i64,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    accounts::changed();
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(Some(now)),
        sessions::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)
}
