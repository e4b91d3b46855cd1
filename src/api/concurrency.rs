//! Optimistic concurrency: reads carry an `ETag` of the row version; updates must send it back
//! in `If-Match` (428 without, 412 when stale).

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::error::AppError;

pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// A version no row has (versions start at 1): what an `If-Match` that names none of ours
/// stands for.
const NO_VERSION: i32 = 0;

/// The version named by `If-Match` (428 without one). A value that is not one of our ETags
/// matches no version: it is answered 412 where a stale one is, after the checks of the
/// resource and the body, so a request that could never succeed is told why first.
pub fn expected_version(req: &HttpRequest) -> Result<i32, AppError> {
    let value = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or(AppError::PreconditionRequired)?;
    Ok(value
        .to_str()
        .ok()
        .map(str::trim)
        .and_then(|v| v.strip_prefix('"'))
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(NO_VERSION))
}
