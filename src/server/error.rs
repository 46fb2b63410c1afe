//! One error type for every handler; it renders the spec's JSON envelope.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::oci::ErrorCode;

/// Boxed so that `Result<_, AppError>` stays small on the happy path.
#[derive(Debug)]
pub struct AppError(Box<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub status: StatusCode,
    /// `(code, message, detail)`; empty for errors that carry no envelope (5xx).
    pub errors: Vec<(ErrorCode, String, Value)>,
    pub headers: HeaderMap,
}

impl std::ops::Deref for AppError {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::DerefMut for AppError {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.0
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError(Box::new(Inner {
            status,
            errors: vec![(code, message.into(), Value::Null)],
            headers: HeaderMap::new(),
        }))
    }

    /// The common case: the code's own message and no detail.
    pub fn code(status: StatusCode, code: ErrorCode) -> AppError {
        AppError::new(status, code, code.message())
    }

    pub fn detail(mut self, detail: Value) -> AppError {
        if let Some(e) = self.errors.last_mut() {
            e.2 = detail;
        }
        self
    }

    pub fn also(mut self, code: ErrorCode, message: impl Into<String>, detail: Value) -> AppError {
        self.errors.push((code, message.into(), detail));
        self
    }

    pub fn header(mut self, name: HeaderName, value: impl AsRef<str>) -> AppError {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.append(name, v);
        }
        self
    }

    pub fn internal(err: impl std::fmt::Display) -> AppError {
        tracing::error!(error = %err, "internal error");
        AppError::bare(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// A status with no envelope (e.g. 416 on a blob GET, where the spec defines no code).
    pub fn bare(status: StatusCode) -> AppError {
        AppError(Box::new(Inner {
            status,
            errors: vec![],
            headers: HeaderMap::new(),
        }))
    }

    pub fn body(&self) -> Value {
        serde_json::json!({
            "errors": self.errors.iter().map(|(c, m, d)| serde_json::json!({
                "code": c.as_str(), "message": m, "detail": d,
            })).collect::<Vec<_>>()
        })
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> AppError {
        if e.kind() == std::io::ErrorKind::StorageFull {
            // not the client's fault, nor a bug: the registry is full (507, RFC 4918)
            return AppError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorCode::Denied,
                e.to_string(),
            );
        }
        AppError::internal(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut res = if self.errors.is_empty() && self.status.is_server_error() {
            (self.status, "internal server error\n").into_response()
        } else if self.errors.is_empty() {
            self.status.into_response()
        } else {
            let body = self.body().to_string();
            (
                self.status,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        };
        res.headers_mut().extend(self.0.headers);
        res
    }
}
