//! end-3 (GET/HEAD a manifest), end-7 (PUT, with `?tag=`), end-9 (DELETE a manifest or tag).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::json;

use super::App;
use super::defects::Check;
use super::error::{AppError, Result};
use super::request::{Query, deletion_disabled};
use crate::oci::manifest::{self, ManifestError};
use crate::oci::media::{self, ManifestKind};
use crate::oci::name::{Reference, valid_tag};
use crate::oci::{Digest, ErrorCode};

fn parse_reference(reference: &str) -> Result<Reference> {
    Reference::parse(reference).map_err(|e| match e {
        crate::oci::name::ReferenceError::Digest(d) => AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::DigestInvalid,
            d.to_string(),
        ),
        other => AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ManifestInvalid,
            other.to_string(),
        )
        .detail(json!({ "reference": reference })),
    })
}

fn manifest_unknown(reference: &str) -> AppError {
    AppError::code(StatusCode::NOT_FOUND, ErrorCode::ManifestUnknown)
        .detail(json!({ "reference": reference }))
}

fn name_unknown(repo: &str) -> AppError {
    AppError::code(StatusCode::NOT_FOUND, ErrorCode::NameUnknown).detail(json!({ "name": repo }))
}

/// Resolves a reference to a digest in `repo`: 404 `NAME_UNKNOWN` for an unknown repository,
/// 404 `MANIFEST_UNKNOWN` for an unknown tag.
async fn resolve(app: &App, repo: &str, reference: &Reference, raw: &str) -> Result<Digest> {
    let r = repo.to_string();
    if !app.blocking(move |s| s.repo_exists(&r)).await? {
        return Err(name_unknown(repo));
    }
    match reference {
        Reference::Digest(d) => Ok(d.clone()),
        Reference::Tag(t) => {
            let (r, t) = (repo.to_string(), t.clone());
            app.blocking(move |s| s.tag_get(&r, &t))
                .await?
                .ok_or_else(|| manifest_unknown(raw))
        }
    }
}

pub async fn get(app: &App, repo: &str, reference: &str, head: bool) -> Result<Response> {
    if matches!(
        Reference::parse(reference),
        Err(crate::oci::name::ReferenceError::Invalid(_))
    ) {
        // No tag is spelled so, so no manifest is known by it: "If the manifest is not found
        // in the repository, the response code MUST be 404".
        return Err(manifest_unknown(reference));
    }
    let parsed = parse_reference(reference)?;
    let digest = resolve(app, repo, &parsed, reference).await?;
    let (r, d) = (repo.to_string(), digest.clone());
    let Some((media_type, body)) = app.blocking(move |s| s.manifest_get(&r, &d)).await? else {
        return Err(manifest_unknown(reference));
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, media_type)
        .header(header::CONTENT_LENGTH, body.len())
        .header("docker-content-digest", digest.to_string())
        .header(header::ETAG, format!("\"{digest}\""))
        .body(if head {
            Body::empty()
        } else {
            Body::from(body)
        })
        .map_err(AppError::internal)
}

pub async fn put(
    app: &App,
    repo: &str,
    reference: &str,
    query: &Query,
    req: Request,
) -> Result<Response> {
    let parsed = parse_reference(reference)?;
    let limit = if app.config.checks(Check::ManifestSize) {
        app.config.max_manifest_bytes
    } else {
        usize::MAX
    };
    let too_large = || {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::ManifestInvalid,
            format!("manifests are limited to {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        super::drain(req.into_body(), super::DRAIN_LIMIT).await;
        return Err(too_large());
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| media::essence(v).to_string());
    let body = http_body_util::Limited::new(req.into_body(), limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                AppError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::ManifestInvalid,
                    format!("request body ended early: {e}"),
                )
            }
        })?
        .to_bytes();

    let m = manifest::parse(&body, content_type.as_deref()).map_err(|e| {
        let detail = match &e {
            ManifestError::MediaTypeMismatch { field, header } => {
                json!({ "mediaType": field, "contentType": header })
            }
            _ => json!({ "reason": e.to_string() }),
        };
        AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ManifestInvalid,
            e.to_string(),
        )
        .detail(detail)
    })?;

    let digest = match &parsed {
        Reference::Digest(d)
            if !app.config.checks(Check::ManifestDigest)
                || (d.algorithm() == crate::oci::Algorithm::Sha512
                    && !app.config.checks(Check::Sha512ManifestDigest)) =>
        {
            d.clone()
        }
        Reference::Digest(d) => {
            let actual = Digest::of(d.algorithm(), &body);
            if &actual != d {
                return Err(AppError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::DigestInvalid,
                    "the manifest does not hash to the digest it was pushed to",
                )
                .detail(json!({ "expected": d.to_string(), "actual": actual.to_string() })));
            }
            actual
        }
        Reference::Tag(_) => Digest::sha256(&body),
    };

    let mut tags: Vec<String> = match &parsed {
        Reference::Tag(t) => vec![t.clone()],
        Reference::Digest(_) => vec![],
    };
    for t in query.all("tag") {
        if !valid_tag(t) {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::ManifestInvalid,
                format!("invalid tag {t:?}"),
            ));
        }
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_string());
        }
    }

    // Everything the manifest references must be here, except its subject (which may be
    // pushed later) and content declared to live elsewhere (`urls`).
    let needed: Vec<(Digest, bool)> = m
        .config
        .iter()
        .chain(m.children.iter())
        .filter(|d| !d.external)
        .map(|d| (d.digest.clone(), m.kind == ManifestKind::Index))
        .collect();
    let r = repo.to_string();
    let missing = app
        .blocking(move |s| {
            let mut missing = vec![];
            for (d, is_manifest) in needed {
                let present = s.blob_size(&r, &d)?.is_some()
                    || (is_manifest && s.manifest_get(&r, &d)?.is_some());
                if !present {
                    missing.push(d);
                }
            }
            Ok(missing)
        })
        .await?;
    if let Some((first, rest)) = missing.split_first() {
        let err = |d: &Digest| json!({ "digest": d.to_string() });
        let mut e = AppError::code(StatusCode::BAD_REQUEST, ErrorCode::ManifestBlobUnknown)
            .detail(err(first));
        for d in rest {
            e = e.also(
                ErrorCode::ManifestBlobUnknown,
                ErrorCode::ManifestBlobUnknown.message(),
                err(d),
            );
        }
        return Err(e);
    }

    let referrer = m.subject.as_ref().map(|s| {
        (
            s.digest.clone(),
            m.referrer_descriptor(&digest, body.len() as u64),
        )
    });
    // a delete of this digest must not interleave with the tag writes below
    let _repo_lock = app.repo_lock(repo).await;
    let (r, d, mt, b, t, rf) = (
        repo.to_string(),
        digest.clone(),
        m.media_type.clone(),
        body.clone(),
        tags.clone(),
        referrer.clone(),
    );
    app.blocking(move |s| {
        s.manifest_put(&r, &d, &mt, &b)?;
        if let Some((subject, desc)) = rf {
            s.referrer_put(&r, &subject, &d, &desc)?;
        }
        for tag in &t {
            s.tag_put(&r, tag, &d)?;
        }
        Ok(())
    })
    .await?;

    let mut res = Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{repo}/manifests/{digest}"))
        .header("docker-content-digest", digest.to_string())
        .header(header::CONTENT_LENGTH, 0);
    if let Some((subject, _)) = &referrer {
        res = res.header("oci-subject", subject.to_string());
    }
    if matches!(parsed, Reference::Digest(_)) && !tags.is_empty() {
        res = res.header("oci-tag", tags.join(", "));
    }
    res.body(Body::empty()).map_err(AppError::internal)
}

pub async fn delete(app: &App, repo: &str, reference: &str) -> Result<Response> {
    if !app.config.delete_enabled {
        return Err(deletion_disabled());
    }
    let parsed = parse_reference(reference)?;
    let r = repo.to_string();
    if !app.blocking(move |s| s.repo_exists(&r)).await? {
        return Err(name_unknown(repo));
    }
    let (r, raw) = (repo.to_string(), reference.to_string());
    // a tag put racing this delete must land wholly before or wholly after it
    let _repo_lock = app.repo_lock(repo).await;
    let found = app
        .blocking(move |s| match parsed {
            Reference::Tag(t) => s.tag_delete(&r, &t),
            Reference::Digest(d) => {
                let Some((mt, body)) = s.manifest_get(&r, &d)? else {
                    return Ok(false);
                };
                s.manifest_delete(&r, &d)?;
                // tags pointing at it go with it; so does its entry in its subject's referrers
                for t in s.tags_pointing_at(&r, &d)? {
                    s.tag_delete(&r, &t)?;
                }
                if let Ok(m) = manifest::parse(&body, Some(&mt))
                    && let Some(subject) = m.subject
                {
                    s.referrer_delete(&r, &subject.digest, &d)?;
                }
                Ok(true)
            }
        })
        .await?;
    if !found {
        return Err(manifest_unknown(&raw));
    }
    Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .map_err(AppError::internal)
}
