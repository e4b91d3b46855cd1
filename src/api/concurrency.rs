//! Optimistic concurrency: reads carry an `ETag` of the row version; updates must send it back
//! in `If-Match` (428 without, 412 when stale).

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::error::AppError;

pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// The version named by `If-Match`.
pub fn expected_version(req: &HttpRequest) -> Result<i32, AppError> {
    let value = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or(AppError::PreconditionRequired)?
        .to_str()
        .map_err(|_| AppError::PreconditionFailed)?
        .trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i32>().ok())
        .ok_or(AppError::PreconditionFailed)
}
