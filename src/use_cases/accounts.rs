//! User accounts: creation and changes by an admin, one's own password, and the command-line
//! `create-admin`. Password hashing happens before these functions are called (it is slow on
//! purpose and must not hold a database connection).

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Action, AuditContext, Event};
use crate::db::{self, areas, sessions, users, DbConn};
use crate::domain::account::{check_password, normalize_username};
use crate::domain::area::AreaLevel;
use crate::domain::role::Role;
use crate::error::{stored_code, AppError, FieldError};
use crate::use_cases::file_rows::{check_version, written};

/// A user as the API shows it. The password hash never leaves the database layer.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub towns: Vec<String>,
    pub disabled: bool,
    pub locked_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub version: i32,
}

pub fn timestamp(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn view(row: users::UserRow, towns: Vec<String>) -> Result<UserView, AppError> {
    Ok(UserView {
        role: stored_code("users", "role", &row.role, Role::parse)?,
        id: row.public_id,
        username: row.username,
        display_name: row.display_name,
        towns,
        disabled: row.disabled,
        locked_until: row.locked_until.filter(|t| *t > db::now()).map(timestamp),
        created_at: timestamp(row.created_at),
        updated_at: timestamp(row.updated_at),
        version: row.version,
    })
}

/// The audit form of a user: what an admin may change, never the hash.
fn audit_image(v: &UserView) -> serde_json::Value {
    json!({
        "username": v.username,
        "display_name": v.display_name,
        "role": v.role,
        "towns": v.towns,
        "disabled": v.disabled,
    })
}

pub fn load_view(conn: &mut DbConn, public_id: &str) -> Result<UserView, AppError> {
    let row = users::by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
    let towns = users::towns(conn, row.id)?;
    view(row, towns)
}

/// A page of users in creation order, and the id to continue after.
pub fn list(
    conn: &mut DbConn,
    after_id: i64,
    limit: i64,
) -> Result<(Vec<UserView>, Option<i64>), AppError> {
    let rows = users::page(conn, after_id, limit + 1)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let towns = users::towns_of(conn, &ids)?;
    let views = rows
        .into_iter()
        .map(|row| {
            let mine = towns
                .iter()
                .filter(|(id, _)| *id == row.id)
                .map(|(_, t)| t.clone())
                .collect();
            view(row, mine)
        })
        .collect::<Result<_, _>>()?;
    Ok((views, next))
}

/// Checks a role and its towns: caseworkers need at least one town, others none; integration
/// clients are not made here.
fn check_role_and_towns(
    conn: &mut DbConn,
    role: Role,
    towns: &[String],
) -> Result<Vec<String>, AppError> {
    let mut errors = Vec::new();
    if role == Role::Integration {
        errors.push(FieldError::new(
            "role",
            "not_allowed",
            "integration clients are registered as clients, not as users",
        ));
    }
    let mut towns: Vec<String> = towns.to_vec();
    towns.sort();
    towns.dedup();
    match role {
        Role::Caseworker if towns.is_empty() => errors.push(FieldError::new(
            "towns",
            "required",
            "a caseworker needs at least one town",
        )),
        Role::Caseworker => {
            for (i, code) in towns.iter().enumerate() {
                let is_town =
                    areas::level_of(conn, code)?.as_deref() == Some(AreaLevel::Town.as_str());
                if !is_town {
                    errors.push(FieldError::new(
                        format!("towns[{i}]"),
                        "unknown_town",
                        format!("{code} is not a town of the district"),
                    ));
                }
            }
        }
        _ if !towns.is_empty() => errors.push(FieldError::new(
            "towns",
            "not_allowed",
            "only caseworkers are limited to towns",
        )),
        _ => {}
    }
    if errors.is_empty() {
        Ok(towns)
    } else {
        Err(AppError::Validation(errors))
    }
}

pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub towns: Vec<String>,
    pub password_hash: String,
}

/// Validates a new user's username and password before the password is hashed.
pub fn check_new_credentials(username: &str, password: &str) -> Result<String, AppError> {
    let mut errors = Vec::new();
    let username = normalize_username(username)
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(e) = check_password(password, username.as_deref().unwrap_or("")) {
        errors.push(e);
    }
    match username {
        Some(name) if errors.is_empty() => Ok(name),
        _ => Err(AppError::Validation(errors)),
    }
}

fn username_taken(username: &str) -> AppError {
    AppError::Conflict {
        code: "username_taken",
        detail: format!("the username {username} is taken"),
        extra: None,
    }
}

pub fn create(conn: &mut DbConn, ctx: &AuditContext, new: NewUser) -> Result<UserView, AppError> {
    let display_name = clean_display_name(new.display_name)?;
    db::write_transaction(conn, |conn| {
        let towns = check_role_and_towns(conn, new.role, &new.towns)?;
        if users::by_username(conn, &new.username)?.is_some() {
            return Err(username_taken(&new.username));
        }
        let now = db::now();
        let public_id = uuid::Uuid::new_v4().to_string();
        let id = users::insert(
            conn,
            &users::NewUserRow {
                public_id: &public_id,
                username: &new.username,
                display_name: display_name.as_deref(),
                role: new.role.as_str(),
                password_hash: &new.password_hash,
                created_at: now,
                updated_at: now,
            },
        )
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => username_taken(&new.username),
            other => other.into(),
        })?;
        users::set_towns(conn, id, &towns)?;
        let created = load_view(conn, &public_id)?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::UserCreate)
                .entity("user", public_id.clone())
                .changes(audit::created(audit_image(&created))),
        )?;
        Ok(created)
    })
}

fn clean_display_name(name: Option<String>) -> Result<Option<String>, AppError> {
    let name = name
        .map(|n| crate::domain::text::clean(&n))
        .transpose()
        .map_err(|forbidden| AppError::Validation(vec![forbidden.field_error("display_name")]))?
        .filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(AppError::field(
            "display_name",
            "too_long",
            "use at most 100 characters",
        ));
    }
    Ok(name)
}

/// What an admin may change on a user. `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub display_name: Option<Option<String>>,
    pub role: Option<Role>,
    pub towns: Option<Vec<String>>,
    pub disabled: Option<bool>,
    /// A new password, already checked against the policy and hashed.
    pub password_hash: Option<String>,
    pub unlock: bool,
}

pub fn update(
    conn: &mut DbConn,
    ctx: &AuditContext,
    public_id: &str,
    expected_version: i32,
    change: UserUpdate,
) -> Result<UserView, AppError> {
    let display_name = match change.display_name {
        Some(name) => Some(clean_display_name(name)?),
        None => None,
    };
    db::write_transaction(conn, |conn| {
        let row = users::by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        let before = view(row.clone(), users::towns(conn, row.id)?)?;
        let role = change.role.unwrap_or(before.role);
        let towns = match (&change.towns, role) {
            (Some(towns), _) => towns.clone(),
            (None, Role::Caseworker) => before.towns.clone(),
            (None, _) => Vec::new(),
        };
        // The request's own faults first, named even on a stale version; then the version.
        let towns = check_role_and_towns(conn, role, &towns)?;
        check_version(row.version, expected_version)?;
        let disabled = change.disabled.unwrap_or(before.disabled);
        let stays_active_admin = role == Role::Admin && !disabled;
        if before.role == Role::Admin
            && !before.disabled
            && !stays_active_admin
            && users::other_active_admins(conn, row.id)? == 0
        {
            return Err(AppError::Conflict {
                code: "last_admin",
                detail: "this is the last active admin; make another admin first".to_owned(),
                extra: None,
            });
        }
        let now = db::now();
        let changes = users::UserChanges {
            display_name,
            role: change.role.map(|r| r.as_str().to_owned()),
            password_hash: change.password_hash.clone(),
            disabled: change.disabled,
            failed_logins: change.unlock.then_some(0),
            locked_until: change.unlock.then_some(None),
        };
        let updated = users::update_versioned(conn, row.id, expected_version, &changes, now)?;
        written(updated)?;
        users::set_towns(conn, row.id, &towns)?;
        let revoke_reason = if change.password_hash.is_some() {
            Some("password_reset")
        } else if disabled && !before.disabled {
            Some("user_disabled")
        } else {
            None
        };
        if let Some(reason) = revoke_reason {
            sessions::revoke_all_of_user(conn, row.id, reason, now)?;
        }
        let after = load_view(conn, public_id)?;
        let mut changes = audit::diff(&audit_image(&before), &audit_image(&after));
        if let Some(map) = changes.as_object_mut() {
            if change.password_hash.is_some() {
                map.insert("password".into(), json!(audit::REDACTED));
            }
            if change.unlock {
                map.insert("unlocked".into(), json!(true));
            }
        }
        audit::append(
            conn,
            ctx,
            Event::new(Action::UserUpdate)
                .entity("user", public_id)
                .changes(changes),
        )?;
        Ok(after)
    })
}

/// The check of the current password that `/me/password` made, before the write.
pub struct CurrentPasswordCheck {
    /// The stored hash the current password was checked against.
    pub checked_hash: String,
    pub matches: bool,
    /// The new password, checked against the policy and hashed; `None` when the current
    /// password did not match (the new one is not looked at then).
    pub new_hash: Option<String>,
}

fn current_password_refused(code: &'static str, message: &'static str) -> AppError {
    AppError::Validation(vec![FieldError::new("current_password", code, message)])
}

/// Changes the caller's own password and ends all its sessions. A wrong current password counts
/// as a failed login (a stolen access token must not be a way round the lockout): it is
/// audited, and the one that reaches the limit locks the account and ends every session of it,
/// this one included. The decision is made on the row as it is in the write transaction.
pub fn change_own_password(
    conn: &mut DbConn,
    ctx: &AuditContext,
    policy: &crate::auth::sessions::LoginPolicy,
    user_id: i64,
    check: CurrentPasswordCheck,
) -> Result<(), AppError> {
    use crate::auth::sessions::{count_wrong_password, refusal};
    let now = db::now();
    db::write_transaction(conn, |conn| {
        let row = users::by_id(conn, user_id)?.ok_or(AppError::NotFound)?;
        let failed = |reason: &str| {
            Event::new(Action::PasswordChangeFailed)
                .outcome(audit::Outcome::Failure)
                .entity("user", row.public_id.clone())
                .changes(json!({ "reason": reason }))
        };
        match refusal(&row, &check.checked_hash, check.matches, now) {
            Some("password_changed") => return Ok(Err(AppError::PreconditionFailed)),
            Some("wrong_password") => {
                audit::append(conn, ctx, failed("wrong_password"))?;
                if count_wrong_password(conn, policy, ctx, &row, now, "password_change")? {
                    sessions::revoke_all_of_user(conn, user_id, "password_guessing", now)?;
                }
                return Ok(Err(current_password_refused(
                    "mismatch",
                    "the current password is wrong",
                )));
            }
            Some(reason) => {
                audit::append(conn, ctx, failed(reason))?;
                return Ok(Err(current_password_refused(
                    "account_locked",
                    "the account is locked after too many wrong passwords; try again later or ask an admin to unlock it",
                )));
            }
            None => {}
        }
        let Some(new_hash) = check.new_hash else {
            return Ok(Err(AppError::internal(
                "a matching password without a new hash",
            )));
        };
        let changes = users::UserChanges {
            password_hash: Some(new_hash),
            failed_logins: Some(0),
            ..Default::default()
        };
        if !users::update_versioned(conn, user_id, row.version, &changes, now)? {
            return Ok(Err(AppError::PreconditionFailed));
        }
        sessions::revoke_all_of_user(conn, user_id, "password_change", now)?;
        audit::append(
            conn,
            ctx,
            Event::new(Action::PasswordChange)
                .entity("user", row.public_id.clone())
                .changes(json!({ "password": audit::REDACTED })),
        )?;
        Ok::<_, AppError>(Ok(()))
    })?
}

/// `create-admin`: creates the admin, or resets its password, re-enables and unlocks it and ends
/// its sessions. Refuses to turn another role's account into an admin.
pub fn create_or_reset_admin(
    conn: &mut DbConn,
    username: &str,
    password_hash: String,
) -> Result<&'static str, AppError> {
    let ctx = AuditContext {
        actor: audit::Actor {
            username: Some("(command line)".to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    db::write_transaction(conn, |conn| match users::by_username(conn, username)? {
        None => {
            create(
                conn,
                &ctx,
                NewUser {
                    username: username.to_owned(),
                    display_name: None,
                    role: Role::Admin,
                    towns: Vec::new(),
                    password_hash,
                },
            )?;
            Ok("created")
        }
        Some(row) if row.role == Role::Admin.as_str() => {
            update(
                conn,
                &ctx,
                &row.public_id,
                row.version,
                UserUpdate {
                    disabled: Some(false),
                    password_hash: Some(password_hash),
                    unlock: true,
                    ..Default::default()
                },
            )?;
            Ok("reset")
        }
        Some(row) => Err(AppError::Conflict {
            code: "username_taken",
            detail: format!(
                "{username} exists with the role {}; choose another name",
                row.role
            ),
            extra: None,
        }),
    })
}
