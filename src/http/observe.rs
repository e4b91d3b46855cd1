//! The outermost middleware: gives every request an id, runs it inside a tracing span that
//! carries the id, writes one access-log line and records metrics.
//!
//! Logged are the method, the route pattern, the status and the latency: never the query
//! string, headers or bodies, which may hold names or ID numbers.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use tracing::Instrument;

use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A caller's id is kept when it is short and plain; anything else is replaced, so nothing odd
/// reaches the logs.
fn accept_request_id(value: Option<&HeaderValue>) -> Option<String> {
    let value = value?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    plain.then(|| value.to_owned())
}

/// The route pattern a request matched (`/api/v1/residents/{id}/file`), worked out once per
/// request: actix matches `match_pattern` against the whole route table on every call, which
/// cost a fifth of a file read's CPU when the access check and the metrics each asked.
#[derive(Debug, Clone)]
pub struct RoutePattern(pub Option<String>);

/// The request's [`RoutePattern`], from its extensions when it was already worked out.
pub fn route_pattern(req: &ServiceRequest) -> Option<String> {
    if let Some(known) = req.extensions().get::<RoutePattern>() {
        return known.0.clone();
    }
    let pattern = req.match_pattern();
    req.extensions_mut().insert(RoutePattern(pattern.clone()));
    pattern
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = accept_request_id(req.headers().get(REQUEST_ID_HEADER))
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    // Bounded like the metrics' label: an invented method is attacker-chosen text.
    let method = crate::http::metrics::method_label(req.method().as_str());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());

    let route = route_pattern(&req).unwrap_or_else(|| "unmatched".to_owned());

    let span = tracing::info_span!("request", request_id = %request_id, %method);
    let mut res = next.call(req).instrument(span.clone()).await?;

    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        metrics.record(method, &route, status, elapsed);
    }
    span.in_scope(|| {
        tracing::info!(
            %route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "answered"
        )
    });
    // What the API answers is personal data (residents, files, histories, searches, users,
    // the audit trail, gap lists) or the means to it: no cache on the way, in a browser or a
    // proxy, may keep it. Only the public API document may be cached.
    if route.starts_with("/api/v1/")
        && route != "/api/v1/openapi.yaml"
        && !res.headers().contains_key(header::CACHE_CONTROL)
    {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_ids_and_drops_odd_ones() {
        let ok = HeaderValue::from_static("abc-123_x.y");
        assert_eq!(accept_request_id(Some(&ok)).as_deref(), Some("abc-123_x.y"));
        let odd = HeaderValue::from_static("a b");
        assert_eq!(accept_request_id(Some(&odd)), None);
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert_eq!(accept_request_id(Some(&long)), None);
        assert_eq!(accept_request_id(None), None);
    }
}
