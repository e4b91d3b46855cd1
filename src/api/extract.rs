//! Request extractors whose failures are problems naming what is wrong.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{AppError, FieldError};

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
            Some(crate::reports::XLSX_TYPE) => Some(SheetFormat::Xlsx),
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
            .map_err(|e| AppError::bad_request("unreadable_body", e.to_string()))?;
        let read = actix_web::rt::time::timeout(within, payload.to_bytes_limited(limit));
        match read.await {
            Err(_) => Err(AppError::RequestTimeout { within }),
            Ok(Err(_)) => Err(AppError::PayloadTooLarge { limit }),
            Ok(Ok(Err(e))) => Err(AppError::bad_request("unreadable_body", e.to_string())),
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

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = if path == "." { String::new() } else { path };
        let (field, code) = if let Some(rest) = message.strip_prefix("unknown field `") {
            (
                rest.split('`').next().unwrap_or_default().to_owned(),
                "unknown_parameter",
            )
        } else {
            (field, "invalid_value")
        };
        AppError::Validation(vec![FieldError::new(field, code, message)])
    })
}

/// Parses a JSON body into `T`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::bad_request(
            "malformed_json",
            "the request body is empty; send a JSON object",
        ));
    }
    let malformed = |e: serde_json::Error| {
        AppError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let Strict(value) = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                AppError::Validation(vec![field_error(&path, &inner)])
            }
            _ => malformed(inner),
        }
    })?;
    deserializer.end().map_err(malformed)?;
    parse_json_value(value)
}

/// A JSON value read as JSON Schema reads it: a number with a zero fraction (`1.0`, `4e2`) is
/// an integer (JSON Schema 2020-12 §6.1.1, which `openapi.yaml`'s `type: integer` means), so it
/// becomes one before the body is read into its type; and a key twice in one object is refused,
/// as reading straight into a struct refuses it, rather than the last one silently winning.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // Exactly representable whole numbers only: within ±2^53 every integer is.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if v.fract() == 0.0 && v.abs() <= EXACT {
            Ok(Value::from(v as i64))
        } else {
            Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d).map(|Strict(v)| v)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate field `{key}`"
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Reads a JSON value into `T`, naming the field at fault (for merged PATCH bodies).
pub fn parse_json_value<T: DeserializeOwned>(value: Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        AppError::Validation(vec![field_error(&path, &error.into_inner())])
    })
}

/// Applies a JSON merge patch (RFC 7396, top level) to `current`: a field sent replaces the
/// stored one, `null` clears it, and the result must read as a `T` again.
pub fn merge_patch<T: serde::Serialize + DeserializeOwned>(
    current: &T,
    changes: serde_json::Map<String, Value>,
) -> Result<T, AppError> {
    let mut merged = match serde_json::to_value(current) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    for (field, value) in changes {
        if value.is_null() {
            merged.remove(&field);
        } else {
            merged.insert(field, value);
        }
    }
    parse_json_value(Value::Object(merged))
}

/// Turns serde's message into a field error. A missing field is reported at the path of the
/// object that should hold it, so its own name is taken from the message.
fn field_error(path: &str, error: &serde_json::Error) -> FieldError {
    let message = error.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    let join = |name: String| {
        if path == "." || path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = named("missing field `") {
        return FieldError::new(join(name), "required", "this field is required");
    }
    let field = if path == "." {
        String::new()
    } else {
        path.to_owned()
    };
    if message.starts_with("unknown field `") {
        return FieldError::new(field, "unknown_field", "this field is not accepted here");
    }
    FieldError::new(field, "invalid_type", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        attempts: u32,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        day: u8,
    }

    fn validation(body: &str) -> FieldError {
        match parse_json::<Login>(body.as_bytes()) {
            Err(AppError::Validation(mut errors)) => errors.remove(0),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_missing_unknown_and_mistyped_fields() {
        let e = validation(r#"{"username":"a"}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("attempts", "required")
        );
        let e = validation(r#"{"username":"a","attempts":1,"extra":1}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("extra", "unknown_field")
        );
        let e = validation(r#"{"username":5,"attempts":1}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("username", "invalid_type")
        );
        let e = validation(r#"{"username":"a","attempts":1,"inner":{"day":"x"}}"#);
        assert_eq!(e.field, "inner.day");
        let e = validation(r#"{"username":"a","attempts":1,"inner":{}}"#);
        assert_eq!(e.field, "inner.day");
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        for body in [
            "{",
            "not json",
            "",
            "{\"username\":\"a\",\"attempts\":1} trailing",
        ] {
            match parse_json::<Login>(body.as_bytes()) {
                Err(AppError::BadRequest { code, .. }) => assert_eq!(code, "malformed_json"),
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn whole_numbers_written_with_a_fraction_are_integers() {
        // JSON Schema's `type: integer` admits 1.0; the spec's integers must read it.
        let login: Login =
            parse_json(br#"{"username":"a","attempts":3.0,"inner":{"day":4e1}}"#).unwrap();
        assert_eq!(login.attempts, 3);
        assert_eq!(login.inner.unwrap().day, 40);
        let e = validation(r#"{"username":"a","attempts":3.5}"#);
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("attempts", "invalid_type")
        );
        let e = validation(r#"{"username":"a","attempts":-1.0}"#);
        assert_eq!(e.field, "attempts");
    }

    #[test]
    fn a_field_twice_is_refused() {
        let e = validation(r#"{"username":"a","attempts":1,"attempts":2}"#);
        assert_eq!(e.code, "invalid_type");
        assert!(e.message.contains("duplicate field `attempts`"), "{e:?}");
        let e = validation(r#"{"username":"a","attempts":1,"inner":{"day":1,"day":2}}"#);
        assert_eq!(e.field, "inner");
    }

    #[test]
    fn a_non_object_is_a_type_error() {
        match parse_json::<Login>(b"[1,2]") {
            Err(AppError::Validation(errors)) => assert_eq!(errors[0].code, "invalid_type"),
            other => panic!("{other:?}"),
        }
    }
}
