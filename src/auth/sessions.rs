//! Logins, refresh-token rotation, logout and the per-request session check.
//!
//! Each login is a session (a refresh-token family). Access tokens name their session (`sid`),
//! and every request checks that session and its user in the database, so logging out,
//! disabling a user or changing a password takes effect at once, not when a token expires.

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

use crate::audit::{self, Action, Actor, AuditContext, Event, Outcome};
use crate::auth::token::{self, TokenKeys};
use crate::db::{self, sessions as store, users, DbConn, WriteTx};
use crate::domain::role::Role;
use crate::error::AppError;

/// The lockout and session lifetimes.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    pub max_failures: i32,
    pub lockout: Duration,
    pub refresh_ttl: Duration,
}

#[derive(Debug, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
}

/// The answer to any failed login, whatever the reason: no account enumeration.
pub fn invalid_credentials() -> AppError {
    AppError::unauthorized(
        "invalid_credentials",
        "the username or password is wrong, or the account is locked or disabled",
    )
}

fn invalid_refresh_token() -> AppError {
    AppError::unauthorized(
        "invalid_refresh_token",
        "the refresh token is unknown, spent, expired or revoked; sign in again",
    )
}

pub fn actor_of(user: &users::UserRow) -> Actor {
    Actor {
        user_id: Some(user.public_id.clone()),
        username: Some(user.username.clone()),
        role: Role::parse(&user.role),
    }
}

/// Opens a session and hands out its first token pair.
fn open_session(
    conn: &mut DbConn,
    keys: &TokenKeys,
    policy: &LoginPolicy,
    user: &users::UserRow,
    now: NaiveDateTime,
) -> diesel::QueryResult<(String, TokenPair)> {
    let session_public_id = uuid::Uuid::new_v4().to_string();
    let session_id = store::create(
        conn,
        &session_public_id,
        user.id,
        now,
        now + policy.refresh_ttl,
    )?;
    let pair = rotate_into(
        conn,
        keys,
        policy,
        session_id,
        &session_public_id,
        user,
        now,
    )?;
    Ok((session_public_id, pair))
}

fn rotate_into(
    conn: &mut DbConn,
    keys: &TokenKeys,
    policy: &LoginPolicy,
    session_id: i64,
    session_public_id: &str,
    user: &users::UserRow,
    now: NaiveDateTime,
) -> diesel::QueryResult<TokenPair> {
    let refresh_token = token::new_refresh_token();
    store::add_refresh_token(
        conn,
        session_id,
        &token::hash_refresh_token(&refresh_token),
        now,
        now + policy.refresh_ttl,
    )?;
    Ok(TokenPair {
        access_token: keys.issue(&user.public_id, session_public_id, now.and_utc()),
        token_type: "Bearer",
        expires_in: keys.access_ttl_secs,
        refresh_token,
    })
}

/// What the password check found. The hash is checked before the database write (it is slow
/// and must not hold the writers' lock); what to make of it is decided inside the write, on
/// the user's row as it is then.
pub enum PasswordCheck {
    /// No such user (the dummy hash was checked to spend the same time).
    UnknownUser,
    Checked {
        /// The row as read before the check: the hash that was checked against.
        user: Box<users::UserRow>,
        matches: bool,
    },
}

/// Why a password attempt on an account is refused, read from the row in the write
/// transaction: never from a row read before the check, which concurrent attempts may have
/// made stale (18 parallel wrong passwords must not leave the 19th, right one, a row that
/// says "not locked").
pub fn refusal(
    current: &users::UserRow,
    checked_hash: &str,
    matches: bool,
    now: NaiveDateTime,
) -> Option<&'static str> {
    if current.disabled {
        Some("disabled")
    } else if current.locked_until.is_some_and(|until| until > now) {
        Some("locked")
    } else if current.password_hash != checked_hash {
        // The password changed while this one was being checked: the check says nothing.
        Some("password_changed")
    } else if !matches {
        Some("wrong_password")
    } else {
        None
    }
}

/// Counts one wrong password against the account (in the caller's write transaction, after
/// its own audit event) and locks it when the count reaches the limit. Returns whether it
/// locked the account.
pub fn count_wrong_password(
    conn: &mut WriteTx<'_>,
    policy: &LoginPolicy,
    ctx: &AuditContext,
    user: &users::UserRow,
    now: NaiveDateTime,
    via: &str,
) -> diesel::QueryResult<bool> {
    let failures = users::record_failure(conn, user.id)?;
    if failures < policy.max_failures {
        return Ok(false);
    }
    users::lock_until(conn, user.id, now + policy.lockout)?;
    let event = Event::new(Action::AccountLocked)
        .outcome(Outcome::Failure)
        .entity("user", user.public_id.clone())
        .changes(serde_json::json!({
            "failed_logins": failures,
            "locked_until": (now + policy.lockout).and_utc().to_rfc3339(),
            "via": via,
        }));
    audit::append(conn, ctx, event)?;
    Ok(true)
}

/// Records the result of a login attempt: a session on success; on failure a counted failure,
/// the lockout when the limit is reached, and the audit events. Returns the tokens or the one
/// uniform error.
pub fn finish_login(
    conn: &mut DbConn,
    keys: &TokenKeys,
    policy: &LoginPolicy,
    ctx: &AuditContext,
    attempted_username: &str,
    check: PasswordCheck,
) -> Result<TokenPair, AppError> {
    let now = db::now();
    let (checked, matches) = match check {
        PasswordCheck::UnknownUser => {
            let ctx = ctx.with_actor(Actor {
                username: Some(attempted_username.chars().take(64).collect()),
                ..Actor::default()
            });
            let event = Event::new(Action::LoginFailed)
                .outcome(Outcome::Failure)
                .changes(serde_json::json!({ "reason": "unknown_user" }));
            audit::append_alone(conn, &ctx, event)?;
            return Err(invalid_credentials());
        }
        PasswordCheck::Checked { user, matches } => (user, matches),
    };
    let ctx = ctx.with_actor(actor_of(&checked));

    db::write_transaction(conn, |conn| {
        // The writers' lock is held from here: no other attempt can change the row until
        // this one commits.
        let Some(user) = users::by_id(conn, checked.id)? else {
            return Ok(Err(invalid_credentials()));
        };
        match refusal(&user, &checked.password_hash, matches, now) {
            None => {
                users::clear_failures(conn, user.id)?;
                let (session_id, pair) = open_session(conn, keys, policy, &user, now)?;
                audit::append(
                    conn,
                    &ctx,
                    Event::new(Action::Login).entity("session", session_id),
                )?;
                Ok(Ok(pair))
            }
            Some(reason) => {
                let event = Event::new(Action::LoginFailed)
                    .outcome(Outcome::Failure)
                    .entity("user", user.public_id.clone())
                    .changes(serde_json::json!({ "reason": reason }));
                audit::append(conn, &ctx, event)?;
                if reason == "wrong_password" {
                    count_wrong_password(conn, policy, &ctx, &user, now, "login")?;
                }
                Ok::<_, AppError>(Err(invalid_credentials()))
            }
        }
    })?
}

/// Exchanges a refresh token for a new pair. The presented token is spent; presenting a spent
/// token again revokes its whole session (the token was likely stolen).
pub fn refresh(
    conn: &mut DbConn,
    keys: &TokenKeys,
    policy: &LoginPolicy,
    ctx: &AuditContext,
    presented: &str,
) -> Result<TokenPair, AppError> {
    let now = db::now();
    let hash = token::hash_refresh_token(presented);
    db::write_transaction(conn, |conn| {
        let Some((token, session, user)) = store::refresh_token(conn, &hash)? else {
            return Ok::<_, AppError>(Err(invalid_refresh_token()));
        };
        let ctx = ctx.with_actor(actor_of(&user));
        if session.revoked_at.is_some() || session.expires_at <= now || user.disabled {
            return Ok(Err(invalid_refresh_token()));
        }
        if token.expires_at <= now {
            return Ok(Err(invalid_refresh_token()));
        }
        if !store::spend_refresh_token(conn, token.id, now)? {
            store::revoke(conn, session.id, "refresh_token_reuse", now)?;
            let event = Event::new(Action::RefreshTokenReuse)
                .outcome(Outcome::Denied)
                .entity("session", session.public_id.clone());
            audit::append(conn, &ctx, event)?;
            return Ok(Err(invalid_refresh_token()));
        }
        let pair = rotate_into(
            conn,
            keys,
            policy,
            session.id,
            &session.public_id,
            &user,
            now,
        )?;
        audit::append(
            conn,
            &ctx,
            Event::new(Action::TokenRefresh).entity("session", session.public_id.clone()),
        )?;
        Ok(Ok(pair))
    })?
}

/// Ends the caller's session: its refresh tokens and access tokens stop working at once.
pub fn logout(
    conn: &mut DbConn,
    ctx: &AuditContext,
    session_id: i64,
    session_public_id: &str,
) -> Result<(), AppError> {
    db::write_transaction(conn, |conn| {
        store::revoke(conn, session_id, "logout", db::now())?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::Logout).entity("session", session_public_id),
        )?;
        Ok(())
    })
}
