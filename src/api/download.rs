//! Answers that are files (reports, lists, import sheets): the format a request asks for and
//! the response that carries the file.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::AppError;
use crate::reports::exports::File;
use crate::reports::{content_disposition, Format};

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
