//! Deliberate defects (`serve --defect NAME`): each makes the reference break named
//! requirements, to prove that the scenarios catch them (and to show users what each check
//! catches). Most are rewrites of an answer, applied in one place ([`rewrite`]) after the
//! handler; the few that change what is stored are hooks in the handlers
//! (`app.has(Defect::…)`).

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;

use super::error::AppError;
use crate::oci::api::Endpoint;
use axum::response::IntoResponse;

macro_rules! defects {
    ($( $variant:ident = $id:literal : $summary:literal breaks [$($req:literal),* $(,)?] ;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Defect { $($variant),* }

        /// Every defect: its name, what it does, and the requirements it breaks.
        pub const DEFECTS: &[(Defect, &str, &str, &[&str])] = &[
            $((Defect::$variant, $id, $summary, &[$($req),*])),*
        ];
    };
}

defects! {
    Base404 = "base-404": "GET /v2/ answers 404" breaks ["base.v2", "dist.api-version"];
    AcceptAnyName = "accept-any-name": "names outside the grammar are taken (and fail in storage)" breaks ["names.repository-regex"];
    ShortTags = "short-tags": "tags over 64 characters are refused" breaks ["names.tag-regex"];
    Reference500 = "reference-500": "a malformed digest reference answers 500" breaks ["names.reference-form"];
    ManifestByDigest404 = "manifest-by-digest-404": "GET of a manifest by digest answers 404" breaks ["pull.manifest.get", "push.manifest.index", "push.tag.move", "delete.tag"];
    ManifestUnknown500 = "manifest-unknown-500": "an unknown manifest answers 500" breaks ["pull.manifest.404", "pull.repository.404", "delete.manifest", "delete.tag", "push.manifest.digest-mismatch", "push.manifest.invalid"];
    BlobCorrupted = "blob-corrupted": "blob GETs flip a byte in the middle" breaks ["pull.blob.get", "pull.blob.range", "push.chunk.close", "push.chunk.order", "push.mount.201", "push.blob.sha512", "dist.stream-upload", "next.digest-algorithm", "next.final-put.order"];
    WrongDigestHeader = "wrong-digest-header": "blob GETs carry a Docker-Content-Digest that is not the body's" breaks ["pull.digest-header-matches", "next.pull.digest-header", "push.blob.sha512"];
    BlobUnknown400 = "blob-unknown-400": "an unknown blob answers 400" breaks ["pull.blob.404", "delete.blob", "push.digest-mismatch", "next.final-put.order"];
    Head404 = "head-404": "every HEAD answers 404" breaks ["pull.head.200", "next.head.headers", "push.blob.empty", "push.put.201"];
    Post201 = "post-201": "opening an upload answers 201" breaks ["push.post.202"];
    ReusedLocation = "reused-location": "a new upload reuses the location of an idle one" breaks ["push.location.session-id", "?push.put.201"];
    Put200 = "put-200": "closing an upload answers 200" breaks ["push.put.201", "push.chunk.close", "push.chunk.last-in-put", "push.blob.empty", "push.blob.sha512", "dist.stream-upload", "next.digest-algorithm", "next.final-put.order"];
    NoDigestCheck = "no-digest-check": "an upload is stored under the digest claimed, unverified" breaks ["push.digest-mismatch"];
    RangeOffByOne = "range-off-by-one": "upload progress reports Range 0-<size> instead of 0-<size-1>" breaks ["push.chunk.202", "push.chunk.order", "dist.stream-upload", "next.final-put.order"];
    AcceptOutOfOrder = "accept-out-of-order": "a chunk out of order is appended and answered 202" breaks ["push.chunk.order"];
    CloseNeedsBody = "close-needs-body": "a closing PUT without a body is refused" breaks ["push.chunk.close", "push.blob.empty", "dist.stream-upload", "next.digest-algorithm"];
    Status200 = "status-200": "upload status answers 200" breaks ["push.status.204", "push.chunk.order", "next.final-put.order"];
    UnknownUpload400 = "unknown-upload-400": "an unknown upload answers 400" breaks ["push.status.unknown"];
    Mount200 = "mount-200": "a mount answers 200" breaks ["push.mount.201"];
    EmptyBlobRefused = "empty-blob-refused": "the empty blob is refused" breaks ["push.blob.empty"];
    ManifestPut200 = "manifest-put-200": "a manifest PUT answers 200" breaks ["push.manifest.201", "push.manifest.4mb", "push.manifest.missing-subject", "push.manifest.empty-layers", "push.manifest.content-type-params", "names.tag-regex", "dist.schema2", "next.tag-param"];
    ManifestReformatted = "manifest-reformatted": "manifests are stored pretty-printed, not as sent" breaks ["push.manifest.exact-bytes", "pull.manifest.get", "pull.head.content-length", "push.manifest.index", "push.tag.move", "push.manifest.empty-layers", "push.manifest.content-type-params", "delete.tag", "names.tag-regex", "dist.schema2", "next.tag-param", "next.head.headers"];
    ManifestDigestHeader = "manifest-digest-header": "a manifest PUT answers another digest in Docker-Content-Digest" breaks ["push.manifest.digest-header"];
    MissingBlobCode = "missing-blob-code": "a manifest with missing blobs is refused with MANIFEST_INVALID" breaks ["push.manifest.missing-blobs-code"];
    SubjectRequired = "subject-required": "a manifest whose subject is missing is refused" breaks ["push.manifest.missing-subject"];
    NoOciSubject = "no-oci-subject": "manifest PUTs never carry OCI-Subject" breaks ["push.manifest.oci-subject"];
    ManifestDigestUnchecked = "manifest-digest-unchecked": "a manifest pushed by digest is stored under it unverified" breaks ["push.manifest.digest-mismatch"];
    ManifestUnvalidated = "manifest-unvalidated": "any body is taken as a manifest" breaks ["push.manifest.invalid"];
    IndexRefused = "index-refused": "image indexes are refused" breaks ["push.manifest.index", "push.manifest.201", "dist.schema2"];
    TagsImmutable = "tags-immutable": "a tag never moves once set" breaks ["push.tag.move"];
    UnknownRepoTags = "unknown-repo-tags": "the tags of an unknown repository are an empty list" breaks ["pull.repository.404"];
    TagsNoName = "tags-no-name": "the tags list has no name field" breaks ["tags.list"];
    TagsUnsorted = "tags-unsorted": "tags are listed in reverse order" breaks ["tags.order", "tags.last", "tags.link"];
    TagsIgnoreN = "tags-ignore-n": "n is ignored" breaks ["tags.n", "tags.n-zero"];
    TagsNoLink = "tags-no-link": "no Link when more tags remain" breaks ["tags.link"];
    TagsNZeroAll = "tags-n-zero-all": "n=0 lists every tag" breaks ["tags.n-zero"];
    TagsIgnoreLast = "tags-ignore-last": "last is ignored" breaks ["tags.last", "tags.link"];
    Referrers404 = "referrers-404": "referrers of an unknown subject answer 404" breaks ["referrers.supported"];
    ReferrersNoValidation = "referrers-no-validation": "a malformed referrers digest answers an empty index" breaks ["referrers.invalid-digest"];
    ReferrersJson = "referrers-json": "referrers come as application/json" breaks ["referrers.index"];
    ReferrersNoIndexes = "referrers-no-indexes": "indexes with a subject are not listed as referrers" breaks ["referrers.listed"];
    ReferrersNoConfigType = "referrers-no-config-type": "artifactType is not derived from the config media type" breaks ["referrers.artifact-type"];
    ReferrersNoAnnotations = "referrers-no-annotations": "referrer descriptors lose their annotations" breaks ["referrers.annotations"];
    ReferrersNull = "referrers-null": "an empty referrers list is null" breaks ["referrers.empty"];
    ReferrersCursorSkips = "referrers-cursor-skips": "the next-page Link skips one referrer" breaks ["referrers.pagination"];
    FilterUnsaid = "filter-unsaid": "filtered referrers come without OCI-Filters-Applied" breaks ["referrers.filters-applied"];
    TagDeleteTakesManifest = "tag-delete-takes-manifest": "deleting a tag deletes its manifest" breaks ["delete.tag"];
    ManifestDeleteKeeps = "manifest-delete-keeps": "a deleted manifest is still served" breaks ["delete.manifest"];
    DeleteUnknownRepo202 = "delete-unknown-repo-202": "deletes in unknown repositories answer 202" breaks ["delete.manifest.unknown-repo"];
    BlobDeleteKeeps = "blob-delete-keeps": "a deleted blob is still served" breaks ["delete.blob"];
    BlobDeleteUnknown202 = "blob-delete-unknown-202": "deleting an unknown blob answers 202" breaks ["delete.blob.404"];
    ErrorsUnenveloped = "errors-unenveloped": "JSON errors come as {\"error\": …}" breaks ["errors.envelope"];
    ErrorsLowercase = "errors-lowercase": "error codes are lowercase" breaks ["errors.code-form"];
    NoDigestHeader = "no-digest-header": "GETs carry no Docker-Content-Digest" breaks ["next.pull.digest-header", "pull.blob.digest-header", "pull.manifest.digest-header"];
    HeadNoDigest = "head-no-digest": "HEADs carry no Docker-Content-Digest" breaks ["next.head.headers", "pull.head.digest-header"];
    FinalPutUnchecked = "final-put-unchecked": "a closing PUT's Content-Range is not checked" breaks ["next.final-put.order"];
    NoOciTag = "no-oci-tag": "?tag= tags are made without OCI-Tag" breaks ["next.tag-param.header"];
    BadWarning = "bad-warning": "every answer carries a malformed Warning" breaks ["next.warning.format"];
    CatalogIgnoreN = "catalog-ignore-n": "the catalog ignores n" breaks ["dist.catalog.pagination"];
    DockerTypesRefused = "docker-types-refused": "Docker schema 2 media types are refused" breaks ["dist.schema2"];
    AuthNoChallenge = "auth-no-challenge": "401 answers carry no WWW-Authenticate (no client can log in)" breaks ["auth.challenge", "*"];
    AuthWrongCode = "auth-wrong-code": "401 answers carry DENIED instead of UNAUTHORIZED" breaks ["auth.unauthorized-code"];
    AuthNoService = "auth-no-service": "Bearer challenges leave out the service" breaks ["auth.bearer-challenge"];
    TokenMissing = "token-missing": "the token endpoint answers without a token (no client can log in)" breaks ["auth.token-response", "*"];
    TokensRefused = "tokens-refused": "valid tokens are refused (no client can log in)" breaks ["auth.token-accepted", "*"];
    ScopeIgnored = "scope-ignored": "any valid token is accepted for any request" breaks ["auth.scope-enforced"];
}

impl Defect {
    pub fn parse(s: &str) -> Option<Defect> {
        DEFECTS.iter().find(|d| d.1 == s).map(|d| d.0)
    }
    pub fn id(self) -> &'static str {
        DEFECTS.iter().find(|d| d.0 == self).expect("listed").1
    }
    /// Requirements the defect breaks. An id marked `?` may or may not fail: it depends on
    /// timing (e.g. concurrent pushes colliding on a reused session).
    pub fn breaks(self) -> &'static [&'static str] {
        DEFECTS.iter().find(|d| d.0 == self).expect("listed").3
    }
}

/// What the dispatcher knows of a request, for rewrites.
pub struct Seen<'a> {
    pub method: &'a Method,
    pub endpoint: Option<Endpoint>,
    pub path: &'a str,
    pub query: &'a str,
    /// The request carried a Bearer token.
    pub bearer: bool,
}

fn set_status(res: &mut Response, from: u16, to: StatusCode) {
    if res.status().as_u16() == from {
        *res.status_mut() = to;
    }
}

/// Rewrites an answer the way `defect` says.
pub async fn rewrite(defect: Defect, seen: Seen<'_>, mut res: Response) -> Response {
    use Defect as D;
    use Endpoint as E;
    let get = *seen.method == Method::GET;
    let head = *seen.method == Method::HEAD;
    match (defect, seen.endpoint) {
        (D::Base404, Some(E::Base)) => set_status(&mut res, 200, StatusCode::NOT_FOUND),
        (D::ManifestUnknown500, Some(E::ManifestGet)) => {
            set_status(&mut res, 404, StatusCode::INTERNAL_SERVER_ERROR)
        }
        (D::BlobUnknown400, Some(E::BlobGet)) => set_status(&mut res, 404, StatusCode::BAD_REQUEST),
        (D::Head404, Some(E::BlobGet | E::ManifestGet)) if head => {
            set_status(&mut res, 200, StatusCode::NOT_FOUND)
        }
        (D::Post201, Some(E::UploadStart)) => set_status(&mut res, 202, StatusCode::CREATED),
        (D::Put200, Some(E::UploadClose)) => set_status(&mut res, 201, StatusCode::OK),
        (D::Status200, Some(E::UploadStatus)) => set_status(&mut res, 204, StatusCode::OK),
        (
            D::UnknownUpload400,
            Some(E::UploadStatus | E::UploadChunk | E::UploadClose | E::UploadCancel),
        ) => set_status(&mut res, 404, StatusCode::BAD_REQUEST),
        (D::Mount200, Some(E::UploadStart)) if seen.query.contains("mount=") => {
            set_status(&mut res, 201, StatusCode::OK)
        }
        (D::ManifestPut200, Some(E::ManifestPut)) => set_status(&mut res, 201, StatusCode::OK),
        (D::ManifestDigestHeader, Some(E::ManifestPut)) => {
            let wrong = crate::oci::Digest::sha256(b"not this manifest").to_string();
            res.headers_mut().insert(
                "docker-content-digest",
                HeaderValue::from_str(&wrong).expect("digest"),
            );
        }
        (D::NoOciSubject, Some(E::ManifestPut)) => {
            res.headers_mut().remove("oci-subject");
        }
        (D::NoOciTag, Some(E::ManifestPut)) => {
            res.headers_mut().remove("oci-tag");
        }
        (D::ReferrersJson, Some(E::Referrers)) => {
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        (D::ReferrersNoAnnotations, Some(E::Referrers)) => {
            edit_json(&mut res, |v| {
                for m in v["manifests"].as_array_mut().into_iter().flatten() {
                    if let Some(o) = m.as_object_mut() {
                        o.remove("annotations");
                    }
                }
            })
            .await
        }
        (D::ReferrersNull, Some(E::Referrers)) => {
            edit_json(&mut res, |v| {
                if v["manifests"] == serde_json::json!([]) {
                    v["manifests"] = serde_json::Value::Null;
                }
            })
            .await
        }
        (D::FilterUnsaid, Some(E::Referrers)) => {
            res.headers_mut().remove("oci-filters-applied");
        }
        (D::TagsNoName, Some(E::TagsList)) => {
            edit_json(&mut res, |v| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("name");
                }
            })
            .await
        }
        (D::TagsUnsorted, Some(E::TagsList)) => {
            edit_json(&mut res, |v| {
                if let Some(a) = v["tags"].as_array_mut() {
                    a.reverse();
                }
            })
            .await
        }
        (D::TagsNoLink, Some(E::TagsList)) => {
            res.headers_mut().remove(header::LINK);
        }
        (D::ErrorsUnenveloped, _) if res.status().is_client_error() => {
            edit_json(&mut res, |v| {
                let msg = v["errors"][0]["message"].clone();
                *v = serde_json::json!({ "error": msg });
            })
            .await
        }
        (D::ErrorsLowercase, _) if res.status().is_client_error() => {
            edit_json(&mut res, |v| {
                for e in v["errors"].as_array_mut().into_iter().flatten() {
                    if let Some(c) = e["code"].as_str() {
                        e["code"] = serde_json::Value::String(c.to_lowercase());
                    }
                }
            })
            .await
        }
        (D::NoDigestHeader, Some(E::BlobGet | E::ManifestGet)) if get => {
            res.headers_mut().remove("docker-content-digest");
        }
        (D::HeadNoDigest, Some(E::BlobGet | E::ManifestGet)) if head => {
            res.headers_mut().remove("docker-content-digest");
        }
        (D::WrongDigestHeader, Some(E::BlobGet)) if get => {
            let wrong = crate::oci::Digest::sha256(b"another blob").to_string();
            res.headers_mut().insert(
                "docker-content-digest",
                HeaderValue::from_str(&wrong).expect("digest"),
            );
        }
        (D::BlobCorrupted, Some(E::BlobGet)) if get && res.status().is_success() => {
            let (parts, body) = res.into_parts();
            let mut first = true;
            let stream = body.into_data_stream().map(move |chunk| {
                chunk.map(|b| {
                    if first && b.len() > 1 {
                        first = false;
                        let mut v = b.to_vec();
                        let mid = v.len() / 2;
                        v[mid] ^= 0xff;
                        bytes::Bytes::from(v)
                    } else {
                        b
                    }
                })
            });
            res = Response::from_parts(parts, Body::from_stream(stream));
        }
        (D::RangeOffByOne, Some(E::UploadStart | E::UploadChunk | E::UploadStatus)) => {
            let off = res
                .headers()
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("0-"))
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| format!("0-{}", n + 1));
            if let Some(v) = off.and_then(|v| HeaderValue::from_str(&v).ok()) {
                res.headers_mut().insert(header::RANGE, v);
            }
        }
        (D::AuthNoChallenge, _) if res.status() == StatusCode::UNAUTHORIZED => {
            res.headers_mut().remove(header::WWW_AUTHENTICATE);
        }
        (D::AuthWrongCode, _) if res.status() == StatusCode::UNAUTHORIZED => {
            edit_json(&mut res, |v| {
                for e in v["errors"].as_array_mut().into_iter().flatten() {
                    e["code"] = serde_json::Value::String("DENIED".into());
                }
            })
            .await
        }
        (D::AuthNoService, _) if res.status() == StatusCode::UNAUTHORIZED => {
            let ch = res
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(',')
                        .filter(|p| !p.starts_with("service="))
                        .collect::<Vec<_>>()
                        .join(",")
                });
            if let Some(v) = ch.and_then(|c| HeaderValue::from_str(&c).ok()) {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        (D::TokenMissing, None) if seen.path == "/token" && res.status().is_success() => {
            edit_json(&mut res, |v| *v = serde_json::json!({ "expires_in": 300 })).await
        }
        (D::TokensRefused, _) if seen.bearer && res.status().is_success() => {
            res = AppError::code(
                StatusCode::UNAUTHORIZED,
                crate::oci::ErrorCode::Unauthorized,
            )
            .header(
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"refused\",service=\"regverify\"",
            )
            .into_response();
        }
        (D::BadWarning, _) => {
            res.headers_mut().append(
                "warning",
                HeaderValue::from_static(
                    "199 regverify \"this answer is deprecated\" \"Fri, 27 Nov 2026 00:00:00 GMT\"",
                ),
            );
        }
        _ => {}
    }
    res
}

async fn edit_json(res: &mut Response, f: impl FnOnce(&mut serde_json::Value)) {
    let body = std::mem::replace(res.body_mut(), Body::empty());
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return;
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut v) => {
            f(&mut v);
            let out = v.to_string();
            res.headers_mut().remove(header::CONTENT_LENGTH);
            *res.body_mut() = Body::from(out);
        }
        Err(_) => *res.body_mut() = Body::from(bytes),
    }
}
