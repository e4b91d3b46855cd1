//! Request extractors whose failures are problems naming what is wrong.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::input::{parse_json, parse_query};

/// The largest JSON body accepted, set from `BODY_LIMIT_BYTES`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// How long a body may take to arrive whole, set from `BODY_READ_TIMEOUT_SECS`.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// A JSON body: 415 unless the content type is JSON, 413 over the body limit, 400 when it is not
/// JSON at all, 422 naming the field when a field is missing, unknown or of the wrong type.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(1024 * 1024, |l| l.0);
        let body = read_body(req, payload, is_json(req), "application/json", limit);
        Box::pin(async move { parse_json(&body.await?).map(ApiJson) })
    }
}

/// The largest CSV file accepted by an import, set from `IMPORT_LIMIT_BYTES`.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimit(pub usize);

/// A CSV body (`text/csv`), read whole: 415 for another type, 413 over the import limit.
#[derive(Debug)]
pub struct CsvBody(pub web::Bytes);

impl FromRequest for CsvBody {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<ImportLimit>()
            .map_or(32 * 1024 * 1024, |l| l.0);
        let is_csv = essence(req).as_deref() == Some("text/csv");
        let body = read_body(req, payload, is_csv, "text/csv", limit);
        Box::pin(async move { body.await.map(CsvBody) })
    }
}

/// A spreadsheet body, read whole: CSV (`text/csv`) or an Excel workbook (the `.xlsx` media
/// type); 415 for another type, 413 over the import limit.
#[derive(Debug)]
pub struct SheetBody(pub web::Bytes, pub crate::csv_file::SheetFormat);

impl FromRequest for SheetBody {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        use crate::csv_file::SheetFormat;
        let limit = req
            .app_data::<ImportLimit>()
            .map_or(32 * 1024 * 1024, |l| l.0);
        let format = match essence(req).as_deref() {
            Some("text/csv") => Some(SheetFormat::Csv),
            Some(crate::use_cases::reports::XLSX_TYPE) => Some(SheetFormat::Xlsx),
            _ => None,
        };
        let body = read_body(
            req,
            payload,
            format.is_some(),
            "text/csv or application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            limit,
        );
        Box::pin(async move {
            let bytes = body.await?;
            Ok(SheetBody(bytes, format.unwrap_or(SheetFormat::Csv)))
        })
    }
}

/// A body of any content type (a form), read whole like a JSON body: 413 over the body limit,
/// 408 when it is slower than the body timeout.
#[derive(Debug)]
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(1024 * 1024, |l| l.0);
        let body = read_body(req, payload, true, "any", limit);
        Box::pin(async move { body.await.map(RawBody) })
    }
}

/// The detail of a body that broke off: actix's own words stay out of the answer.
const UNREADABLE: &str = "the request body could not be read whole; send it again";

/// Reads a body of an accepted content type, up to `limit` bytes and within the body timeout
/// (default 60 s).
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    content_type_ok: bool,
    expected: &'static str,
    limit: usize,
) -> impl Future<Output = Result<web::Bytes, AppError>> {
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let payload = web::Payload::from_request(req, payload);
    let within = req
        .app_data::<BodyTimeout>()
        .map_or(Duration::from_secs(60), |t| t.0);
    async move {
        if !content_type_ok {
            return Err(AppError::UnsupportedMediaType { expected });
        }
        if declared_length.is_some_and(|n| n > limit) {
            return Err(AppError::PayloadTooLarge { limit });
        }
        let payload = payload
            .await
            .map_err(|_| AppError::bad_request("unreadable_body", UNREADABLE))?;
        let read = actix_web::rt::time::timeout(within, payload.to_bytes_limited(limit));
        match read.await {
            Err(_) => Err(AppError::RequestTimeout { within }),
            Ok(Err(_)) => Err(AppError::PayloadTooLarge { limit }),
            Ok(Ok(Err(_))) => Err(AppError::bad_request("unreadable_body", UNREADABLE)),
            Ok(Ok(Ok(body))) => Ok(body),
        }
    }
}

/// The media type of the body, lower-case, without parameters.
fn essence(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn is_json(req: &HttpRequest) -> bool {
    essence(req).is_some_and(|essence| {
        essence == "application/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"))
    })
}

/// For PATCH bodies: `Some(None)` for an explicit `null` (clear the field), `None` for an absent
/// field (keep it). Use with `#[serde(default, deserialize_with = "explicit_null")]`.
pub fn explicit_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// A query string: 422 naming the parameter when one is unknown or of the wrong type.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(ApiQuery))
    }
}
