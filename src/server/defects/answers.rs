//! Defects that rewrite an answer after the handler made it.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::Defect;
use crate::oci::ErrorCode;
use crate::oci::api::Endpoint;
use crate::server::App;
use crate::server::error::AppError;

fn set_status(res: &mut Response, from: u16, to: StatusCode) {
    if res.status().as_u16() == from {
        *res.status_mut() = to;
    }
}

/// Whether the query's `n` is no number at all (a negative one is a number).
fn n_is_no_number(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "n")
        .is_some_and(|(_, v)| v.parse::<i64>().is_err())
}

/// The errors of the envelope coded `from` coded `to` instead.
async fn rename_code(res: &mut Response, from: ErrorCode, to: ErrorCode) {
    edit_json(res, |v| {
        for e in v["errors"].as_array_mut().into_iter().flatten() {
            if e["code"] == from.as_str() {
                e["code"] = serde_json::Value::String(to.as_str().into());
            }
        }
    })
    .await
}

/// Rewrites an answer the way `defect` says.
pub(super) async fn rewrite(
    app: &App,
    defect: Defect,
    seen: super::Seen<'_>,
    mut res: Response,
) -> Response {
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
        (D::SinglePostNoLocation, Some(E::UploadStart))
            if seen.query.contains("digest=") && res.status() == StatusCode::CREATED =>
        {
            res.headers_mut().remove(header::LOCATION);
        }
        (D::Put200, Some(E::UploadClose)) => set_status(&mut res, 201, StatusCode::OK),
        (D::Chunk204, Some(E::UploadChunk)) => set_status(&mut res, 202, StatusCode::NO_CONTENT),
        (D::CloseNoLocation, Some(E::UploadClose)) if res.status() == StatusCode::CREATED => {
            res.headers_mut().remove(header::LOCATION);
        }
        // a URL the registry itself made, just not the blob's: the upload path (a closed
        // session, or the uploads endpoint)
        (D::BlobLocationUpload, Some(E::UploadClose | E::UploadStart))
            if res.status() == StatusCode::CREATED =>
        {
            if let Ok(v) = HeaderValue::from_str(seen.path) {
                res.headers_mut().insert(header::LOCATION, v);
            }
        }
        (D::ManifestLocationBlob, Some(E::ManifestPut)) if res.status() == StatusCode::CREATED => {
            let blob = res
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| l.replacen("/manifests/", "/blobs/", 1))
                .and_then(|l| HeaderValue::from_str(&l).ok());
            if let Some(v) = blob {
                res.headers_mut().insert(header::LOCATION, v);
            }
        }
        (D::Status200, Some(E::UploadStatus)) => set_status(&mut res, 204, StatusCode::OK),
        (
            D::UnknownUpload400,
            Some(E::UploadStatus | E::UploadChunk | E::UploadClose | E::UploadCancel),
        ) => set_status(&mut res, 404, StatusCode::BAD_REQUEST),
        (D::Mount200, Some(E::UploadStart)) if seen.query.contains("mount=") => {
            set_status(&mut res, 201, StatusCode::OK)
        }
        (D::UnknownRepoTags, Some(E::TagsList)) if res.status() == StatusCode::NOT_FOUND => {
            let name = match seen.target {
                Some(crate::oci::api::Target::Tags { name }) => *name,
                _ => "",
            };
            let empty = serde_json::json!({ "name": name, "tags": [] });
            res = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, crate::oci::media::JSON)],
                empty.to_string(),
            )
                .into_response();
        }
        (D::MissingBlobCode, Some(E::ManifestPut)) if res.status() == StatusCode::BAD_REQUEST => {
            edit_json(&mut res, |v| {
                let missing = v["errors"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|e| e["code"] == "MANIFEST_BLOB_UNKNOWN"));
                if missing {
                    *v = crate::oci::errors::envelope(
                        crate::oci::ErrorCode::ManifestInvalid,
                        crate::oci::ErrorCode::ManifestInvalid.message(),
                        serde_json::Value::Null,
                    );
                }
            })
            .await
        }
        (D::DeleteUnknownRepo202, Some(E::ManifestDelete))
            if res.status() == StatusCode::NOT_FOUND
                && matches!(seen.target, Some(crate::oci::api::Target::Manifest { reference, .. }) if reference.contains(':')) =>
        {
            res = (StatusCode::ACCEPTED, [(header::CONTENT_LENGTH, "0")]).into_response();
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
        (D::ReferrersWrongSize, Some(E::Referrers)) => {
            edit_json(&mut res, |v| {
                for m in v["manifests"].as_array_mut().into_iter().flatten() {
                    if let Some(size) = m["size"].as_u64() {
                        m["size"] = (size + 1).into();
                    }
                }
            })
            .await
        }
        (D::ReferrersIndexNoMediaType, Some(E::Referrers)) => {
            edit_json(&mut res, |v| {
                if let Some(o) = v.as_object_mut() {
                    o.remove("mediaType");
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
        (D::TagsNull, Some(E::TagsList)) => {
            edit_json(&mut res, |v| {
                if v["tags"] == serde_json::json!([]) {
                    v["tags"] = serde_json::Value::Null;
                }
            })
            .await
        }
        (D::ManifestTypeParams, Some(E::ManifestGet)) if res.status().is_success() => {
            let name = match seen.target {
                Some(crate::oci::api::Target::Manifest { name, .. }) => *name,
                _ => "",
            };
            let digest = res
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let pushed = app.pushed_types.pushed_type(name, digest);
            if let Some(v) = pushed.and_then(|t| HeaderValue::from_str(&t).ok()) {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
        }
        (D::TagsUnsorted, Some(E::TagsList)) => {
            edit_json(&mut res, |v| {
                if let Some(a) = v["tags"].as_array_mut() {
                    a.reverse();
                }
            })
            .await
        }
        (D::UnknownRouteFrameworkJson, None) if res.status() == StatusCode::NOT_FOUND => {
            edit_json(&mut res, |v| {
                *v = serde_json::json!({ "message": "Not Found" })
            })
            .await
        }
        (D::NNotNumberFrameworkJson, Some(E::TagsList | E::Catalog))
            if res.status() == StatusCode::BAD_REQUEST && n_is_no_number(seen.query) =>
        {
            let msg = "Failed to deserialize query string: n: invalid digit found in string";
            edit_json(&mut res, |v| *v = serde_json::json!({ "message": msg })).await
        }
        (D::ErrorsUnenveloped, _) if res.status().is_client_error() => {
            edit_json(&mut res, |v| {
                let msg = v["errors"][0]["message"].clone();
                *v = serde_json::json!({ "error": msg });
            })
            .await
        }
        (D::ErrorsBadRequest, _) if res.status() == StatusCode::BAD_REQUEST => {
            edit_json(&mut res, |v| {
                for e in v["errors"].as_array_mut().into_iter().flatten() {
                    e["code"] = serde_json::Value::String("BAD_REQUEST".into());
                }
            })
            .await
        }
        (D::SeveralFiltersDropped, Some(E::Referrers))
            if crate::server::request::Query::parse(Some(seen.query))
                .all("artifactType")
                .count()
                > 1 =>
        {
            res.headers_mut().insert(
                "oci-filters-applied",
                HeaderValue::from_static("artifactType"),
            );
        }
        // a refused upload told to slow down, without saying for how long
        (D::Refusal429, Some(E::UploadClose)) if res.status() == StatusCode::BAD_REQUEST => {
            set_status(&mut res, 400, StatusCode::TOO_MANY_REQUESTS);
            res.headers_mut().remove(header::RETRY_AFTER);
        }
        (D::ErrorsMessageNumber, _) if res.status().is_client_error() => {
            edit_json(&mut res, |v| {
                for e in v["errors"].as_array_mut().into_iter().flatten() {
                    e["message"] = serde_json::Value::from(400);
                }
            })
            .await
        }
        // the reference's codes for a bad n and a chunk out of order, as distribution names them
        (D::DistributionCodes, Some(E::TagsList | E::Catalog))
            if res.status() == StatusCode::BAD_REQUEST =>
        {
            let (from, to) = (ErrorCode::Unsupported, ErrorCode::PaginationNumberInvalid);
            rename_code(&mut res, from, to).await
        }
        (D::DistributionCodes, Some(E::UploadChunk | E::UploadClose))
            if res.status() == StatusCode::RANGE_NOT_SATISFIABLE =>
        {
            let (from, to) = (ErrorCode::BlobUploadInvalid, ErrorCode::RangeInvalid);
            rename_code(&mut res, from, to).await
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
        (D::BlobShortBody, Some(E::BlobGet)) if get && res.status().is_success() => {
            // half of the first piece of data, then, once that is on the wire, a failed body:
            // the server closes the connection with the handler's Content-Length announced
            let (parts, body) = res.into_parts();
            let half = body.into_data_stream().take(1).map(|chunk| {
                chunk
                    .map(|b| b.slice(..b.len() / 2))
                    .map_err(std::io::Error::other)
            });
            let cut = futures_util::stream::once(async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Err(std::io::Error::other("body cut short on purpose"))
            });
            res = Response::from_parts(parts, Body::from_stream(half.chain(cut)));
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

pub(crate) async fn edit_json(res: &mut Response, f: impl FnOnce(&mut serde_json::Value)) {
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
