//! Integration clients (admins), the client-credentials token, and webhook deliveries.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery, RawBody};
use super::paging::{self, Page};
use crate::auth::guard::RequestContext;
use crate::auth::password;
use crate::db::{self, integration as store};
use crate::domain::role::ClientScope;
use crate::error::{AppError, AppResult};
use crate::input::parse_json;
use crate::state::AppState;
use crate::use_cases::integration::clients::{self, ClientChange, NewClient, SecretCheck};
use crate::use_cases::integration::model::DeliveryState;
use crate::use_cases::integration::outbox;

const CLIENTS: &str = "clients";
const DELIVERIES: &str = "webhook_deliveries";

/// `POST /api/v1/auth/token`: RFC 6749 §4.4, as a form (`application/x-www-form-urlencoded`)
/// or as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    grant_type: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
}

fn read_token_request(req: &HttpRequest, body: &[u8]) -> AppResult<TokenRequest> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match essence.as_deref() {
        Some("application/x-www-form-urlencoded") => {
            let text = std::str::from_utf8(body)
                .map_err(|_| AppError::bad_request("malformed_form", "the form is not UTF-8"))?;
            crate::input::parse_query(text)
        }
        Some("application/json") => parse_json(body),
        _ => Err(AppError::UnsupportedMediaType {
            expected: "application/x-www-form-urlencoded or application/json",
        }),
    }
}

pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    RequestContext(ctx): RequestContext,
    RawBody(body): RawBody,
) -> AppResult<HttpResponse> {
    let request = read_token_request(&req, &body)?;
    let address = ctx.client_address.clone().unwrap_or_default();
    crate::auth::settings::flush_refusals(&state.auth, &state.pool, false).await?;
    let now = Instant::now();
    if let Err(retry_after_secs) = state.auth.login_limiter.check(&address, now) {
        // Folded with the refused logins of the address: one event per window, with a count.
        state
            .auth
            .login_refusals
            .record(&address, Some(&request.client_id), now, db::now());
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    if request.grant_type != "client_credentials" {
        return Err(AppError::bad_request(
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        ));
    }
    let requested = match &request.scope {
        None => None,
        Some(scope) => Some(
            scope
                .split_whitespace()
                .map(|s| {
                    ClientScope::parse(s).ok_or_else(|| {
                        AppError::bad_request("invalid_scope", format!("unknown scope {s}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let lookup = request.client_id.clone();
    let client = db::run(&state.pool, move |conn| {
        Ok(store::client_by_public_id(conn, &lookup)?)
    })
    .await?;
    let secret = request.client_secret;
    let check = web::block(move || match client {
        None => {
            password::verify_against_nothing(&secret);
            SecretCheck::Unknown
        }
        Some(client) => {
            let matches = password::verify(&secret, &client.secret_hash);
            SecretCheck::Checked {
                client: Box::new(client),
                matches,
            }
        }
    })
    .await
    .map_err(|e| AppError::internal(e.to_string()))?;
    let app = state.clone();
    let client_id = request.client_id;
    let answer = db::run(&state.pool, move |conn| {
        clients::finish_token(conn, &app.auth.keys, &ctx, &client_id, requested, check)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}

/// Hashes a new client secret on the blocking pool.
async fn hashed_secret() -> AppResult<(String, String)> {
    web::block(|| {
        let secret = clients::new_client_secret();
        let hash = password::hash(&secret);
        (secret, hash)
    })
    .await
    .map_err(|e| AppError::internal(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    name: String,
    scopes: Vec<ClientScope>,
    webhook_url: Option<String>,
}

pub async fn create(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    ApiJson(body): ApiJson<CreateClient>,
) -> AppResult<HttpResponse> {
    let new = clients::check_new(NewClient {
        name: body.name,
        scopes: body.scopes,
        webhook_url: body.webhook_url,
    })?;
    let (secret, hash) = hashed_secret().await?;
    let protector = state.protector.clone();
    let created = db::run(&state.pool, move |conn| {
        clients::create(conn, &ctx, &protector, new, secret, hash)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/clients/{}", created.client.id)))
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
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
        Some(cursor) => paging::decode_cursor::<i64>(CLIENTS, cursor)?,
        None => 0,
    };
    let (items, next) = db::run(&state.pool, move |conn| clients::list(conn, after, limit)).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: next.map(|id| paging::encode_cursor(CLIENTS, &id)),
    }))
}

pub async fn get(state: web::Data<AppState>, id: web::Path<uuid::Uuid>) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let client = db::run(&state.pool, move |conn| clients::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(client))
}

async fn change(
    state: web::Data<AppState>,
    ctx: crate::audit::AuditContext,
    id: uuid::Uuid,
    change: ClientChange,
) -> AppResult<HttpResponse> {
    let id = id.to_string();
    let protector = state.protector.clone();
    let changed = db::run(&state.pool, move |conn| {
        clients::change(conn, &ctx, &protector, &id, change)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(changed))
}

pub async fn rotate_secret(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let (secret, hash) = hashed_secret().await?;
    change(
        state,
        ctx,
        id.into_inner(),
        ClientChange::RotateSecret { secret, hash },
    )
    .await
}

pub async fn disable(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    change(state, ctx, id.into_inner(), ClientChange::SetDisabled(true)).await
}

pub async fn enable(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    change(
        state,
        ctx,
        id.into_inner(),
        ClientChange::SetDisabled(false),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetWebhook {
    /// Required, `null` to remove the webhook: an empty body must not remove it silently.
    #[serde(deserialize_with = "Option::deserialize")]
    url: Option<String>,
}

pub async fn set_webhook(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
    ApiJson(body): ApiJson<SetWebhook>,
) -> AppResult<HttpResponse> {
    let url = match body.url {
        Some(url) => Some(
            clients::check_webhook_url(&url)
                .map_err(|e| AppError::Validation(vec![e.renamed("url")]))?,
        ),
        None => None,
    };
    change(state, ctx, id.into_inner(), ClientChange::SetWebhook(url)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    state: Option<DeliveryState>,
    client_id: Option<uuid::Uuid>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub async fn deliveries(
    state: web::Data<AppState>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> AppResult<HttpResponse> {
    let limit = paging::limit(query.limit)?;
    let after = match &query.cursor {
        Some(cursor) => paging::decode_cursor::<i64>(DELIVERIES, cursor)?,
        None => 0,
    };
    let client = query.client_id.map(|c| c.to_string());
    let (items, next) = db::run(&state.pool, move |conn| {
        outbox::deliveries(conn, client.as_deref(), query.state, after, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: next.map(|id| paging::encode_cursor(DELIVERIES, &id)),
    }))
}

pub async fn delivery(
    state: web::Data<AppState>,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let found = db::run(&state.pool, move |conn| outbox::delivery(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(found))
}

pub async fn replay(
    state: web::Data<AppState>,
    RequestContext(ctx): RequestContext,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let found = db::run(&state.pool, move |conn| outbox::replay(conn, &ctx, &id)).await?;
    Ok(HttpResponse::Ok().json(found))
}
