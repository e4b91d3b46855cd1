//! The one error type of the service and its RFC 9457 `application/problem+json` form.
//!
//! Every handler returns `Result<_, AppError>`. The client gets a stable `code`, a title, and for
//! validation the fields at fault; causes of 5xx answers are logged (with the request id, from
//! the request span) and never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::messages::{self, Lang};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field that failed validation: where (`field`, a dotted path), what rule (`code`) and
/// a sentence for people, in the language of the request ([`crate::messages`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    /// The English sentence, as the site that found the error wrote it.
    pub message: String,
    /// Values the catalogue's sentence for `code` names (`{max}`, `{expected}`, …).
    pub params: Vec<(&'static str, String)>,
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
            params: Vec::new(),
        }
    }

    /// The same error with a value its catalogue sentence names.
    pub fn with_param(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    /// The same error reported under another field name.
    pub fn renamed(self, field: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            ..self
        }
    }

    /// The sentence in `lang`: the site's own in English, the catalogue's for the code in
    /// Chinese. A code without a catalogue entry is a bug a test finds (debug builds panic);
    /// a release build falls back to the site's sentence.
    pub fn message_in(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.message.clone(),
            Lang::Zh => {
                messages::field_message(&self.code, &self.params, lang).unwrap_or_else(|| {
                    debug_assert!(
                        false,
                        "field error code {:?} has no catalogue entry",
                        self.code
                    );
                    self.message.clone()
                })
            }
        }
    }
}

impl Serialize for FieldError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("FieldError", 3)?;
        out.serialize_field("field", &self.field)?;
        out.serialize_field("code", &self.code)?;
        out.serialize_field("message", &self.message_in(messages::current()))?;
        out.end()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request: {detail}")]
    BadRequest {
        code: &'static str,
        detail: String,
        /// The detail in Chinese, where the site that found the fault wrote one (what a file
        /// refused as a whole names: a column, a line); otherwise the catalogue's sentence.
        detail_zh: Option<String>,
    },
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
            detail_zh: None,
        }
    }

    /// A 400 whose detail is written in both languages.
    pub fn bad_request_in(
        code: &'static str,
        en: impl Into<String>,
        zh: impl Into<String>,
    ) -> Self {
        AppError::BadRequest {
            code,
            detail: en.into(),
            detail_zh: Some(zh.into()),
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

    fn title(&self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            AppError::BadRequest { .. } => ("请求格式有误", "The request is malformed"),
            AppError::Unauthorized { .. } => ("需要登录", "Authentication is required"),
            AppError::Forbidden { .. } => (
                "您的账户无权执行此操作",
                "This action is not allowed for your account",
            ),
            AppError::NotFound => ("未找到", "Not found"),
            AppError::MethodNotAllowed { .. } => (
                "该资源不支持此请求方法",
                "Method not allowed on this resource",
            ),
            AppError::Conflict { .. } => (
                "请求与当前状态冲突",
                "The request conflicts with the current state",
            ),
            AppError::PreconditionFailed => (
                "资源在您读取后已被修改",
                "The resource has changed since you read it",
            ),
            AppError::PreconditionRequired => (
                "此修改需要 If-Match 请求头",
                "This update requires an If-Match header",
            ),
            AppError::PayloadTooLarge { .. } => ("请求体过大", "The request body is too large"),
            AppError::RequestTimeout { .. } => (
                "请求体未能及时送达",
                "The request body did not arrive in time",
            ),
            AppError::UnsupportedMediaType { .. } => {
                ("不支持的内容类型", "Unsupported content type")
            }
            AppError::Validation(_) => ("部分字段有误", "Some fields are invalid"),
            AppError::TooManyRequests { .. } => ("请求过于频繁", "Too many requests"),
            AppError::Unavailable { .. } => {
                ("服务暂时不可用", "The service is temporarily unavailable")
            }
            AppError::Internal(_) => ("服务器内部错误", "Internal server error"),
        };
        lang.pick(zh, en)
    }

    /// What went wrong in this case: the site's sentence in English; in Chinese the
    /// catalogue's sentence for the code, or one built from the values of the variant.
    fn detail(&self, lang: Lang) -> Option<String> {
        let catalogued = || {
            let text = messages::problem_text(self.code());
            debug_assert!(
                text.is_some(),
                "problem code {:?} has no catalogue entry",
                self.code()
            );
            text.map(|text| text.get(lang).to_owned())
        };
        match (self, lang) {
            (
                AppError::BadRequest { detail, .. }
                | AppError::Unauthorized { detail, .. }
                | AppError::Forbidden { detail }
                | AppError::Conflict { detail, .. },
                Lang::En,
            ) => Some(detail.clone()),
            (
                AppError::BadRequest {
                    detail_zh: Some(detail),
                    ..
                },
                Lang::Zh,
            ) => Some(detail.clone()),
            (
                AppError::Conflict {
                    extra: Some(extra), ..
                },
                Lang::Zh,
            ) if messages::problem_detail(self.code(), extra, lang).is_some() => {
                messages::problem_detail(self.code(), extra, lang)
            }
            (
                AppError::BadRequest { detail, .. }
                | AppError::Unauthorized { detail, .. }
                | AppError::Forbidden { detail }
                | AppError::Conflict { detail, .. },
                Lang::Zh,
            ) => catalogued().or_else(|| Some(detail.clone())),
            (AppError::PayloadTooLarge { limit }, _) => Some(match lang {
                Lang::Zh => format!("请求体最多 {limit} 字节"),
                Lang::En => format!("the body may hold at most {limit} bytes"),
            }),
            (AppError::UnsupportedMediaType { expected }, _) => Some(match lang {
                Lang::Zh => format!("请以 {expected} 发送请求体"),
                Lang::En => format!("send the body as {expected}"),
            }),
            (AppError::RequestTimeout { within }, _) => Some(match lang {
                Lang::Zh => format!("整个请求体须在 {} 秒内送达", within.as_secs_f64()),
                Lang::En => format!(
                    "the whole body must arrive within {} seconds",
                    within.as_secs_f64()
                ),
            }),
            (AppError::MethodNotAllowed { allow }, _) => Some(format!(
                "{}{}",
                lang.pick("允许的方法：", "allowed methods: "),
                allow.join(", ")
            )),
            (AppError::PreconditionFailed | AppError::Unavailable { .. }, _) => catalogued(),
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
        let lang = messages::current();
        let mut body = serde_json::to_value(Problem {
            kind: format!("urn:fenghua-registry:problem:{code}"),
            title: self.title(lang),
            status: status.as_u16(),
            code,
            detail: self.detail(lang),
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
