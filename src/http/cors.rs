//! Cross-origin calls from the caseworkers' browser client, which runs on an origin of its own.
//!
//! Only the origins configured in `CORS_ALLOWED_ORIGINS` get CORS headers (none by default, so
//! a browser refuses every cross-origin call). A request from any other origin is served as if
//! it had no `Origin` header: without CORS headers, so a browser withholds the answer from the
//! page, while a client that is not a browser (curl, the Zheliban integration) is unaffected.

use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::error::AppError;

/// The request headers the API reads, which a page's script may send.
const REQUEST_HEADERS: [&str; 6] = [
    "authorization",
    "content-type",
    "if-match",
    "idempotency-key",
    "accept-language",
    "x-request-id",
];

/// The response headers a page's script needs to read: versions for `If-Match`, where a created
/// record lives, the request id to quote to support, when to retry, and downloads' file names.
const EXPOSED_HEADERS: [&str; 5] = [
    "etag",
    "location",
    "x-request-id",
    "retry-after",
    "content-disposition",
];

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE_SECS: usize = 3600;

/// Checks one configured origin: `https://host` or `http://host:port`, as a browser sends it in
/// `Origin` (a scheme, a host and maybe a port; no path, no wildcard). Answers it lower-cased,
/// since browsers send scheme and host lower-case and the check is exact.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let origin = text.trim().to_ascii_lowercase();
    let explain = || {
        format!(
            "`{text}` is not an origin: write it as the browser sends it, e.g. \
             https://registry.example.gov.cn or http://localhost:5173 (a scheme, a host and an \
             optional port; no path, no trailing slash, no wildcard)"
        )
    };
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(explain)?;
    // An IPv6 host is bracketed (`http://[::1]:8080`); its colons are not the port's.
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (ip, after) = bracketed.split_once(']').ok_or_else(explain)?;
        ip.parse::<std::net::Ipv6Addr>().map_err(|_| explain())?;
        match after {
            "" => (None, None),
            _ => (None, Some(after.strip_prefix(':').ok_or_else(explain)?)),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(rest), None),
        }
    };
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    });
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if host_ok && port_ok {
        Ok(origin)
    } else {
        Err(explain())
    }
}

/// Reads `CORS_ALLOWED_ORIGINS`: comma-separated origins, each checked by [`parse_origin`].
pub fn parse_origins(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(parse_origin)
        .collect()
}

/// The middleware for the allowed `origins` (checked with [`parse_origin`]).
pub fn middleware(origins: &[String]) -> Cors {
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(methods)
        .allowed_headers(REQUEST_HEADERS.map(header::HeaderName::from_static))
        .expose_headers(EXPOSED_HEADERS.map(header::HeaderName::from_static))
        .max_age(PREFLIGHT_MAX_AGE_SECS)
        // Another origin's request is served without CORS headers, not refused: a browser
        // keeps the answer from the page, and non-browser clients never needed them.
        .block_on_origin_mismatch(false)
}

/// actix-cors answers a preflight it refuses (another origin, a method or header the API does
/// not take) with a plain-text 400; every error of this API is problem+json, so such an answer
/// is replaced by a 403 problem here (still without CORS headers, so the browser refuses).
pub async fn refused_preflight_as_problem(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let res = next.call(req).await?;
    if preflight && res.status() == StatusCode::BAD_REQUEST {
        let problem = AppError::forbidden(
            "this cross-origin call is not allowed: the page's origin is not in \
             CORS_ALLOWED_ORIGINS, or the preflight asked for a method or header the API does not \
             take",
        );
        let (req, _) = res.into_parts();
        return Ok(ServiceResponse::new(req, problem.error_response()).map_into_right_body());
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        assert_eq!(
            parse_origins(
                " https://Registry.example.gov.cn , http://localhost:5173,http://[::1]:8080"
            )
            .unwrap(),
            [
                "https://registry.example.gov.cn",
                "http://localhost:5173",
                "http://[::1]:8080"
            ]
        );
        assert_eq!(parse_origins("").unwrap(), Vec::<String>::new());
        for bad in [
            "*",
            "registry.example.gov.cn",
            "https://registry.example.gov.cn/",
            "https://registry.example.gov.cn/app",
            "ftp://example.org",
            "https://",
            "http://localhost:0",
            "http://localhost:99999",
            "http://[::1",
            "http://[not-an-ip]:80",
            "https://*.example.org",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad} was accepted");
        }
    }
}
