//! What the routes that answer reports share: the as-of day and the format a report is asked
//! in, and how a report file is sent.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDate;

use crate::error::AppError;
use crate::use_cases::reports::exports::File;
use crate::use_cases::reports::{content_disposition, Format};

/// The as-of day asked for (`YYYY-MM-DD`, not after today), or today.
pub fn as_of(asked: Option<&str>, today: NaiveDate) -> Result<NaiveDate, AppError> {
    let Some(text) = asked else {
        return Ok(today);
    };
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| AppError::field("as_of", "invalid_date", "write the date as YYYY-MM-DD"))?;
    crate::use_cases::indicators::check_as_of(day, today)
}

/// The format asked for by `format`, else by `Accept`, else JSON.
pub fn format_of(req: &HttpRequest, asked: Option<&str>) -> Result<Format, AppError> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    Format::choose(asked, accept)
}

/// A report file: its media type, a `Content-Disposition` naming what and as of when, and no
/// caching (it may hold personal data). An HTML page may not load anything from anywhere.
pub fn file_response(file: File) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    builder
        .content_type(file.format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(file.format == Format::Html, &file.name, &file.fallback),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    if file.format == Format::Html {
        builder.insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
             form-action 'none'",
        ));
    }
    builder.body(file.bytes)
}
