//! Allowed variations (`serve --variation NAME`): behaviours the spec lets a registry choose,
//! each different from the reference's default. A registry showing any of them is still
//! conformant, so the scenarios must stay quiet on every one; running the suite against the
//! reference with a variation proves that they do.
//!
//! Request-level variations live in [`layer`], a middleware around the dispatcher; those that
//! change what storage answers live in the decorating storage (`decorated.rs`).

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use super::error::AppError;
use super::request::{Query, deletion_disabled};
use super::storage::BlobData;
use crate::oci::api::{self, Endpoint, Target};
use crate::oci::{Algorithm, Digest, ErrorCode};

macro_rules! variations {
    ($( $variant:ident = $name:literal, $section:literal: $summary:literal; )*) => {
        /// A behaviour the spec allows, different from the reference's default.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Variation { $($variant),* }

        /// Every variation: its name, the spec section whose words allow it, and what it does
        /// (in our words, with the sentence that allows it).
        pub const VARIATIONS: &[VariationInfo] = &[
            $(VariationInfo { variation: Variation::$variant, name: $name, section: $section, summary: $summary }),*
        ];
    };
}

/// One row of [`VARIATIONS`].
#[derive(Debug)]
pub struct VariationInfo {
    pub variation: Variation,
    /// The name `--variation` takes.
    pub name: &'static str,
    /// The anchor of the section that allows it: distribution-spec's, or for the catalog
    /// (which the OCI spec leaves out) Docker's Registry HTTP API V2 document's.
    pub section: &'static str,
    pub summary: &'static str,
}

variations! {
    TagsNoLink = "tags-no-link", "listing-tags":
        "tag pages hold exactly n tags and never carry a Link; `last` fetches the next page (a Link MAY be included when more tags remain, so it may also be left out)";
    CatalogTaggedOnly = "catalog-tagged-only", "listing-repositories":
        "the catalog lists only repositories holding a tag, not those made by blob pushes alone (Docker's API doc: the contents of the catalog are specific to the registry implementation)";
    AbsoluteLocation = "absolute-location", "pushing-a-blob-monolithically":
        "every Location is an absolute URL with scheme and host (the location MAY be absolute or relative)";
    NoMount = "no-mount", "mounting-a-blob-from-another-repository":
        "mounts are never done: a mount request opens an upload session, answered 202 (a registry that does not support mounting SHOULD return 202)";
    NoSinglePost = "no-single-post", "single-post":
        "a POST carrying a whole blob is not taken: its body is dropped and a session opened, answered 202 (registries MAY support single-POST; those that do not SHOULD answer 202 with a Location)";
    BlobDeleteDisabled = "blob-delete-disabled", "deleting-blobs":
        "blob deletion answers 405 UNSUPPORTED (if blob deletion is disabled, the registry MUST answer 400 or 405)";
    ManifestDeleteDisabled = "manifest-delete-disabled", "deleting-manifests":
        "manifest deletion by digest answers 405 UNSUPPORTED (if manifest deletion is disabled, the registry MUST answer 400 or 405)";
    TagDeleteDisabled = "tag-delete-disabled", "deleting-tags":
        "tag deletion answers 400 DIGEST_INVALID, as distribution does (if tag deletion is disabled, the registry MUST answer 400 or 405; no code is named)";
    NoReferrers = "no-referrers", "listing-referrers":
        "no referrers API: its endpoint answers 404 and manifest PUTs carry no OCI-Subject (clients MUST fall back to the tag schema on a 404)";
    ManifestAsBlob = "manifest-as-blob", "pulling-blobs":
        "a manifest is also served at the blob endpoint of its repository (content is addressed by digest; nothing forbids it)";
    ChunkMinimum = "chunk-minimum", "pushing-a-blob-in-chunks":
        "uploads announce OCI-Chunk-Min-Length: 65536 and refuse, 400 BLOB_UPLOAD_INVALID, a chunk that follows a shorter one (each chunk but the final one SHOULD be at least that long)";
    OtherNotFoundCode = "other-not-found-code", "error-codes":
        "every 404 error names NAME_UNKNOWN (where the spec fixes only the 404, any code of the table is valid)";
    DeletionDisabled400 = "deletion-disabled-400", "deleting-blobs":
        "every DELETE of a blob, a manifest or a tag answers 400 DENIED (if deletion is disabled, the registry MUST answer 400 or 405; no code is named)";
    DigestMismatchRefusals = "digest-mismatch-refusals", "pushing-blobs":
        "an upload closed under a digest its content does not hash to is refused 400 BLOB_UPLOAD_INVALID, a manifest pushed to such a digest 404 MANIFEST_UNKNOWN (the client's digest MUST match; no registry sentence fixes the refusal's status or code, main's 400 for an invalid digest is a SHOULD of blob pushes)";
    MissingBlobs404 = "missing-blobs-404", "push":
        "a manifest naming blobs or manifests the repository lacks is refused 404 MANIFEST_BLOB_UNKNOWN (such a refusal MUST carry MANIFEST_BLOB_UNKNOWN errors; no status is named)";
    ReferrersNoIndexes = "referrers-no-indexes", "enabling-the-referrers-api":
        "an index pushed with a subject is not listed among its subject's referrers (registries MUST include every newly pushed image manifest with a valid subject; indexes are not named)";
    TagsUnknownLastEmpty = "tags-unknown-last-empty", "listing-tags":
        "`last` naming a tag the repository does not hold answers an empty page (the spec places a page's start only after a tag the list contains, and the client sends one)";
    ErrorsNoMessage = "errors-no-message", "error-codes":
        "error entries carry a code and no message (the message field is OPTIONAL)";
    WarningsOneLine = "warnings-one-line", "warnings":
        "every answer carries two warnings on one Warning field line, `299 - \"a\", 299 - \"b\"` (registries MAY include warnings; a Warning field is a comma-separated list, RFC 7234 §5.5)";
    Sha256Only = "sha256-only", "pushing-blobs":
        "digest-algorithm is ignored and every push naming a digest of another algorithm than sha256 is refused 400 DIGEST_INVALID (spec main: a digest that uses an unsupported algorithm SHOULD be answered 400)";
    EmptyUploadNoRange = "empty-upload-no-range", "pushing-a-blob-in-chunks":
        "an upload session holding no bytes answers without a Range (its end is \"the position of the last uploaded byte\", and there is none)";
    MountWithoutFrom = "mount-without-from", "mounting-a-blob-from-another-repository":
        "a mount request without `from` mounts the blob from wherever the registry holds it, answered 201 (main: the registry MAY treat the from parameter as optional, and it MAY cross-mount the blob if it can be found); without authentication only, so no access rule is bypassed";
    RedirectBlobs = "redirect-blobs", "pulling-blobs":
        "blob GETs and HEADs are answered 307 to the same blob at another URL, which serves it (main: registries MAY respond to any request with a redirect; the statuses the spec names are those after it is followed)";
    DigestHeaderSha512 = "digest-header-sha512", "pulling-manifests":
        "GET and HEAD of a blob or manifest name the content's sha512 digest in Docker-Content-Digest, whatever digest was asked for (the header returns the digest of the content, which MAY differ from the provided digest: the hashing algorithms may not match)";
}

/// The chunk minimum announced under [`Variation::ChunkMinimum`].
pub const CHUNK_MIN_LENGTH: u64 = 64 * 1024;

impl Variation {
    pub fn parse(s: &str) -> Option<Variation> {
        VARIATIONS.iter().find(|v| v.name == s).map(|v| v.variation)
    }
    pub fn info(self) -> &'static VariationInfo {
        VARIATIONS
            .iter()
            .find(|v| v.variation == self)
            .expect("every variation has a row")
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

/// The variations a registry runs with.
pub type Variations = BTreeSet<Variation>;

/// What the variations remember between requests.
#[derive(Default)]
pub(crate) struct Memory {
    /// Uploads whose last chunk was below the minimum: only the final chunk may be short, so
    /// another chunk after it is refused.
    short_chunk: Mutex<HashSet<String>>,
}

/// The middleware applying the request-level variations around the dispatcher.
pub(crate) async fn layer(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let vs = &app.config.variations;
    if vs.is_empty() {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let target = Target::parse(&path);
    let endpoint = target
        .as_ref()
        .and_then(|t| api::route_for(t.resource(), req.method().as_str()))
        .map(|r| r.endpoint);
    // the repository whose content a GET or HEAD answer names by digest
    let content_repo = match (&target, endpoint) {
        (Some(t), Some(Endpoint::BlobGet | Endpoint::ManifestGet))
            if vs.contains(&Variation::DigestHeaderSha512) =>
        {
            t.name().map(String::from)
        }
        _ => None,
    };
    if vs.contains(&Variation::RedirectBlobs)
        && endpoint == Some(Endpoint::BlobGet)
        && let Some(to) = redirect_target(req.uri())
    {
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response();
    }
    if vs.contains(&Variation::MountWithoutFrom)
        && endpoint == Some(Endpoint::UploadStart)
        && app.auth.is_none()
        && let Some(Target::Uploads { name }) = &target
        && let Some(answer) = mount_without_from(&app, name, req.uri().query()).await
    {
        return answer;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(String::from);
    let req = match before(&app, endpoint, target.as_ref(), req).await {
        Ok(req) => req,
        Err(refused) => return refused.into_response(),
    };
    // the chunk minimum compares the upload's size before and after a chunk
    let upload = match target {
        Some(Target::Upload { id, .. })
            if endpoint == Some(Endpoint::UploadChunk) && vs.contains(&Variation::ChunkMinimum) =>
        {
            let i = id.to_string();
            let size = app
                .blocking(move |s| s.upload_info(&i))
                .await
                .ok()
                .flatten()
                .map(|u| u.size);
            size.map(|s| (id.to_string(), s))
        }
        _ => None,
    };
    let mut res = next.run(req).await;
    if let Some((id, before)) = upload
        && res.status() == StatusCode::ACCEPTED
    {
        let after = res
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|r| r.rsplit('-').next()?.parse::<u64>().ok())
            .map(|end| end + 1)
            .unwrap_or(before);
        let mut short = app
            .variation_memory
            .short_chunk
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if after - before < CHUNK_MIN_LENGTH {
            short.insert(id);
        } else {
            short.remove(&id);
        }
    }
    after(&app, endpoint, host.as_deref(), &mut res).await;
    if let Some(repo) = content_repo {
        digest_header_sha512(&app, endpoint, repo, &mut res).await;
    }
    res
}

/// Renames the content of a successful GET or HEAD by its sha512 digest. The content is read
/// from storage (a HEAD has no body, a 206 only part of it), hashed as it streams.
async fn digest_header_sha512(
    app: &App,
    endpoint: Option<Endpoint>,
    repo: String,
    res: &mut Response,
) {
    if !matches!(res.status(), StatusCode::OK | StatusCode::PARTIAL_CONTENT) {
        return;
    }
    let Some(digest) = res
        .headers()
        .get("docker-content-digest")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Digest>().ok())
        .filter(|d| d.algorithm() != Algorithm::Sha512)
    else {
        return;
    };
    let blob = endpoint == Some(Endpoint::BlobGet);
    let other = app
        .blocking(move |s| {
            let mut hasher = Algorithm::Sha512.hasher();
            if blob {
                let Some(data) = s.blob_open(&repo, &digest)? else {
                    return Ok(None);
                };
                let mut reader: Box<dyn Read> = match data {
                    BlobData::File { file, .. } => Box::new(file),
                    BlobData::Bytes(b) => Box::new(std::io::Cursor::new(b)),
                };
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = reader.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                }
            } else {
                let Some((_, body)) = s.manifest_get(&repo, &digest)? else {
                    return Ok(None);
                };
                hasher.update(&body);
            }
            Ok(Some(hasher.finish()))
        })
        .await
        .ok()
        .flatten();
    if let Some(d) = other
        && let Ok(v) = HeaderValue::from_str(&d.to_string())
    {
        res.headers_mut().insert("docker-content-digest", v);
    }
}

/// Refuses or reshapes a request before the handler sees it.
async fn before(
    app: &App,
    endpoint: Option<Endpoint>,
    target: Option<&Target<'_>>,
    mut req: Request,
) -> Result<Request, AppError> {
    let vs = &app.config.variations;
    let on = |v: Variation| vs.contains(&v);
    match (endpoint, target) {
        (Some(Endpoint::Referrers), _) if on(Variation::NoReferrers) => {
            return Err(AppError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::Unsupported,
                "no such endpoint",
            ));
        }
        (Some(Endpoint::BlobDelete | Endpoint::ManifestDelete), _)
            if on(Variation::DeletionDisabled400) =>
        {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::Denied,
                "deletion is disabled on this registry",
            ));
        }
        (Some(Endpoint::BlobDelete), _) if on(Variation::BlobDeleteDisabled) => {
            return Err(deletion_disabled());
        }
        (Some(Endpoint::ManifestDelete), Some(Target::Manifest { reference, .. })) => {
            let by_digest = reference.contains(':');
            if by_digest && on(Variation::ManifestDeleteDisabled) {
                return Err(deletion_disabled());
            }
            if !by_digest && on(Variation::TagDeleteDisabled) {
                return Err(AppError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::DigestInvalid,
                    "manifests are deleted by digest only: tag deletion is disabled",
                ));
            }
        }
        (Some(Endpoint::UploadStart | Endpoint::UploadClose), _)
            if on(Variation::Sha256Only) && names_other_algorithm(req.uri().query()) =>
        {
            let body = std::mem::take(req.body_mut());
            super::drain(body, super::DRAIN_LIMIT).await;
            return Err(only_sha256());
        }
        (Some(Endpoint::ManifestPut), Some(Target::Manifest { reference, .. }))
            if on(Variation::Sha256Only)
                && reference.contains(':')
                && !reference.starts_with("sha256:") =>
        {
            let body = std::mem::take(req.body_mut());
            super::drain(body, super::DRAIN_LIMIT).await;
            return Err(only_sha256());
        }
        (Some(Endpoint::UploadStart), _) => {
            let query = Query::parse(req.uri().query());
            let mount = on(Variation::NoMount) && query.get("mount").is_some();
            let single = on(Variation::NoSinglePost) && query.get("digest").is_some();
            let algorithm = on(Variation::Sha256Only) && query.get("digest-algorithm").is_some();
            if mount || single || algorithm {
                // what remains is a plain POST: the handler opens a session
                if single {
                    let body = std::mem::take(req.body_mut());
                    super::drain(body, super::DRAIN_LIMIT).await;
                }
                let dropped = |k: &str| match k {
                    "mount" | "from" => mount,
                    "digest" => single,
                    "digest-algorithm" => algorithm,
                    _ => false,
                };
                let keep: Vec<(String, String)> = query
                    .pairs()
                    .filter(|(k, _)| !dropped(k))
                    .cloned()
                    .collect();
                let mut uri = req.uri().path().to_string();
                if !keep.is_empty() {
                    let q = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(keep)
                        .finish();
                    uri = format!("{uri}?{q}");
                }
                *req.uri_mut() = uri.parse().map_err(AppError::internal)?;
            }
        }
        (Some(Endpoint::UploadChunk), Some(Target::Upload { id, .. }))
            if on(Variation::ChunkMinimum) =>
        {
            let after_short = app
                .variation_memory
                .short_chunk
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(*id);
            if after_short {
                let body = std::mem::take(req.body_mut());
                super::drain(body, super::DRAIN_LIMIT).await;
                return Err(AppError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BlobUploadInvalid,
                    format!(
                        "only the final chunk may be shorter than {CHUNK_MIN_LENGTH} bytes, and one already was"
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(req)
}

/// [`Variation::MountWithoutFrom`]: a `mount` without `from` links the blob into `repo` when
/// the registry holds it anywhere; `None` leaves the request to the handler (which opens a
/// session).
async fn mount_without_from(app: &App, repo: &str, query: Option<&str>) -> Option<Response> {
    let query = Query::parse(query);
    if query.get("from").is_some() {
        return None;
    }
    let digest = query.get("mount")?.parse::<Digest>().ok()?;
    let (r, d) = (repo.to_string(), digest.clone());
    let mounted = app.blocking(move |s| s.blob_link(&r, &d)).await.ok()?;
    mounted.then(|| {
        (
            StatusCode::CREATED,
            [
                (header::LOCATION, format!("/v2/{repo}/blobs/{digest}")),
                (
                    header::HeaderName::from_static("docker-content-digest"),
                    digest.to_string(),
                ),
            ],
        )
            .into_response()
    })
}

/// Where [`Variation::RedirectBlobs`] sends a blob request: the same path with a marker
/// parameter, which the dispatcher ignores and which ends the redirect there.
fn redirect_target(uri: &axum::http::Uri) -> Option<String> {
    const MARK: &str = "redirected=1";
    match uri.query() {
        Some(q) if q.split('&').any(|p| p == MARK) => None,
        Some(q) => Some(format!("{}?{q}&{MARK}", uri.path())),
        None => Some(format!("{}?{MARK}", uri.path())),
    }
}

/// A `digest` parameter naming another algorithm than sha256 (a malformed one is left to
/// the handler, which refuses it with its own code).
fn names_other_algorithm(query: Option<&str>) -> bool {
    Query::parse(query)
        .get("digest")
        .and_then(|d| d.parse::<Digest>().ok())
        .is_some_and(|d| d.algorithm() != Algorithm::Sha256)
}

fn only_sha256() -> AppError {
    AppError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::DigestInvalid,
        "this registry supports sha256 digests only",
    )
}

/// Reshapes an answer after the handler.
async fn after(app: &App, endpoint: Option<Endpoint>, host: Option<&str>, res: &mut Response) {
    let vs = &app.config.variations;
    let on = |v: Variation| vs.contains(&v);
    if on(Variation::ErrorsNoMessage) && res.status().is_client_error() {
        super::defects::edit_json(res, |v| {
            for e in v["errors"].as_array_mut().into_iter().flatten() {
                if let Some(o) = e.as_object_mut() {
                    o.remove("message");
                }
            }
        })
        .await;
    }
    if on(Variation::WarningsOneLine) {
        res.headers_mut().append(
            header::WARNING,
            HeaderValue::from_static(
                r#"299 - "one warning", 299 - "and, on the same line, another""#,
            ),
        );
    }
    if on(Variation::EmptyUploadNoRange)
        && matches!(
            endpoint,
            Some(Endpoint::UploadStart | Endpoint::UploadStatus | Endpoint::UploadChunk)
        )
        && let Some(id) = res
            .headers()
            .get("docker-upload-uuid")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    {
        let size = app
            .blocking(move |s| s.upload_info(&id))
            .await
            .ok()
            .flatten()
            .map(|u| u.size);
        if size == Some(0) {
            res.headers_mut().remove(header::RANGE);
        }
    }
    if on(Variation::TagsNoLink) && endpoint == Some(Endpoint::TagsList) {
        res.headers_mut().remove(header::LINK);
    }
    if on(Variation::NoReferrers) && endpoint == Some(Endpoint::ManifestPut) {
        res.headers_mut().remove("oci-subject");
    }
    if on(Variation::ChunkMinimum)
        && endpoint == Some(Endpoint::UploadStart)
        && res.status() == StatusCode::ACCEPTED
    {
        res.headers_mut()
            .insert("oci-chunk-min-length", HeaderValue::from(CHUNK_MIN_LENGTH));
    }
    if on(Variation::AbsoluteLocation)
        && let Some(host) = host
        && let Some(loc) = res.headers().get(header::LOCATION)
        && loc.as_bytes().starts_with(b"/")
    {
        let scheme = if app.tls { "https" } else { "http" };
        let abs = format!("{scheme}://{host}{}", loc.to_str().unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&abs) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    if on(Variation::DigestMismatchRefusals)
        && matches!(
            endpoint,
            Some(Endpoint::UploadClose | Endpoint::ManifestPut)
        )
        && res.status() == StatusCode::BAD_REQUEST
    {
        let manifest = endpoint == Some(Endpoint::ManifestPut);
        let mut mismatch = false;
        super::defects::edit_json(res, |v| {
            for e in v["errors"].as_array_mut().into_iter().flatten() {
                // a mismatch, told from a malformed digest by the digest the content has
                if e["code"] == ErrorCode::DigestInvalid.as_str()
                    && e["detail"]["actual"].is_string()
                {
                    mismatch = true;
                    let code = if manifest {
                        ErrorCode::ManifestUnknown
                    } else {
                        ErrorCode::BlobUploadInvalid
                    };
                    e["code"] = code.as_str().into();
                }
            }
        })
        .await;
        if mismatch && manifest {
            *res.status_mut() = StatusCode::NOT_FOUND;
        }
    }
    if on(Variation::MissingBlobs404)
        && endpoint == Some(Endpoint::ManifestPut)
        && res.status() == StatusCode::BAD_REQUEST
    {
        let mut missing = false;
        super::defects::edit_json(res, |v| {
            missing = v["errors"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|e| e["code"] == ErrorCode::ManifestBlobUnknown.as_str())
            });
        })
        .await;
        if missing {
            *res.status_mut() = StatusCode::NOT_FOUND;
        }
    }
    if on(Variation::OtherNotFoundCode) && res.status() == StatusCode::NOT_FOUND {
        super::defects::edit_json(res, |v| {
            for e in v["errors"].as_array_mut().into_iter().flatten() {
                e["code"] = ErrorCode::NameUnknown.as_str().into();
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variation_has_one_row_and_a_unique_name() {
        let names: BTreeSet<&str> = VARIATIONS.iter().map(|v| v.name).collect();
        assert_eq!(names.len(), VARIATIONS.len());
        for v in VARIATIONS {
            assert_eq!(Variation::parse(v.name), Some(v.variation));
            assert!(!v.section.is_empty() && !v.summary.is_empty());
        }
        assert_eq!(Variation::parse("list"), None);
    }
}
