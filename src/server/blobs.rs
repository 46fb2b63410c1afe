//! end-2 (GET/HEAD a blob, with Range) and end-10 (DELETE a blob).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::App;
use super::error::{AppError, Result};
use super::request::{deletion_disabled, parse_digest};
use super::storage::BlobData;
use crate::oci::{ErrorCode, media};

/// What a `Range` header asks of a representation of `len` bytes (RFC 9110 §14).
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    Whole,
    Part { start: u64, end: u64 },
    Unsatisfiable,
}

pub fn parse_range(h: &str, len: u64) -> RangeRequest {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole; // unknown unit: ignore the header
    };
    if spec.contains(',') {
        return RangeRequest::Whole; // several ranges: serving the whole is allowed
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.is_empty(), num(a), num(b)) {
        (true, _, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Part {
                    start: len.saturating_sub(suffix),
                    end: len - 1,
                }
            }
        }
        (false, Some(start), end) if b.is_empty() || end.is_some() => {
            if start >= len {
                return RangeRequest::Unsatisfiable;
            }
            match end {
                Some(e) if e < start => RangeRequest::Whole,
                Some(e) => RangeRequest::Part {
                    start,
                    end: e.min(len - 1),
                },
                None => RangeRequest::Part {
                    start,
                    end: len - 1,
                },
            }
        }
        _ => RangeRequest::Whole,
    }
}

pub async fn get(
    app: &App,
    repo: &str,
    digest: &str,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response> {
    let digest = parse_digest(digest)?;
    let (r, d) = (repo.to_string(), digest.clone());
    let Some(data) = app.blocking(move |s| s.blob_open(&r, &d)).await? else {
        return Err(
            AppError::code(StatusCode::NOT_FOUND, ErrorCode::BlobUnknown)
                .detail(serde_json::json!({ "digest": digest.to_string() })),
        );
    };
    let len = data.size();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|h| parse_range(h, len))
        .unwrap_or(RangeRequest::Whole);
    let (status, start, count) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0, len),
        RangeRequest::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        RangeRequest::Unsatisfiable => {
            return Err(AppError::bare(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}")));
        }
    };
    let mut res = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, media::OCTET_STREAM)
        .header(header::CONTENT_LENGTH, count)
        .header("docker-content-digest", digest.to_string())
        .header(header::ETAG, format!("\"{digest}\""))
        .header(header::ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        res = res.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    let body = if head {
        Body::empty()
    } else {
        match data {
            BlobData::Bytes(b) => Body::from(b.slice(start as usize..(start + count) as usize)),
            BlobData::File { file, .. } => stream_file(file, start, count)?,
        }
    };
    res.body(body).map_err(AppError::internal)
}

/// Streams `count` bytes of `file` from `start`, one 4 MiB window of the file mapped at a
/// time: the bytes go from the page cache to the socket in one copy, and memory stays
/// constant whatever the blob's size. A window is mapped (on a blocking thread, briefly) only
/// when the client has taken the previous one, so a client that stops reading holds no
/// thread, only its connection (which the idle timeout closes).
fn stream_file(file: std::fs::File, start: u64, count: u64) -> Result<Body> {
    const WINDOW: u64 = 4 * 1024 * 1024;
    let file = std::sync::Arc::new(file);
    let end = start + count;
    let stream = futures_util::stream::unfold(start, move |offset| {
        let file = file.clone();
        async move {
            if offset >= end {
                return None;
            }
            let len = WINDOW.min(end - offset);
            let mapped = tokio::task::spawn_blocking(move || {
                // SAFETY: blob files are content-addressed and never written after they are
                // renamed into place (deletion only unlinks, and the open file keeps the
                // inode), so the mapped bytes cannot change or shrink under the mapping.
                unsafe {
                    memmap2::MmapOptions::new()
                        .offset(offset)
                        .len(len as usize)
                        .map(file.as_ref())
                }
            })
            .await;
            match mapped {
                Ok(Ok(map)) => Some((Ok(bytes::Bytes::from_owner(map)), offset + len)),
                // a failed read ends the body early: the client sees a short response
                Ok(Err(e)) => Some((Err(e), end)),
                Err(e) => Some((Err(std::io::Error::other(e)), end)),
            }
        }
    });
    Ok(Body::from_stream(stream))
}

pub async fn delete(app: &App, repo: &str, digest: &str) -> Result<Response> {
    if !app.config.delete_enabled {
        return Err(deletion_disabled());
    }
    let digest = parse_digest(digest)?;
    let (r, d) = (repo.to_string(), digest.clone());
    let unlinked = app.blocking(move |s| s.blob_unlink(&r, &d)).await?;
    if !unlinked {
        return Err(
            AppError::code(StatusCode::NOT_FOUND, ErrorCode::BlobUnknown)
                .detail(serde_json::json!({ "digest": digest.to_string() })),
        );
    }
    Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .map_err(AppError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range("bytes=0-9", 100), Part { start: 0, end: 9 });
        assert_eq!(parse_range("bytes=90-", 100), Part { start: 90, end: 99 });
        assert_eq!(parse_range("bytes=-10", 100), Part { start: 90, end: 99 });
        assert_eq!(parse_range("bytes=-200", 100), Part { start: 0, end: 99 });
        assert_eq!(
            parse_range("bytes=50-500", 100),
            Part { start: 50, end: 99 }
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 10), Whole);
        assert_eq!(parse_range("items=0-1", 10), Whole);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), Whole);
        assert_eq!(parse_range("bytes=x-1", 10), Whole);
    }
}
