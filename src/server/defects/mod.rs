//! Deliberate defects (`serve --defect NAME`): each makes the reference break named
//! requirements, to prove that the scenarios catch them (and to show users what each check
//! catches). None lives in a handler: answer rewrites and request refusals are the middleware
//! [`layer`]; defects in what is stored decorate the storage (`decorated.rs`); defects in what
//! is validated turn a check of the handlers off through [`Defect::skips`].

mod answers;
mod requests;
mod tags;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::oci::api::{self, Target};

pub(crate) use answers::edit_json;
pub(crate) use tags::Memory;

macro_rules! defects {
    ($( $variant:ident = $id:literal : $summary:literal breaks [$($req:literal),* $(,)?] $(.$flag:ident($($arg:expr)?))* ;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Defect { $($variant),* }

        /// Every defect: its name, what it does, and the requirements it breaks.
        pub const DEFECTS: &[DefectInfo] = &[
            $(DefectInfo::new(Defect::$variant, $id, $summary, &[$($req),*])$(.$flag($($arg)?))*),*
        ];
    };
}

/// One row of [`DEFECTS`].
#[derive(Debug)]
pub struct DefectInfo {
    pub defect: Defect,
    /// The name `--defect` takes.
    pub name: &'static str,
    pub summary: &'static str,
    /// Requirements every run against the defect fails.
    pub breaks: &'static [&'static str],
    /// Requirements a run may or may not fail, depending on timing (e.g. concurrent pushes
    /// colliding on a reused session).
    pub at_times: &'static [&'static str],
    /// Shows only with authentication on (`serve --auth`).
    pub needs_auth: bool,
    /// Keeps every client out, so every requirement behind a login fails with it.
    pub locks_out: bool,
    /// The check of the handlers it turns off, if that is what it does.
    pub skips: Option<Check>,
}

impl DefectInfo {
    const fn new(
        defect: Defect,
        name: &'static str,
        summary: &'static str,
        breaks: &'static [&'static str],
    ) -> DefectInfo {
        DefectInfo {
            defect,
            name,
            summary,
            breaks,
            at_times: &[],
            needs_auth: false,
            locks_out: false,
            skips: None,
        }
    }
    const fn at_times(mut self, reqs: &'static [&'static str]) -> DefectInfo {
        self.at_times = reqs;
        self
    }
    const fn skips(mut self, check: Check) -> DefectInfo {
        self.skips = Some(check);
        self
    }
    const fn needs_auth(mut self) -> DefectInfo {
        self.needs_auth = true;
        self
    }
    const fn locks_out(mut self) -> DefectInfo {
        self.locks_out = true;
        self.needs_auth = true;
        self
    }
}

defects! {
    Base404 = "base-404": "GET /v2/ answers 404" breaks ["base.v2", "dist.api-version", "errors.envelope"];
    AcceptAnyName = "accept-any-name": "names outside the grammar are taken (and fail in storage)" breaks ["names.repository-regex"] .skips(Check::NameGrammar);
    ShortTags = "short-tags": "tags over 64 characters are refused" breaks ["names.tag-regex"];
    TagsAnyCharacters = "tags-any-characters": "a manifest PUT to a tag outside the grammar (-dash, a+b, .hidden) is stored under it" breaks ["names.tag-regex"];
    Reference500 = "reference-500": "a malformed digest reference answers 500" breaks ["names.reference-form"];
    ManifestByDigest404 = "manifest-by-digest-404": "GET of a manifest by digest answers 404" breaks ["pull.manifest.get", "push.manifest.index", "push.tag.move", "push.manifest.201"];
    ManifestUnknown500 = "manifest-unknown-500": "an unknown manifest answers 500" breaks ["names.reference-form", "pull.manifest.404", "pull.repository.404", "delete.manifest", "delete.tag", "push.manifest.digest-mismatch", "push.manifest.invalid"];
    BlobCorrupted = "blob-corrupted": "blob GETs flip a byte in the middle" breaks ["pull.blob.get", "pull.blob.range", "push.chunk.close", "push.chunk.order", "push.mount.201", "push.blob.sha512", "dist.stream-upload", "next.digest-algorithm", "pull.digest-header-matches", "push.chunk.last-in-put", "push.single-post", "push.put.201", "push.single-post.201"];
    BlobShortBody = "blob-short-body": "blob GETs close the connection half way through the body their Content-Length announces" breaks ["http.framing"];
    WrongDigestHeader = "wrong-digest-header": "blob GETs carry a Docker-Content-Digest that is not the body's" breaks ["pull.digest-header-matches", "next.pull.digest-header", "push.blob.sha512"];
    BlobUnknown400 = "blob-unknown-400": "an unknown blob answers 400" breaks ["pull.blob.404", "delete.blob", "push.digest-mismatch", "next.final-put.order"];
    Head404 = "head-404": "every HEAD answers 404" breaks ["pull.head.200", "next.head.headers", "push.blob.empty", "push.put.201"];
    Post201 = "post-201": "opening an upload answers 201" breaks ["push.post.202", "push.mount.fallback", "push.mount.without-from"];
    ReusedLocation = "reused-location": "a new upload reuses the location of an idle one" breaks ["push.location.session-id"] .at_times(&["push.put.201", "push.chunk.202"]);
    SinglePostNoLocation = "single-post-no-location": "a blob pushed by single POST is answered 201 without a Location" breaks ["push.single-post.201"];
    Put200 = "put-200": "closing an upload answers 200" breaks ["push.put.201", "push.chunk.close", "push.chunk.last-in-put", "push.blob.empty", "push.blob.sha512", "next.digest-algorithm"];
    NoDigestCheck = "no-digest-check": "an upload is stored under the digest claimed, unverified" breaks ["push.digest-mismatch", "next.digest.invalid"] .skips(Check::UploadDigest);
    RangeOffByOne = "range-off-by-one": "upload progress reports Range 0-<size> instead of 0-<size-1>" breaks ["push.chunk.202", "push.status.204", "dist.stream-upload"];
    AcceptOutOfOrder = "accept-out-of-order": "a chunk out of order is appended and answered 202" breaks ["push.chunk.order"] .skips(Check::ChunkOrder);
    CloseNeedsBody = "close-needs-body": "a closing PUT without a body is refused" breaks ["push.chunk.close", "push.blob.empty", "push.put.201"];
    ShortFinalChunkRefused = "short-final-chunk-refused": "a chunk after the first that is shorter than 512 bytes is refused with 400, the final one too" breaks ["push.chunk.final-any-length"];
    Chunk204 = "chunk-204": "a chunk is answered 204 instead of 202" breaks ["push.chunk.202"];
    CloseNoLocation = "close-no-location": "a closing PUT is answered 201 without a Location" breaks ["push.put.201", "push.chunk.close"];
    BlobLocationUpload = "blob-location-upload": "the Location of a blob made by a closing PUT, a single POST or a mount names the upload path the request went to, not the blob" breaks ["push.put.201", "push.chunk.close", "push.single-post.201", "push.mount.201"];
    ManifestLocationBlob = "manifest-location-blob": "the Location of a manifest PUT names the blob endpoint under the manifest's digest" breaks ["push.manifest.201"];
    MonolithicRefusedNoDelete = "monolithic-refused-no-delete": "a closing PUT that carries the blob is refused (the chunked way works), and deletion answers 405 UNSUPPORTED" breaks ["push.put.201", "push.chunk.last-in-put", "next.final-put.order", "category.content-management"];
    Status200 = "status-200": "upload status answers 200" breaks ["push.status.204"];
    UnknownUpload400 = "unknown-upload-400": "an unknown upload answers 400" breaks ["push.status.unknown", "next.upload.cancel.unknown"];
    Mount200 = "mount-200": "a mount answers 200" breaks ["push.mount.201"];
    Mount404 = "mount-404": "mounting is not supported and a mount request answers 404 BLOB_UNKNOWN instead of opening a session" breaks ["push.mount.fallback"];
    EmptyBlobRefused = "empty-blob-refused": "the empty blob is refused" breaks ["push.blob.empty"];
    NoUploadStatus = "no-upload-status": "there is no upload status: GET of a session answers 405" breaks ["push.status.204", "push.status.unknown"];
    NoUploadCancel = "no-upload-cancel": "there is no upload cancel: DELETE of a session answers 405" breaks ["next.upload.cancel"];
    UnknownUploadAccepted = "unknown-upload-accepted": "a request to an upload session that does not exist opens it" breaks ["push.status.unknown", "next.upload.cancel.unknown"];
    UploadAnyRepository = "upload-any-repository": "an upload session answers through any repository's path" breaks ["push.status.unknown", "next.upload.cancel.unknown"] .skips(Check::UploadRepository);
    EmptyPatchRange = "empty-patch-range": "a PATCH that leaves an upload empty answers Range 0--1" breaks ["push.chunk.202"];
    Sha512BlobsUnknown = "sha512-blobs-unknown": "blob GETs and HEADs by a sha512 digest answer 404, even after a push under it was answered 201" breaks ["push.blob.sha512", "next.digest-algorithm"];
    BlobReadAnyRepository = "blob-read-any-repository": "blob GETs and HEADs serve a blob that only another repository holds" breaks ["pull.blob.404"];
    ManifestReadAnyRepository = "manifest-read-any-repository": "manifest GETs and HEADs by digest serve a manifest that only another repository holds" breaks ["pull.manifest.404"];
    BlobDeleteAnyRepository = "blob-delete-any-repository": "deleting a blob through a repository that lacks it deletes it where it is (202)" breaks ["delete.blob.404"];
    ManifestPut200 = "manifest-put-200": "a manifest PUT answers 200" breaks ["push.manifest.201", "push.manifest.4mb", "push.manifest.missing-subject", "push.manifest.empty-layers", "push.manifest.content-type-params", "names.tag-regex", "dist.schema2"];
    ManifestReformatted = "manifest-reformatted": "manifests are stored pretty-printed, not as sent" breaks ["push.manifest.exact-bytes", "pull.manifest.get", "pull.head.content-length", "push.manifest.index", "push.tag.move", "push.manifest.empty-layers", "push.manifest.content-type-params", "names.tag-regex", "dist.schema2", "next.tag-param", "next.head.headers", "pull.digest-header-matches", "push.manifest.201"];
    ManifestTypeParams = "manifest-type-params": "a manifest pushed with Content-Type parameters is served with them" breaks ["pull.manifest.content-type-no-params"];
    ManifestDigestHeader = "manifest-digest-header": "a manifest PUT answers another digest in Docker-Content-Digest" breaks ["push.manifest.digest-header"];
    MissingBlobCode = "missing-blob-code": "a manifest with missing blobs is refused with MANIFEST_INVALID" breaks ["push.manifest.missing-blobs-code"];
    SubjectRequired = "subject-required": "a manifest whose subject is missing is refused" breaks ["push.manifest.missing-subject"];
    NoOciSubject = "no-oci-subject": "manifest PUTs never carry OCI-Subject" breaks ["push.manifest.oci-subject"];
    ManifestDigestUnchecked = "manifest-digest-unchecked": "a manifest pushed by digest is stored under it unverified" breaks ["push.manifest.digest-mismatch"] .skips(Check::ManifestDigest);
    Sha512ManifestUnchecked = "sha512-manifest-unchecked": "a manifest pushed to a sha512 digest is stored under it unverified" breaks ["push.manifest.digest-mismatch"] .skips(Check::Sha512ManifestDigest);
    NoManifestLimit = "no-manifest-limit": "manifests of any size are taken" breaks ["push.manifest.size-limit"] .skips(Check::ManifestSize);
    ManifestUnvalidated = "manifest-unvalidated": "any body is taken as a manifest" breaks ["push.manifest.invalid"];
    IndexRefused = "index-refused": "image indexes are refused" breaks ["push.manifest.index", "push.manifest.201", "dist.schema2"];
    IndexChildUnknown404 = "index-child-unknown-404": "an index naming a manifest the repository lacks is refused with 404 MANIFEST_UNKNOWN" breaks ["push.manifest.missing-blobs-code"];
    IndexNeedsPlatform = "index-needs-platform": "an index entry without platform is refused" breaks ["push.manifest.index"];
    TagsImmutable = "tags-immutable": "a tag never moves once set" breaks ["push.tag.move"];
    UnknownRepoTags = "unknown-repo-tags": "the tags of an unknown repository are an empty list" breaks ["pull.repository.404"];
    TagsNoName = "tags-no-name": "the tags list has no name field" breaks ["tags.list"];
    TagsUnsorted = "tags-unsorted": "tags are listed in reverse order" breaks ["tags.order", "tags.last"];
    TagsIgnoreN = "tags-ignore-n": "n is ignored" breaks ["tags.n", "tags.n-zero", "tags.n-invalid"];
    TagsNegativeNDrops = "tags-negative-n-drops": "a tags list with a negative n closes the connection without an answer" breaks ["http.framing"];
    TagsNull = "tags-null": "an empty tags list is null" breaks ["tags.list"];
    DigestListedAsTag = "digest-listed-as-tag": "a manifest pushed by digest alone is listed as a tag named by its digest" breaks ["tags.list"];
    TagsNZeroAll = "tags-n-zero-all": "n=0 lists every tag" breaks ["tags.n-zero"];
    TagsIgnoreLast = "tags-ignore-last": "last is ignored" breaks ["tags.last", "tags.link"];
    Referrers404 = "referrers-404": "referrers of an unknown subject answer 404" breaks ["referrers.supported"];
    ReferrersNoValidation = "referrers-no-validation": "a malformed referrers digest answers an empty index" breaks ["referrers.invalid-digest"];
    ReferrersJson = "referrers-json": "referrers come as application/json" breaks ["referrers.index"];
    ReferrersWrongSize = "referrers-wrong-size": "referrer descriptors give a size one byte off" breaks ["referrers.listed"];
    ReferrersIndexNoMediaType = "referrers-index-no-media-type": "the referrers index carries no mediaType" breaks ["referrers.index-media-type"];
    ReferrersNoConfigType = "referrers-no-config-type": "artifactType is not derived from the config media type" breaks ["referrers.artifact-type"];
    ReferrersConfigTypeAlways = "referrers-config-type-always": "a referrer's artifactType is its config media type even when the manifest names its own (so a filter by the artifactType misses it)" breaks ["referrers.artifact-type", "referrers.filters-applied"];
    ReferrersNoAnnotations = "referrers-no-annotations": "referrer descriptors lose their annotations" breaks ["referrers.annotations"];
    ReferrersNull = "referrers-null": "an empty referrers list is null" breaks ["referrers.empty"];
    ReferrersCursorSkips = "referrers-cursor-skips": "the next-page Link skips one referrer" breaks ["referrers.pagination"];
    SeveralFiltersDropped = "several-filters-dropped": "referrers asked with several artifactType values are all listed, though the answer says OCI-Filters-Applied: artifactType" breaks ["referrers.filters-applied.several"];
    FilterUnsaid = "filter-unsaid": "filtered referrers come without OCI-Filters-Applied" breaks ["referrers.filters-applied"];
    ManifestDeleteKeeps = "manifest-delete-keeps": "a deleted manifest is still served" breaks ["delete.manifest"];
    DeleteUnknownRepo202 = "delete-unknown-repo-202": "deletes in unknown repositories answer 202" breaks ["delete.manifest.unknown-repo"];
    BlobDeleteKeeps = "blob-delete-keeps": "a deleted blob is still served" breaks ["delete.blob"];
    BlobDeleteGlobal = "blob-delete-global": "deleting a blob in one repository deletes it from every repository" breaks ["delete.blob"];
    BlobDeleteUnknown202 = "blob-delete-unknown-202": "deleting an unknown blob answers 202" breaks ["delete.blob.404"];
    ErrorsUnenveloped = "errors-unenveloped": "JSON errors come as {\"error\": …}" breaks ["errors.envelope"];
    Refusal429 = "refusal-429": "an upload close refused with 400 is answered 429 instead, without Retry-After" breaks ["http.retry-after", "next.digest.invalid"];
    ErrorsMessageNumber = "errors-message-number": "error messages are numbers, not strings" breaks ["errors.message"];
    ErrorsLowercase = "errors-lowercase": "error codes are lowercase" breaks ["errors.code-form"];
    UnknownRouteFrameworkJson = "unknown-route-framework-json": "a path no endpoint has is answered 404 with the web framework's own JSON ({\"message\": \"Not Found\"}), not the error envelope" breaks ["errors.envelope"];
    NNotNumberFrameworkJson = "n-not-number-framework-json": "an n that is no number (n=abc) is answered 400 with the web framework's own JSON ({\"message\": …}), not the error envelope; a negative n still gets the envelope" breaks ["errors.envelope"];
    DistributionCodes = "distribution-codes": "a malformed n is refused with distribution's PAGINATION_NUMBER_INVALID and a chunk out of order with its RANGE_INVALID, codes the OCI table lacks (fine under the distribution profile)" breaks ["errors.code-form"];
    ErrorsBadRequest = "errors-bad-request": "400 errors carry the code BAD_REQUEST, which the spec's table lacks" breaks ["errors.code-form", "names.repository-regex", "push.manifest.missing-blobs-code"];
    ManifestDeleteMethodUnknown = "manifest-delete-method-unknown": "manifest deletion is disabled, answered 405 with the code METHOD_UNKNOWN, which the spec's table lacks" breaks ["errors.code-form"];
    NoDigestHeader = "no-digest-header": "GETs carry no Docker-Content-Digest" breaks ["next.pull.digest-header", "pull.blob.digest-header", "pull.manifest.digest-header"];
    HeadNoDigest = "head-no-digest": "HEADs carry no Docker-Content-Digest" breaks ["next.head.headers", "pull.head.digest-header"];
    FinalPutUnchecked = "final-put-unchecked": "a closing PUT's Content-Range is not checked" breaks ["next.final-put.order"] .skips(Check::FinalChunkOrder);
    ThreeTagsAtMost = "three-tags-at-most": "a manifest PUT with more than 3 ?tag= parameters is refused with 414" breaks ["next.tag-param.ten"];
    NoOciTag = "no-oci-tag": "?tag= tags are made without OCI-Tag" breaks ["next.tag-param.header"];
    BadWarning = "bad-warning": "every answer carries a malformed Warning" breaks ["warnings.format"];
    CatalogIgnoreN = "catalog-ignore-n": "the catalog ignores n" breaks ["dist.catalog.pagination"];
    DockerTypesRefused = "docker-types-refused": "Docker schema 2 media types are refused" breaks ["dist.schema2"];
    NoTagListing = "no-tag-listing": "there is no tag listing: GET of a tags list answers 404 without an error envelope, as a router without the route does" breaks ["category.content-discovery"];
    TagsLastRestart = "tags-last-restart": "last at or past the final tag starts the list again" breaks ["tags.last"];
    TagsStaleAfterDelete = "tags-stale-after-delete": "deleted tags stay in the tags list" breaks ["tags.list"];
    TagSurvivesManifestDelete = "tag-survives-manifest-delete": "a tag still resolves after its manifest was deleted by digest" breaks ["delete.manifest"];
    TagDeleteRace = "tag-delete-race": "a tag is written a while after its manifest, unchecked, so a delete in between leaves it dangling" breaks ["tags.list"];
    AuthNoChallenge = "auth-no-challenge": "401 answers carry no WWW-Authenticate (no client can log in)" breaks ["auth.challenge"] .locks_out();
    AuthWrongCode = "auth-wrong-code": "401 answers carry DENIED instead of UNAUTHORIZED" breaks ["auth.unauthorized-code"] .needs_auth();
    AuthNoService = "auth-no-service": "Bearer challenges leave out the service" breaks ["auth.bearer-challenge"] .needs_auth();
    TokenMissing = "token-missing": "the token endpoint answers without a token (no client can log in)" breaks ["auth.token-response"] .locks_out();
    TokensRefused = "tokens-refused": "valid tokens are refused (no client can log in)" breaks ["auth.token-accepted"] .locks_out();
    ScopeIgnored = "scope-ignored": "any valid token is accepted for any request" breaks ["auth.scope-enforced"] .needs_auth();
}

impl Defect {
    pub fn parse(s: &str) -> Option<Defect> {
        DEFECTS.iter().find(|d| d.name == s).map(|d| d.defect)
    }
    pub fn info(self) -> &'static DefectInfo {
        DEFECTS
            .iter()
            .find(|d| d.defect == self)
            .expect("every defect has a row")
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

/// What [`Defect::ManifestTypeParams`] remembers: the Content-Type each manifest was pushed
/// with, by `repository@digest`.
#[derive(Default)]
pub(crate) struct PushedTypes {
    types: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl PushedTypes {
    fn key(repo: &str, digest: &str) -> String {
        format!("{repo}@{digest}")
    }
    pub(crate) fn remember_type(&self, repo: &str, digest: &str, content_type: &str) {
        if let Ok(mut m) = self.types.lock() {
            m.insert(PushedTypes::key(repo, digest), content_type.to_string());
        }
    }
    pub(crate) fn pushed_type(&self, repo: &str, digest: &str) -> Option<String> {
        let m = self.types.lock().ok()?;
        m.get(&PushedTypes::key(repo, digest)).cloned()
    }
}

/// A check of the spec the reference makes that a defect turns off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Repository names follow the spec's grammar.
    NameGrammar,
    /// A chunk starts where the upload ends.
    ChunkOrder,
    /// The closing PUT's chunk starts where the upload ends.
    FinalChunkOrder,
    /// An upload hashes to the digest it is closed with.
    UploadDigest,
    /// A manifest pushed by digest hashes to it.
    ManifestDigest,
    /// A manifest pushed by a sha512 digest hashes to it.
    Sha512ManifestDigest,
    /// An upload session is used only through the repository it was opened in.
    UploadRepository,
    /// A manifest is no larger than the registry's limit.
    ManifestSize,
}

impl super::Config {
    /// Whether the registry makes `check` (every one, unless a defect turns it off).
    pub fn checks(&self, check: Check) -> bool {
        self.defect.and_then(|d| d.info().skips) != Some(check)
    }
}

/// The middleware applying the request- and answer-level defects around the registry.
pub(crate) async fn layer(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(defect) = app.config.defect else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    let target = Target::parse(&path);
    let endpoint = target
        .as_ref()
        .and_then(|t| api::route_for(t.resource(), method.as_str()))
        .map(|r| r.endpoint);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    let seen = Seen {
        method: &method,
        endpoint,
        target: target.as_ref(),
        path: &path,
        query: &query,
        bearer,
    };
    let req = match requests::before(&app, defect, &seen, req).await {
        Ok(req) => req,
        Err(answer) => return answer.into_response(),
    };
    let (req, after) = match tags::before(&app, defect, &seen, req).await {
        Ok(pair) => pair,
        Err(answer) => return answer,
    };
    let res = next.run(req).await;
    if let Some(late) = tags::left_to_write(after, &res) {
        tags::write_late(&app, late).await;
    }
    answers::rewrite(&app, defect, seen, res).await
}

/// What the layer knows of a request.
pub(crate) struct Seen<'a> {
    pub method: &'a Method,
    pub endpoint: Option<api::Endpoint>,
    pub target: Option<&'a Target<'a>>,
    pub path: &'a str,
    pub query: &'a str,
    /// The request carried a Bearer token.
    pub bearer: bool,
}
