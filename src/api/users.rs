//! Accounts: the caller's own (`/me`) and, for admins, everyone's (`/users`).

use super::extract::ApiQuery;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::concurrency::{etag, expected_version};
use super::extract::{explicit_null, ApiJson};
use super::paging::{self, Page};
use crate::auth::guard::{Caller, RequestContext};
use crate::auth::password;
use crate::db::{self, users};
use crate::domain::account::check_password;
use crate::domain::role::Role;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::use_cases::accounts::{self, NewUser, UserUpdate, UserView};

const LIST: &str = "users";

fn with_etag(mut builder: actix_web::HttpResponseBuilder, user: &UserView) -> HttpResponse {
    builder
        .insert_header(("ETag", etag(user.version)))
        .json(user)
}

/// Hashes on the blocking pool: argon2 is slow on purpose.
async fn hash_password(password: String) -> AppResult<String> {
    web::block(move || password::hash(&password))
        .await
        .map_err(|e| AppError::internal(e.to_string()))
}

pub async fn me(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let user = db::run(&state.pool, move |conn| {
        accounts::load_view(conn, &caller.public_id)
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password and ends all its sessions, this one included. The current
/// password is checked off the async workers; what follows from the check (a counted failure,
/// a lockout, the change) is decided in one write transaction.
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<PasswordChange>,
) -> AppResult<HttpResponse> {
    let public_id = caller.public_id.clone();
    let stored = db::run(&state.pool, move |conn| {
        users::by_public_id(conn, &public_id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let username = caller.username.clone();
    let check = web::block(move || {
        let matches = password::verify(&body.current_password, &stored.password_hash);
        let new_hash = if matches {
            check_password(&body.new_password, &username)
                .map_err(|e| AppError::Validation(vec![e.renamed("new_password")]))?;
            Some(password::hash(&body.new_password))
        } else {
            None
        };
        Ok::<_, AppError>(accounts::CurrentPasswordCheck {
            checked_hash: stored.password_hash,
            matches,
            new_hash,
        })
    })
    .await
    .map_err(|e| AppError::internal(e.to_string()))??;
    let app = state.clone();
    db::run(&state.pool, move |conn| {
        accounts::change_own_password(conn, &ctx, &app.auth.login, caller.user_id, check)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<HttpResponse> {
    let limit = paging::limit(query.limit)?;
    let after = match &query.cursor {
        Some(cursor) => paging::decode_cursor::<i64>(LIST, cursor)?,
        None => 0,
    };
    let (items, next) =
        db::run(&state.pool, move |conn| accounts::list(conn, after, limit)).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: next.map(|id| paging::encode_cursor(LIST, &id)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    username: String,
    display_name: Option<String>,
    role: Role,
    #[serde(default)]
    towns: Vec<String>,
    password: String,
}

pub async fn create(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<CreateUser>,
) -> AppResult<HttpResponse> {
    let username = accounts::check_new_credentials(&body.username, &body.password)?;
    let password_hash = hash_password(body.password).await?;
    let new = NewUser {
        username,
        display_name: body.display_name,
        role: body.role,
        towns: body.towns,
        password_hash,
    };
    let user = db::run(&state.pool, move |conn| accounts::create(conn, &ctx, new)).await?;
    let mut builder = HttpResponse::Created();
    builder.insert_header(("Location", format!("/api/v1/users/{}", user.id)));
    Ok(with_etag(builder, &user))
}

pub async fn get(state: web::Data<AppState>, id: web::Path<uuid::Uuid>) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let user = db::run(&state.pool, move |conn| accounts::load_view(conn, &id)).await?;
    Ok(with_etag(HttpResponse::Ok(), &user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    #[serde(default, deserialize_with = "explicit_null")]
    display_name: Option<Option<String>>,
    role: Option<Role>,
    towns: Option<Vec<String>>,
    disabled: Option<bool>,
    password: Option<String>,
    #[serde(default)]
    unlock: bool,
}

pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<PatchUser>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let expected = expected_version(&req)?;
    let password_hash = match body.password {
        Some(password) => {
            let lookup = id.clone();
            let current =
                db::run(&state.pool, move |conn| accounts::load_view(conn, &lookup)).await?;
            check_password(&password, &current.username)
                .map_err(|e| AppError::Validation(vec![e]))?;
            Some(hash_password(password).await?)
        }
        None => None,
    };
    let change = UserUpdate {
        display_name: body.display_name,
        role: body.role,
        towns: body.towns,
        disabled: body.disabled,
        password_hash,
        unlock: body.unlock,
    };
    let user = db::run(&state.pool, move |conn| {
        accounts::update(conn, &ctx, &id, expected, change)
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &user))
}
