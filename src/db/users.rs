//! Accounts, their towns, and the count of this process's changes to accounts and their
//! sessions ([`changes`]) that tells a remembered session lookup it is stale.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conn::DbConn;
use super::schema::{user_towns, users};
use super::versioned::versioned;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub public_id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub public_id: &'a str,
    pub username: &'a str,
    pub display_name: Option<&'a str>,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, new: &NewUserRow) -> QueryResult<i64> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(users::id)
        .get_result(conn)
}

pub fn by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_public_id(conn: &mut DbConn, public_id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::public_id.eq(public_id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Active admins other than `except`: the last one may not be disabled or demoted.
pub fn other_active_admins(conn: &mut DbConn, except: i64) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq("admin"))
        .filter(users::disabled.eq(false))
        .filter(users::id.ne(except))
        .count()
        .get_result(conn)
}

/// Users after `after_id` in id order.
pub fn page(conn: &mut DbConn, after_id: i64, limit: i64) -> QueryResult<Vec<UserRow>> {
    users::table
        .filter(users::id.gt(after_id))
        .order(users::id.asc())
        .limit(limit)
        .select(UserRow::as_select())
        .load(conn)
}

pub fn towns(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<String>> {
    user_towns::table
        .filter(user_towns::user_id.eq(user_id))
        .order(user_towns::town_code.asc())
        .select(user_towns::town_code)
        .load(conn)
}

/// Towns of several users at once, as (user id, town code).
pub fn towns_of(conn: &mut DbConn, user_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    user_towns::table
        .filter(user_towns::user_id.eq_any(user_ids))
        .order((user_towns::user_id.asc(), user_towns::town_code.asc()))
        .select((user_towns::user_id, user_towns::town_code))
        .load(conn)
}

pub fn set_towns(conn: &mut DbConn, user_id: i64, towns: &[String]) -> QueryResult<()> {
    changed();
    diesel::delete(user_towns::table.filter(user_towns::user_id.eq(user_id))).execute(conn)?;
    for town in towns {
        diesel::insert_into(user_towns::table)
            .values((
                user_towns::user_id.eq(user_id),
                user_towns::town_code.eq(town),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Counts one failed login; returns the new count.
pub fn record_failure(conn: &mut DbConn, user_id: i64) -> QueryResult<i32> {
    diesel::update(users::table.find(user_id))
        .set(users::failed_logins.eq(users::failed_logins + 1))
        .returning(users::failed_logins)
        .get_result(conn)
}

pub fn lock_until(conn: &mut DbConn, user_id: i64, until: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::locked_until.eq(Some(until)),
            users::failed_logins.eq(0),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn clear_failures(conn: &mut DbConn, user_id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The columns an update may change; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub display_name: Option<Option<String>>,
    pub role: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: Option<bool>,
    pub failed_logins: Option<i32>,
    pub locked_until: Option<Option<NaiveDateTime>>,
}

versioned! {
    /// [`update_versioned`] without counting the change.
    update update_row(users, UserChanges)
}

/// Applies `changes` if the row is still at `expected_version`; returns whether it was.
pub fn update_versioned(
    conn: &mut DbConn,
    id: i64,
    expected_version: i32,
    changes: &UserChanges,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    changed();
    update_row(conn, id, expected_version, changes, now)
}

/// Changes to accounts and sessions (a revocation, a user's role, status or towns) this process
/// has made, committed or not.
static CHANGES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether the transaction open on this thread changed sessions or accounts.
    static CHANGED_IN_TRANSACTION: Cell<bool> = const { Cell::new(false) };
}

/// How many changes to sessions and accounts this process has made so far. A session looked up
/// while this was `n` may be stale once it is no longer `n`: what a request is allowed to do
/// comes from that lookup.
pub fn changes() -> u64 {
    CHANGES.load(Ordering::Acquire)
}

/// Counts a change to sessions or accounts now, and again when its transaction ends
/// ([`transaction_ended`]): a lookup made between the two saw the state before the commit.
pub(super) fn changed() {
    CHANGES.fetch_add(1, Ordering::AcqRel);
    CHANGED_IN_TRANSACTION.set(true);
}

/// Called when the writers' transaction of this thread has committed or rolled back.
pub(super) fn transaction_ended() {
    if CHANGED_IN_TRANSACTION.take() {
        CHANGES.fetch_add(1, Ordering::AcqRel);
    }
}
