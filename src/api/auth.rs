//! Sign-in, token refresh and sign-out.

use std::time::Instant;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::extract::ApiJson;
use crate::auth::guard::{Caller, RequestContext};
use crate::auth::password;
use crate::auth::sessions::{self, PasswordCheck};
use crate::db::{self, users};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    password: String,
}

pub async fn login(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<LoginRequest>,
) -> AppResult<HttpResponse> {
    let address = ctx.client_address.clone().unwrap_or_default();
    crate::auth::settings::flush_refusals(&state.auth, &state.pool, false).await?;
    let now = Instant::now();
    if let Err(retry_after_secs) = state.auth.login_limiter.check(&address, now) {
        // Counted in memory, written as one event per address and window: a flood of
        // refused attempts must not become a flood of audit rows.
        state
            .auth
            .login_refusals
            .record(&address, Some(&body.username), now, db::now());
        return Err(AppError::TooManyRequests { retry_after_secs });
    }

    let username = body.username.trim().to_ascii_lowercase();
    let lookup = username.clone();
    let user = db::run(&state.pool, move |conn| {
        Ok(users::by_username(conn, &lookup)?)
    })
    .await?;
    let check = web::block(move || match user {
        None => {
            password::verify_against_nothing(&body.password);
            PasswordCheck::UnknownUser
        }
        Some(user) => {
            let matches = password::verify(&body.password, &user.password_hash);
            PasswordCheck::Checked {
                user: Box::new(user),
                matches,
            }
        }
    })
    .await
    .map_err(|e| AppError::internal(e.to_string()))?;

    let app = state.clone();
    let pair = db::run(&state.pool, move |conn| {
        sessions::finish_login(
            conn,
            &app.auth.keys,
            &app.auth.login,
            &ctx,
            &username,
            check,
        )
    })
    .await?;
    Ok(no_store(HttpResponse::Ok()).json(pair))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

pub async fn refresh(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let app = state.clone();
    let pair = db::run(&state.pool, move |conn| {
        sessions::refresh(
            conn,
            &app.auth.keys,
            &app.auth.login,
            &ctx,
            &body.refresh_token,
        )
    })
    .await?;
    Ok(no_store(HttpResponse::Ok()).json(pair))
}

pub async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    RequestContext(ctx): RequestContext,
) -> AppResult<HttpResponse> {
    db::run(&state.pool, move |conn| {
        sessions::logout(conn, &ctx, caller.session_id, &caller.session_public_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Token answers must not be cached by anything on the way.
fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header(("Cache-Control", "no-store"));
    builder
}
