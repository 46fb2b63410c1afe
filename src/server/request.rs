//! What handlers share about reading a request: its query, a digest from the path, and the
//! answer to a deletion the registry does not allow. Handlers import these from here and
//! never from one another or from the dispatcher.

use axum::http::StatusCode;

use super::error::{AppError, Result};
use crate::oci::{Digest, ErrorCode};

/// Decoded query parameters, in order, repeated keys kept.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Every parameter, in order.
    pub fn pairs(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a request `digest` path segment; malformed → 400 `DIGEST_INVALID`.
pub(crate) fn parse_digest(s: &str) -> Result<Digest> {
    s.parse::<Digest>().map_err(|e| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::DigestInvalid,
            e.to_string(),
        )
        .detail(serde_json::json!({ "digest": s }))
    })
}

/// The 405 a delete gets when deletion is disabled ("the registry MUST respond with either a
/// 400 Bad Request or a 405 Method Not Allowed").
pub(crate) fn deletion_disabled() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Unsupported,
        "deletion is disabled on this registry",
    )
}
