//! The one error type of the service and its RFC 9457 `application/problem+json` form.
//!
//! Every handler returns `Result<_, AppError>`. The client gets a stable `code`, a title, and for
//! validation the fields at fault; causes of 5xx answers are logged (with the request id, from
//! the request span) and never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field that failed validation: where (`field`, a dotted path), what rule (`code`) and
/// a sentence for people.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// The same error reported under another field name.
    pub fn renamed(self, field: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            ..self
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request: {detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("authentication required: {detail}")]
    Unauthorized { code: &'static str, detail: String },
    #[error("forbidden")]
    Forbidden { detail: String },
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<String> },
    #[error("conflict: {detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        /// Extra members merged into the problem body (for example the existing resource id).
        extra: Option<serde_json::Value>,
    },
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("precondition required")]
    PreconditionRequired,
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("the body did not arrive in time")]
    RequestTimeout { within: std::time::Duration },
    #[error("unsupported media type")]
    UnsupportedMediaType { expected: &'static str },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable: {cause}")]
    Unavailable { cause: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(cause: impl Into<String>) -> Self {
        AppError::Internal(cause.into())
    }

    /// A stored value this build cannot read as a code of `table.column`: a row written by
    /// hand or by a newer version. Answering with a default would show a wrong file, so the
    /// request fails with 500; the log names the cell and the value (at most 64 characters),
    /// the client gets no detail.
    pub fn unknown_code(table: &str, column: &str, value: &str) -> Self {
        let shown: String = value.chars().take(64).collect();
        AppError::Internal(format!("unknown code in {table}.{column}: {shown:?}"))
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Unauthorized {
            code,
            detail: detail.into(),
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        AppError::Forbidden {
            detail: detail.into(),
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn field(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }

    /// A failed pool checkout: the pool is exhausted or the database cannot be reached.
    pub fn from_pool(e: r2d2::Error) -> Self {
        AppError::Unavailable {
            cause: e.to_string(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } => code,
            AppError::Unauthorized { code, .. } => code,
            AppError::Forbidden { .. } => "forbidden",
            AppError::NotFound => "not_found",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::Conflict { code, .. } => code,
            AppError::PreconditionFailed => "precondition_failed",
            AppError::PreconditionRequired => "precondition_required",
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::RequestTimeout { .. } => "request_timeout",
            AppError::UnsupportedMediaType { .. } => "unsupported_media_type",
            AppError::Validation(_) => "validation_failed",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Unavailable { .. } => "service_unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::BadRequest { .. } => "The request is malformed",
            AppError::Unauthorized { .. } => "Authentication is required",
            AppError::Forbidden { .. } => "This action is not allowed for your account",
            AppError::NotFound => "Not found",
            AppError::MethodNotAllowed { .. } => "Method not allowed on this resource",
            AppError::Conflict { .. } => "The request conflicts with the current state",
            AppError::PreconditionFailed => "The resource has changed since you read it",
            AppError::PreconditionRequired => "This update requires an If-Match header",
            AppError::PayloadTooLarge { .. } => "The request body is too large",
            AppError::RequestTimeout { .. } => "The request body did not arrive in time",
            AppError::UnsupportedMediaType { .. } => "Unsupported content type",
            AppError::Validation(_) => "Some fields are invalid",
            AppError::TooManyRequests { .. } => "Too many requests",
            AppError::Unavailable { .. } => "The service is temporarily unavailable",
            AppError::Internal(_) => "Internal server error",
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            AppError::BadRequest { detail, .. }
            | AppError::Unauthorized { detail, .. }
            | AppError::Forbidden { detail }
            | AppError::Conflict { detail, .. } => Some(detail.clone()),
            AppError::PayloadTooLarge { limit } => {
                Some(format!("the body may hold at most {limit} bytes"))
            }
            AppError::UnsupportedMediaType { expected } => {
                Some(format!("send the body as {expected}"))
            }
            AppError::RequestTimeout { within } => Some(format!(
                "the whole body must arrive within {} seconds",
                within.as_secs_f64()
            )),
            AppError::MethodNotAllowed { allow } => {
                Some(format!("allowed methods: {}", allow.join(", ")))
            }
            AppError::PreconditionFailed => Some(
                "read the resource again and retry with its current ETag in If-Match".to_owned(),
            ),
            AppError::Unavailable { .. } => {
                Some("the database is busy or unreachable; retry shortly".to_owned())
            }
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            AppError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            AppError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Internal(cause) => tracing::error!(%cause, "request failed"),
            AppError::Unavailable { cause } => tracing::warn!(%cause, "answered 503"),
            _ => {}
        }
        let status = self.status_code();
        let code = self.code();
        let mut body = serde_json::to_value(Problem {
            kind: format!("urn:fenghua-registry:problem:{code}"),
            title: self.title(),
            status: status.as_u16(),
            code,
            detail: self.detail(),
            errors: match self {
                AppError::Validation(errors) => Some(errors),
                _ => None,
            },
        })
        .expect("a problem always serialises");
        if let (
            AppError::Conflict {
                extra: Some(extra), ..
            },
            Some(map),
        ) = (self, body.as_object_mut())
        {
            if let Some(extra) = extra.as_object() {
                map.extend(extra.clone());
            }
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            AppError::Unauthorized { .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            AppError::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.join(", ")));
            }
            AppError::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            AppError::Unavailable { .. } => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.body(body.to_string())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                AppError::Unavailable {
                    cause: info.message().to_owned(),
                }
            }
            // SQLite gives up on a lock after busy_timeout: the database is busy, not broken.
            Error::DatabaseError(_, ref info) if info.message().contains("database is locked") => {
                AppError::Unavailable {
                    cause: info.message().to_owned(),
                }
            }
            // PostgreSQL cancelled a statement at DB_STATEMENT_TIMEOUT_MS (SQLSTATE 57014,
            // which diesel does not expose; the service's connections use the server's
            // messages, English unless lc_messages says otherwise).
            Error::DatabaseError(_, ref info)
                if info
                    .message()
                    .contains("canceling statement due to statement timeout") =>
            {
                AppError::Unavailable {
                    cause: info.message().to_owned(),
                }
            }
            // SQLite interrupted a statement at DB_STATEMENT_TIMEOUT_MS (`db::bound_statements`).
            Error::DatabaseError(_, ref info) if info.message() == "interrupted" => {
                AppError::Unavailable {
                    cause: format!(
                        "statement interrupted at the time bound: {}",
                        info.message()
                    ),
                }
            }
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Reads a code stored in `table.column` with `parse`, or fails loudly
/// ([`AppError::unknown_code`]).
pub fn stored_code<T>(
    table: &str,
    column: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> AppResult<T> {
    parse(value).ok_or_else(|| AppError::unknown_code(table, column, value))
}

/// Reads a JSON list of codes stored in `table.column`; a list that does not parse, or holds a
/// code `parse` does not know, fails like [`stored_code`].
pub fn stored_codes<T>(
    table: &str,
    column: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> AppResult<Vec<T>> {
    let codes: Vec<String> =
        serde_json::from_str(value).map_err(|_| AppError::unknown_code(table, column, value))?;
    codes
        .iter()
        .map(|code| stored_code(table, column, code, &parse))
        .collect()
}
