//! Defects that act before the handler: a request refused, answered otherwise, or reshaped.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::json;

use super::{Defect, Seen};
use crate::oci::api::{Endpoint, Target};
use crate::oci::media::{self, ManifestKind};
use crate::oci::{Digest, ErrorCode, manifest};
use crate::server::App;
use crate::server::error::AppError;
use crate::server::request::Query;

/// The request to hand on, or the answer that replaces the handler's.
pub(super) async fn before(
    app: &App,
    defect: Defect,
    seen: &Seen<'_>,
    mut req: Request,
) -> Result<Request, Response> {
    use Defect as D;
    use Endpoint as E;
    let get = seen.method == axum::http::Method::GET;
    match (defect, seen.endpoint, seen.target) {
        (D::TagsIgnoreN | D::CatalogIgnoreN, Some(E::TagsList | E::Catalog), _) => {
            let tags = seen.endpoint == Some(E::TagsList);
            if tags == (defect == D::TagsIgnoreN) {
                set_query(&mut req, |k, _| k != "n");
            }
        }
        // a registry without the Content Discovery API: its router knows no such path
        (D::NoTagListing, Some(E::TagsList), _) => {
            return Err((
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "404 page not found\n",
            )
                .into_response());
        }
        // a registry that does not mount and refuses the request rather than open a session
        (D::Mount404, Some(E::UploadStart), _) if seen.query.contains("mount=") => {
            return Err(
                AppError::code(StatusCode::NOT_FOUND, ErrorCode::BlobUnknown).into_response(),
            );
        }
        (D::TagsNZeroAll, Some(E::TagsList), _) => set_query(&mut req, |k, v| (k, v) != ("n", "0")),
        (D::TagsNegativeNDrops, Some(E::TagsList), _)
            if Query::parse(req.uri().query())
                .get("n")
                .is_some_and(|n| n.starts_with('-')) =>
        {
            return Err(dropped());
        }
        (D::ManifestDeleteMethodUnknown, Some(E::ManifestDelete), _) => {
            let body = json!({ "errors": [{
                "code": "METHOD_UNKNOWN",
                "message": "manifest deletion is not allowed here",
                "detail": null,
            }] });
            return Err((
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::CONTENT_TYPE, media::JSON)],
                body.to_string(),
            )
                .into_response());
        }
        (
            D::TagsAnyCharacters,
            Some(E::ManifestPut),
            Some(Target::Manifest { name, reference }),
        ) if within_limit(app, req.headers())
            && matches!(
                crate::oci::name::Reference::parse(reference),
                Err(crate::oci::name::ReferenceError::Invalid(_))
            ) =>
        {
            let (parts, body) = match read_body(app, req).await {
                Ok(read) => read,
                Err(answer) => return Err(answer),
            };
            return Err(store_unvalidated(
                app,
                name,
                reference,
                &content_type(&parts.headers),
                body,
            )
            .await);
        }
        (D::ManifestTypeParams, Some(E::ManifestPut), Some(Target::Manifest { name, .. }))
            if within_limit(app, req.headers()) =>
        {
            let raw = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.contains(';'))
                .map(str::to_string);
            if let Some(raw) = raw {
                let (parts, body) = read_body(app, req).await?;
                app.pushed_types
                    .remember_type(name, &Digest::sha256(&body).to_string(), &raw);
                req = Request::from_parts(parts, Body::from(body));
            }
        }
        (D::TagsIgnoreLast, Some(E::TagsList), _) => set_query(&mut req, |k, _| k != "last"),
        (D::ShortTags, Some(_), Some(Target::Manifest { reference, .. }))
            if !reference.contains(':') && reference.len() > 64 =>
        {
            return Err(refuse(
                req,
                AppError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::ManifestInvalid,
                    "tag too long",
                ),
            )
            .await);
        }
        (D::Reference500, Some(_), Some(Target::Manifest { reference, .. }))
            if reference.contains(':') && reference.parse::<Digest>().is_err() =>
        {
            return Err(refuse(req, AppError::internal("malformed digest reference")).await);
        }
        (D::Sha512BlobsUnknown, Some(E::BlobGet), Some(Target::Blob { digest, .. }))
            if digest.starts_with("sha512:") =>
        {
            return Err(
                AppError::code(StatusCode::NOT_FOUND, ErrorCode::BlobUnknown).into_response(),
            );
        }
        (
            D::ManifestByDigest404,
            Some(E::ManifestGet),
            Some(Target::Manifest { reference, .. }),
        ) if get && reference.parse::<Digest>().is_ok() => {
            return Err(manifest_unknown(reference).into_response());
        }
        (D::IndexRefused | D::DockerTypesRefused, Some(E::ManifestPut), _) => {
            let ct = content_type(req.headers());
            let refused = match defect {
                D::IndexRefused => media::manifest_kind(&ct) == Some(ManifestKind::Index),
                _ => ct.contains("docker"),
            };
            if refused {
                let e = AppError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::ManifestInvalid,
                    format!("{ct} is not accepted"),
                );
                return Err(refuse(req, e).await);
            }
        }
        (
            D::ManifestUnvalidated
            | D::SubjectRequired
            | D::IndexChildUnknown404
            | D::IndexNeedsPlatform,
            Some(E::ManifestPut),
            Some(Target::Manifest { name, reference }),
        ) => {
            if !within_limit(app, req.headers()) {
                // the handler refuses what is too large, reading it first
                return Ok(req);
            }
            let (parts, body) = read_body(app, req).await?;
            let ct = content_type(&parts.headers);
            let parsed = manifest::parse(&body, Some(&ct));
            if defect == D::ManifestUnvalidated && parsed.is_err() {
                return Err(store_unvalidated(app, name, reference, &ct, body).await);
            }
            if defect == D::SubjectRequired
                && let Ok(m) = &parsed
                && let Some(subject) = &m.subject
            {
                let (r, d) = (name.to_string(), subject.digest.clone());
                let present = app
                    .blocking(move |s| {
                        Ok(s.manifest_get(&r, &d)?.is_some() || s.blob_size(&r, &d)?.is_some())
                    })
                    .await;
                if !matches!(present, Ok(true)) {
                    return Err(AppError::code(
                        StatusCode::BAD_REQUEST,
                        ErrorCode::ManifestBlobUnknown,
                    )
                    .detail(json!({ "digest": subject.digest.to_string() }))
                    .into_response());
                }
            }
            if let Ok(m) = &parsed
                && m.kind == ManifestKind::Index
                && let Some(refusal) = index_refusal(app, defect, name, m, &body).await
            {
                return Err(refusal);
            }
            req = Request::from_parts(parts, Body::from(body));
        }
        (D::NoUploadStatus, Some(E::UploadStatus), _)
        | (D::NoUploadCancel, Some(E::UploadCancel), _) => {
            return Err(AppError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::Unsupported,
                format!("{} is not allowed here", seen.method),
            )
            .into_response());
        }
        (
            D::UnknownUploadAccepted,
            Some(E::UploadStatus | E::UploadChunk | E::UploadClose | E::UploadCancel),
            Some(Target::Upload { name, id }),
        ) if id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') => {
            // the id is taken as it comes: the request opens the session it names (only ids
            // of UUID characters, so nothing else reaches storage paths); a failure to open it
            // leaves the handler's answer
            let (i, r) = (id.to_string(), name.to_string());
            let _ = app
                .blocking(move |s| {
                    if s.upload_info(&i)?.is_none() {
                        s.upload_create(&i, &r, crate::oci::Algorithm::Sha256)?;
                    }
                    Ok(())
                })
                .await;
        }
        (D::EmptyPatchRange, Some(E::UploadChunk), Some(Target::Upload { name, id }))
            if !has_body(req.headers()) && !req.headers().contains_key(header::CONTENT_RANGE) =>
        {
            // an empty chunk to an empty session: the last byte reported as at -1
            let i = id.to_string();
            let info = app.blocking(move |s| s.upload_info(&i)).await;
            if matches!(info, Ok(Some(ref u)) if u.size == 0 && u.repo == *name) {
                return Err((
                    StatusCode::ACCEPTED,
                    [
                        (header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}")),
                        (header::RANGE, "0--1".to_string()),
                        (header::CONTENT_LENGTH, "0".to_string()),
                    ],
                )
                    .into_response());
            }
        }
        // several artifactType values: the filter is dropped (the answer still says it was
        // applied, see answers.rs)
        (D::SeveralFiltersDropped, Some(E::Referrers), _)
            if Query::parse(req.uri().query()).all("artifactType").count() > 1 =>
        {
            set_query(&mut req, |k, _| k != "artifactType");
        }
        (D::ThreeTagsAtMost, Some(E::ManifestPut), _)
            if Query::parse(req.uri().query()).all("tag").count() > 3 =>
        {
            let e = AppError::new(
                StatusCode::URI_TOO_LONG,
                ErrorCode::Unsupported,
                "at most 3 tags per request",
            );
            return Err(refuse(req, e).await);
        }
        // a chunk minimum held against the final chunk too: a chunk past the first that is
        // shorter than 512 bytes is refused
        (D::ShortFinalChunkRefused, Some(E::UploadChunk), Some(Target::Upload { .. }))
            if req
                .headers()
                .get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| r.split_once('-'))
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?))
                })
                .is_some_and(|(start, end)| start > 0 && end < start + 511) =>
        {
            let e = AppError::code(StatusCode::BAD_REQUEST, ErrorCode::BlobUploadInvalid);
            return Err(refuse(req, e).await);
        }
        (D::MonolithicRefusedNoDelete, Some(E::UploadClose), Some(Target::Upload { .. }))
            if has_body(req.headers()) =>
        {
            let e = AppError::code(StatusCode::BAD_REQUEST, ErrorCode::BlobUploadInvalid);
            return Err(refuse(req, e).await);
        }
        (D::MonolithicRefusedNoDelete, Some(E::ManifestDelete | E::BlobDelete), _) => {
            return Err(crate::server::request::deletion_disabled().into_response());
        }
        (D::CloseNeedsBody, Some(E::UploadClose), Some(Target::Upload { name, id }))
            if !has_body(req.headers()) =>
        {
            // an unknown upload (or one of another repository) is still answered 404 by the
            // handler
            let i = id.to_string();
            let info = app.blocking(move |s| s.upload_info(&i)).await;
            if matches!(info, Ok(Some(ref u)) if u.repo == *name) {
                return Err(
                    AppError::code(StatusCode::BAD_REQUEST, ErrorCode::DigestInvalid)
                        .into_response(),
                );
            }
        }
        (D::EmptyBlobRefused, Some(E::UploadClose), Some(Target::Upload { id, .. }))
            if !has_body(req.headers()) =>
        {
            let i = id.to_string();
            let size = app.blocking(move |s| s.upload_info(&i)).await;
            if matches!(size, Ok(Some(ref u)) if u.size == 0) {
                return Err(
                    AppError::code(StatusCode::BAD_REQUEST, ErrorCode::SizeInvalid).into_response(),
                );
            }
        }
        (D::ReusedLocation, Some(E::UploadStart), Some(Target::Uploads { name })) => {
            let query = Query::parse(req.uri().query());
            if query.get("digest").is_none() && query.get("mount").is_none() {
                let r = name.to_string();
                let idle = app
                    .blocking(move |s| {
                        for id in s.uploads()? {
                            if s.upload_info(&id)?
                                .is_some_and(|i| i.repo == r && i.size == 0)
                            {
                                return Ok(Some(id));
                            }
                        }
                        Ok(None)
                    })
                    .await;
                if let Ok(Some(id)) = idle {
                    return Err((
                        StatusCode::ACCEPTED,
                        [
                            (header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}")),
                            (header::RANGE, "0-0".to_string()),
                            (
                                axum::http::HeaderName::from_static("docker-upload-uuid"),
                                id.clone(),
                            ),
                            (header::CONTENT_LENGTH, "0".to_string()),
                        ],
                    )
                        .into_response());
                }
            }
        }
        (D::ReferrersNoValidation, Some(E::Referrers), Some(Target::Referrers { digest, .. }))
            if digest.parse::<Digest>().is_err() =>
        {
            let empty =
                json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [] });
            return Err((
                StatusCode::OK,
                [(header::CONTENT_TYPE, media::OCI_INDEX)],
                empty.to_string(),
            )
                .into_response());
        }
        (D::Referrers404, Some(E::Referrers), Some(Target::Referrers { name, digest })) => {
            if let Ok(d) = digest.parse::<Digest>() {
                let r = name.to_string();
                let known = app.blocking(move |s| s.manifest_get(&r, &d)).await;
                if matches!(known, Ok(None)) {
                    return Err(manifest_unknown(digest).into_response());
                }
            }
        }
        (D::ReferrersCursorSkips, Some(E::Referrers), Some(Target::Referrers { name, digest })) => {
            // the cursor handed out is one referrer too far on: the next page starts one late
            let query = Query::parse(req.uri().query());
            if let (Some(last), Ok(subject)) = (query.get("last"), digest.parse::<Digest>()) {
                let (r, last) = (name.to_string(), last.to_string());
                let all = app
                    .blocking(move |s| s.referrers(&r, &subject))
                    .await
                    .unwrap_or_default();
                let mut digests: Vec<String> = all
                    .iter()
                    .filter_map(|d| d["digest"].as_str().map(String::from))
                    .collect();
                digests.sort();
                if let Some(next) = digests.into_iter().find(|d| *d > last) {
                    set_query(&mut req, |k, _| k != "last");
                    append_query(&mut req, "last", &next);
                }
            }
        }
        _ => {}
    }
    Ok(req)
}

/// The refusal of an index the defect makes: one naming a manifest the repository lacks
/// answered as an unknown manifest, or one with an entry without `platform`.
async fn index_refusal(
    app: &App,
    defect: Defect,
    repo: &str,
    m: &manifest::ParsedManifest,
    body: &[u8],
) -> Option<Response> {
    match defect {
        Defect::IndexChildUnknown404 => {
            let (r, children) = (repo.to_string(), m.children.clone());
            let missing = app
                .blocking(move |s| {
                    for c in children.iter().filter(|c| !c.external) {
                        if s.manifest_get(&r, &c.digest)?.is_none()
                            && s.blob_size(&r, &c.digest)?.is_none()
                        {
                            return Ok(Some(c.digest.to_string()));
                        }
                    }
                    Ok(None)
                })
                .await;
            match missing {
                Ok(Some(d)) => Some(manifest_unknown(&d).into_response()),
                _ => None,
            }
        }
        Defect::IndexNeedsPlatform => {
            let v: serde_json::Value = serde_json::from_slice(body).ok()?;
            let bare = v["manifests"]
                .as_array()?
                .iter()
                .any(|d| d.get("platform").is_none());
            bare.then(|| {
                AppError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::ManifestInvalid,
                    "every index entry needs a platform",
                )
                .into_response()
            })
        }
        _ => None,
    }
}

/// Whether the request announces a body the handler would take as a manifest (a length
/// within the limit): only such a body is read here, the handler refusing the others.
pub(super) fn within_limit(app: &App, headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n <= app.config.max_manifest_bytes)
}

/// The request's body, read within the manifest size limit (413 past it).
async fn read_body(
    app: &App,
    req: Request,
) -> Result<(axum::http::request::Parts, bytes::Bytes), Response> {
    let (parts, body) = req.into_parts();
    match http_body_util::Limited::new(body, app.config.max_manifest_bytes)
        .collect()
        .await
    {
        Ok(b) => Ok((parts, b.to_bytes())),
        Err(_) => Err(AppError::bare(StatusCode::PAYLOAD_TOO_LARGE).into_response()),
    }
}

/// An answer that never comes: its body fails before a byte of it is written, so the
/// server closes the connection with nothing sent (its head is still in the write buffer).
fn dropped() -> Response {
    let fail = futures_util::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::other("connection dropped on purpose"))
    });
    Body::from_stream(fail).into_response()
}

fn manifest_unknown(reference: &str) -> AppError {
    AppError::code(StatusCode::NOT_FOUND, ErrorCode::ManifestUnknown)
        .detail(json!({ "reference": reference }))
}

/// Answers `e` once the refused body is read, so the client gets to read the answer.
async fn refuse(req: Request, e: AppError) -> Response {
    crate::server::drain(req.into_body(), crate::server::DRAIN_LIMIT).await;
    e.into_response()
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| media::essence(v).to_string())
        .unwrap_or_default()
}

/// Whether a request announces a body (a length above 0, or chunked coding).
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// Keeps the query parameters `keep` accepts.
fn set_query(req: &mut Request, keep: impl Fn(&str, &str) -> bool) {
    let query = Query::parse(req.uri().query());
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.pairs().filter(|(k, v)| keep(k, v)))
        .finish();
    set_uri(req, q);
}

fn append_query(req: &mut Request, key: &str, value: &str) {
    let mut q = form_urlencoded::Serializer::new(req.uri().query().unwrap_or("").to_string());
    q.append_pair(key, value);
    let q = q.finish();
    set_uri(req, q);
}

fn set_uri(req: &mut Request, query: String) {
    let path = req.uri().path();
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    if let Ok(u) = uri.parse() {
        *req.uri_mut() = u;
    }
}

/// Stores whatever came as a manifest, under the hash of its bytes, and answers 201.
async fn store_unvalidated(
    app: &App,
    repo: &str,
    reference: &str,
    content_type: &str,
    body: bytes::Bytes,
) -> Response {
    let digest = Digest::sha256(&body);
    let tag = (!reference.contains(':')).then(|| reference.to_string());
    let (r, d, mt) = (repo.to_string(), digest.clone(), content_type.to_string());
    let stored = app
        .blocking(move |s| {
            s.manifest_put(&r, &d, &mt, &body)?;
            if let Some(t) = tag {
                s.tag_put(&r, &t, &d)?;
            }
            Ok(())
        })
        .await;
    match stored {
        Ok(()) => (
            StatusCode::CREATED,
            [
                (header::LOCATION, format!("/v2/{repo}/manifests/{digest}")),
                (
                    axum::http::HeaderName::from_static("docker-content-digest"),
                    digest.to_string(),
                ),
            ],
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
