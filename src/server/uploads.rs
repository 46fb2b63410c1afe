//! Blob uploads: end-4a/4b/4c/11 (POST), end-5 (PATCH), end-6 (PUT), end-13 (GET status),
//! end-14 (DELETE cancel).
//!
//! Bytes stream straight to storage in 1 MiB buffers, hashed as they pass; while the next
//! buffer fills, the previous one is hashed and written on two other threads. A chunk that is refused (out of order) is refused
//! before its body is read; a chunk that fails half-way (client gone, wrong length) is
//! truncated away, so an upload only ever holds accepted bytes.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Extensions, HeaderMap, HeaderName, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;

use super::defects::Check;
use super::error::{AppError, Result};
use super::request::{Query, parse_digest};
use super::{App, new_upload_id};
use crate::oci::{Algorithm, Digest, DigestError, ErrorCode, Hasher};

const BUFFER: usize = 1024 * 1024;

fn location(repo: &str, id: &str) -> String {
    format!("/v2/{repo}/blobs/uploads/{id}")
}

/// `Range` value for an upload holding `size` bytes: `0-<last byte>` (`0-0` when empty, as
/// registries have always answered).
fn range_value(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn progress(status: StatusCode, repo: &str, id: &str, size: u64) -> Result<Response> {
    Response::builder()
        .status(status)
        .header(header::LOCATION, location(repo, id))
        .header(header::RANGE, range_value(size))
        .header("docker-upload-uuid", id)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .map_err(AppError::internal)
}

fn created(repo: &str, digest: &Digest) -> Result<Response> {
    Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{repo}/blobs/{digest}"))
        .header("docker-content-digest", digest.to_string())
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .map_err(AppError::internal)
}

fn upload_unknown(id: &str) -> AppError {
    AppError::code(StatusCode::NOT_FOUND, ErrorCode::BlobUploadUnknown)
        .detail(serde_json::json!({ "upload": id }))
}

/// A `digest` query parameter; absent or unusable → 400 `DIGEST_INVALID`.
fn digest_param(query: &Query) -> Result<Digest> {
    match query.get("digest") {
        None => Err(AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::DigestInvalid,
            "the digest query parameter is required",
        )),
        Some(d) => parse_digest(d),
    }
}

/// Streams `body` to the end of upload `id`, feeding `hasher`; returns the bytes written.
///
/// A three-stage pipeline: this task receives into a 1 MiB buffer while the previous buffer
/// is hashed on one blocking thread and written on another, so receiving, hashing and
/// writing overlap instead of adding up. Buffers are recycled: after warm-up no memory is
/// allocated per byte.
async fn append_body(app: &App, id: &str, body: Body, hasher: &mut Option<Hasher>) -> Result<u64> {
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::with_capacity(BUFFER);
    let mut spare: Option<Vec<u8>> = None;
    let mut stage: Option<Stage> = None;
    let mut written = 0u64;
    let mut failure = None;
    loop {
        let done = match stream.next().await {
            Some(Ok(bytes)) => {
                buf.extend_from_slice(&bytes);
                if buf.len() < BUFFER {
                    continue;
                }
                false
            }
            Some(Err(e)) => {
                failure = Some(AppError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BlobUploadInvalid,
                    format!("request body ended early: {e}"),
                ));
                true
            }
            None => true,
        };
        if failure.is_none() && !buf.is_empty() {
            if let Some(prev) = stage.take() {
                spare = Some(prev.finish(hasher).await?);
            }
            let mut next = spare.take().unwrap_or_else(|| Vec::with_capacity(BUFFER));
            next.clear();
            let data = std::sync::Arc::new(std::mem::replace(&mut buf, next));
            written += data.len() as u64;
            stage = Some(Stage::start(app, id, data, hasher.take()));
        }
        if done {
            break;
        }
    }
    if let Some(prev) = stage.take() {
        prev.finish(hasher).await?;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(written),
    }
}

/// One buffer on its way: hashed on one blocking thread, appended on another.
struct Stage {
    data: std::sync::Arc<Vec<u8>>,
    hash: tokio::task::JoinHandle<Option<Hasher>>,
    write: tokio::task::JoinHandle<std::io::Result<u64>>,
}

impl Stage {
    fn start(app: &App, id: &str, data: std::sync::Arc<Vec<u8>>, hasher: Option<Hasher>) -> Stage {
        let d = data.clone();
        let hash = tokio::task::spawn_blocking(move || {
            hasher.map(|mut h| {
                h.update(&d);
                h
            })
        });
        let (d, storage, id) = (data.clone(), app.storage.clone(), id.to_string());
        let write = tokio::task::spawn_blocking(move || storage.upload_append(&id, &d));
        Stage { data, hash, write }
    }

    /// Waits for both halves; gives the hasher back and the buffer for reuse.
    async fn finish(self, hasher: &mut Option<Hasher>) -> Result<Vec<u8>> {
        *hasher = self.hash.await.map_err(AppError::internal)?;
        self.write.await.map_err(AppError::internal)??;
        Ok(std::sync::Arc::try_unwrap(self.data).unwrap_or_default())
    }
}

/// Why a chunk's `Content-Range` is refused.
#[derive(Debug, PartialEq, Eq)]
enum RangeError {
    /// Not `<start>-<end>` with `start <= end`, or a `/<total>` the range does not fit in
    /// (RFC 9110 §14.4 calls such a value invalid).
    Malformed,
    /// Well-formed but covering more bytes than a length can hold.
    TooLarge,
}

/// A `Content-Range` of a chunk: `<start>-<end>`, inclusive (`bytes=`/`bytes ` prefixes and
/// a `/total` suffix are tolerated); returns the start and the length.
fn parse_content_range(h: &str) -> std::result::Result<(u64, u64), RangeError> {
    let s = h.trim();
    let s = s
        .strip_prefix("bytes=")
        .or_else(|| s.strip_prefix("bytes "))
        .unwrap_or(s);
    let (range, total) = match s.split_once('/') {
        Some((r, t)) => (r, Some(t.trim())),
        None => (s, None),
    };
    let (a, b) = range.split_once('-').ok_or(RangeError::Malformed)?;
    let num = |x: &str| x.trim().parse::<u64>().map_err(|_| RangeError::Malformed);
    let (start, end) = (num(a)?, num(b)?);
    if end < start {
        return Err(RangeError::Malformed);
    }
    if let Some(t) = total
        && t != "*"
        && num(t)? <= end
    {
        return Err(RangeError::Malformed);
    }
    let len = (end - start).checked_add(1).ok_or(RangeError::TooLarge)?;
    Ok((start, len))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Checks a chunk's `Content-Range` against the upload's size: out of order → 416 with the
/// current progress, malformed → 400. Returns the number of bytes the chunk must carry.
fn check_chunk(
    headers: &HeaderMap,
    repo: &str,
    id: &str,
    size: u64,
    in_order: bool,
) -> Result<Option<u64>> {
    let Some(raw) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let not_satisfiable = |why: String| {
        AppError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorCode::BlobUploadInvalid,
            why,
        )
        .header(header::LOCATION, location(repo, id))
        .header(header::RANGE, range_value(size))
        .header(HeaderName::from_static("docker-upload-uuid"), id)
    };
    let (start, len) = match raw.to_str().map(parse_content_range) {
        Ok(Ok(v)) => v,
        Ok(Err(RangeError::TooLarge)) => {
            return Err(not_satisfiable(
                "Content-Range covers more bytes than an upload can hold".into(),
            ));
        }
        _ => {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BlobUploadInvalid,
                "malformed Content-Range",
            ));
        }
    };
    if start != size && in_order {
        return Err(not_satisfiable(format!(
            "chunk starts at {start}, the upload holds {size} bytes"
        )));
    }
    if size.checked_add(len).is_none() {
        return Err(not_satisfiable(
            "the chunk would take the upload past the largest size".into(),
        ));
    }
    if let Some(cl) = content_length(headers)
        && cl != len
    {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::SizeInvalid,
            format!("Content-Range covers {len} bytes, Content-Length says {cl}"),
        ));
    }
    Ok(Some(len))
}

/// Looks up an upload of `repo`; a session of another repository is unknown here (and left
/// as it is: a request through the wrong path must not touch the real session's state).
async fn lookup(app: &App, repo: &str, id: &str) -> Result<crate::server::storage::UploadInfo> {
    let i = id.to_string();
    match app.blocking(move |s| s.upload_info(&i)).await? {
        Some(info) if info.repo == repo || !app.config.checks(Check::UploadRepository) => Ok(info),
        Some(_) => Err(upload_unknown(id)),
        None => {
            app.drop_session(id);
            Err(upload_unknown(id))
        }
    }
}

fn algorithm_param(query: &Query) -> Result<Algorithm> {
    match query.get("digest-algorithm") {
        None => Ok(Algorithm::Sha256),
        Some(a) => Algorithm::from_name(a).ok_or_else(|| {
            AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::DigestInvalid,
                DigestError::Unsupported(a.to_string()).to_string(),
            )
        }),
    }
}

/// POST: mount (end-11), single-POST push (end-4b), or a new session (end-4a/4c).
pub async fn start(app: &App, repo: &str, query: &Query, req: Request) -> Result<Response> {
    if let (Some(mount), Some(from)) = (query.get("mount"), query.get("from")) {
        // A mount that cannot be done falls back to a plain session, as the spec allows;
        // so does one from a repository the client may not pull, which answers exactly as an
        // unknown blob does (no way to learn what another repository holds).
        if let Ok(digest) = mount.parse::<Digest>()
            && crate::oci::name::valid_name(from)
            && app
                .auth
                .as_ref()
                .is_none_or(|a| a.may_pull(req.extensions(), from))
        {
            let (r, f, d) = (repo.to_string(), from.to_string(), digest.clone());
            let mounted = app
                .blocking(move |s| Ok(s.blob_size(&f, &d)?.is_some() && s.blob_link(&r, &d)?))
                .await?;
            if mounted {
                return created(repo, &digest);
            }
        }
    }
    if query.get("digest").is_some() {
        let digest = digest_param(query)?;
        return monolithic(app, repo, digest, req.into_body()).await;
    }
    let algorithm = algorithm_param(query)?;
    let id = new_upload_id();
    let owner = req
        .extensions()
        .get::<super::conn::Peer>()
        .map(|p| p.0.ip());
    let slot = app.open_session(&id, owner).map_err(|e| {
        AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyRequests,
            e.to_string(),
        )
        .header(header::RETRY_AFTER, "60")
    })?;
    let (r, i) = (repo.to_string(), id.clone());
    if let Err(e) = app
        .blocking(move |s| s.upload_create(&i, &r, algorithm))
        .await
    {
        app.drop_session(&id);
        return Err(e);
    }
    slot.session.lock().await.hasher = Some(algorithm.hasher());
    progress(StatusCode::ACCEPTED, repo, &id, 0)
}

/// Single-POST push: the whole blob in the POST body.
async fn monolithic(app: &App, repo: &str, digest: Digest, body: Body) -> Result<Response> {
    let id = new_upload_id();
    let (r, i) = (repo.to_string(), id.clone());
    let algorithm = digest.algorithm();
    app.blocking(move |s| s.upload_create(&i, &r, algorithm))
        .await?;
    let mut hasher = Some(algorithm.hasher());
    let outcome = match append_body(app, &id, body, &mut hasher).await {
        Ok(_) => {
            let actual = hasher.take().expect("hasher set above").finish();
            if actual == digest {
                let (i, d) = (id.clone(), digest.clone());
                app.blocking(move |s| s.upload_commit(&i, &d)).await
            } else {
                Err(digest_mismatch(&digest, &actual))
            }
        }
        Err(e) => Err(e),
    };
    if outcome.is_err() {
        let i = id.clone();
        app.blocking(move |s| s.upload_delete(&i)).await?;
    }
    outcome?;
    created(repo, &digest)
}

fn digest_mismatch(expected: &Digest, actual: &Digest) -> AppError {
    AppError::code(StatusCode::BAD_REQUEST, ErrorCode::DigestInvalid).detail(serde_json::json!({
        "expected": expected.to_string(),
        "actual": actual.to_string(),
    }))
}

/// PATCH: one chunk (with `Content-Range`) or a stream (without).
pub async fn chunk(app: &App, repo: &str, id: &str, req: Request) -> Result<Response> {
    let slot = app.session(id);
    let mut session = app.lock_session(&slot, req.extensions()).await?;
    let checked = lookup(app, repo, id).await.and_then(|info| {
        let in_order = app.config.checks(Check::ChunkOrder);
        let expected = check_chunk(req.headers(), repo, id, info.size, in_order)?;
        Ok((info, expected))
    });
    let (info, expected) = match checked {
        Ok(v) => v,
        Err(e) => {
            // refused before reading: nothing is appended
            super::drain(req.into_body(), super::DRAIN_LIMIT).await;
            return Err(e);
        }
    };
    let saved = session.hasher.clone();
    // status requests answered while this chunk arrives report what was accepted before it
    slot.accepted.store(info.size, Ordering::Release);
    let result = append_body(app, id, req.into_body(), &mut session.hasher)
        .await
        .and_then(|n| check_len(expected, n));
    match result {
        Ok(n) => {
            slot.accepted.store(info.size + n, Ordering::Release);
            progress(StatusCode::ACCEPTED, repo, id, info.size + n)
        }
        Err(e) => {
            rollback(app, id, info.size).await?;
            session.hasher = saved;
            Err(e)
        }
    }
}

/// A chunk announced by `Content-Range` must carry exactly that many bytes.
fn check_len(expected: Option<u64>, n: u64) -> Result<u64> {
    match expected {
        Some(len) if len != n => Err(AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::SizeInvalid,
            format!("Content-Range announced {len} bytes, the body had {n}"),
        )),
        _ => Ok(n),
    }
}

async fn rollback(app: &App, id: &str, size: u64) -> Result<()> {
    let i = id.to_string();
    app.blocking(move |s| s.upload_truncate(&i, size)).await
}

/// PUT: optional last chunk, then verify the digest and commit.
pub async fn close(
    app: &App,
    repo: &str,
    id: &str,
    query: &Query,
    req: Request,
) -> Result<Response> {
    let slot = app.session(id);
    let mut session = app.lock_session(&slot, req.extensions()).await?;
    slot.accepted.store(0, Ordering::Release);
    let checked = lookup(app, repo, id).await.and_then(|info| {
        slot.accepted.store(info.size, Ordering::Release);
        let digest = digest_param(query)?;
        let in_order = app.config.checks(Check::FinalChunkOrder);
        let expected = check_chunk(req.headers(), repo, id, info.size, in_order)?;
        Ok((info, digest, expected))
    });
    let (info, digest, expected) = match checked {
        Ok(v) => v,
        Err(e) => {
            super::drain(req.into_body(), super::DRAIN_LIMIT).await;
            return Err(e);
        }
    };
    let saved = session.hasher.clone();
    let appended = append_body(app, id, req.into_body(), &mut session.hasher)
        .await
        .and_then(|n| check_len(expected, n));
    if let Err(e) = appended {
        rollback(app, id, info.size).await?;
        session.hasher = saved;
        return Err(e);
    }
    // Use the running hash when it covers the whole upload with the right algorithm;
    // otherwise (restart, other algorithm) read the upload back.
    let actual = match session.hasher.clone() {
        Some(h) if h.algorithm() == digest.algorithm() => h.finish(),
        _ => {
            let (i, alg) = (id.to_string(), digest.algorithm());
            app.blocking(move |s| {
                let mut r = s.upload_read(&i)?;
                let mut h = alg.hasher();
                let mut buf = vec![0u8; BUFFER];
                loop {
                    let n = r.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                Ok(h.finish())
            })
            .await?
        }
    };
    if actual != digest && app.config.checks(Check::UploadDigest) {
        // Nothing is committed and the last chunk is taken back: the session is as before.
        rollback(app, id, info.size).await?;
        session.hasher = saved;
        return Err(digest_mismatch(&digest, &actual));
    }
    let (i, d) = (id.to_string(), digest.clone());
    app.blocking(move |s| s.upload_commit(&i, &d)).await?;
    drop(session);
    app.drop_session(id);
    created(repo, &digest)
}

/// GET status. While a chunk is being received (the session is locked), only the bytes
/// accepted before it count: the chunk may still be refused and rolled back.
pub async fn status(app: &App, repo: &str, id: &str) -> Result<Response> {
    let slot = app.session(id);
    let size = match slot.session.try_lock() {
        Ok(_session) => lookup(app, repo, id).await?.size,
        Err(_) => {
            lookup(app, repo, id).await?;
            slot.accepted.load(Ordering::Acquire)
        }
    };
    progress(StatusCode::NO_CONTENT, repo, id, size)
}

/// DELETE: waits for a request using the session (a chunk, the closing PUT) to finish, so the
/// two never act on a half-removed upload; the wait is bounded as every session lock's is.
pub async fn cancel(app: &App, repo: &str, id: &str, request: &Extensions) -> Result<Response> {
    let slot = app.session(id);
    let _session = app.lock_session(&slot, request).await?;
    lookup(app, repo, id).await?;
    let i = id.to_string();
    app.blocking(move |s| s.upload_delete(&i)).await?;
    app.drop_session(id);
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .map_err(AppError::internal)
}

use std::io::Read as _;
use std::sync::atomic::Ordering;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        use RangeError::*;
        assert_eq!(parse_content_range("0-9"), Ok((0, 10)));
        assert_eq!(parse_content_range("bytes=10-19"), Ok((10, 10)));
        assert_eq!(parse_content_range("bytes 10-19/100"), Ok((10, 10)));
        assert_eq!(parse_content_range("bytes 10-19/*"), Ok((10, 10)));
        assert_eq!(parse_content_range("9-0"), Err(Malformed));
        assert_eq!(parse_content_range("x-1"), Err(Malformed));
        assert_eq!(parse_content_range(""), Err(Malformed));
        // the total must exceed the last position (RFC 9110 §14.4)
        assert_eq!(parse_content_range("0-3/2"), Err(Malformed));
        assert_eq!(parse_content_range("0-3/4"), Ok((0, 4)));
        // the length of 0-(2^64-1) does not fit in 64 bits
        assert_eq!(parse_content_range("0-18446744073709551615"), Err(TooLarge));
        assert_eq!(
            parse_content_range("1-18446744073709551615"),
            Ok((1, u64::MAX))
        );
    }
}
