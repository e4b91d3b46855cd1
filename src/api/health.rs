use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::http::metrics::PoolGauges;
use crate::state::AppState;

/// How long readiness waits for a connection before reporting the database unreachable.
const READY_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// Alive: the process answers. Says nothing of the database, so an orchestrator does not
/// restart the service when only the database is down.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "alive" }))
}

/// Ready: a connection can be checked out and answers a query.
pub async fn readyz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool
            .get_timeout(READY_CHECKOUT_TIMEOUT)
            .map_err(AppError::from_pool)?;
        conn.batch_execute("SELECT 1")
            .map_err(|e| AppError::Unavailable {
                cause: e.to_string(),
            })
    })
    .await
    .map_err(|e| AppError::internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(json!({
        "status": "ready",
        "database": state.config.database_url.backend_name(),
    })))
}

/// Whether the request carries the metrics token, compared in constant time (over digests, so
/// the length does not tell either).
fn has_metrics_token(req: &HttpRequest, token: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, presented)| presented.trim().to_owned())
        .unwrap_or_default();
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(token);
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Marks the app of `METRICS_BIND` (see [`crate::startup::metrics_app`]).
#[derive(Debug, Clone, Copy)]
pub struct MetricsListener;

/// The metrics. With `METRICS_TOKEN` set, only for a caller that sends it as a bearer token.
/// With `METRICS_BIND` set, only on that address: the main address answers 404.
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    if state.config.metrics_bind.is_some() && req.app_data::<MetricsListener>().is_none() {
        return Err(AppError::NotFound);
    }
    if let Some(token) = &state.auth.metrics_token {
        if !has_metrics_token(&req, &token.0) {
            return Err(AppError::unauthorized(
                "unauthorized",
                "send the metrics token: Authorization: Bearer <METRICS_TOKEN>",
            ));
        }
    }
    let pool = state.pool.state();
    let text = state.metrics.render(PoolGauges {
        max_size: state.pool.max_size(),
        connections: pool.connections,
        idle: pool.idle_connections,
    });
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
