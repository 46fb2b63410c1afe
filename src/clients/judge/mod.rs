//! The client's duties judged on one workflow's run: on the requests it sent (as recorded)
//! and on what became of it. Each check speaks only when the run exercised its duty.

use std::collections::HashMap;

use serde_json::Value;

use super::{Condition, Outcome};
use crate::oci::api::Endpoint;
use crate::oci::{Algorithm, Digest};
use crate::server::defects::Defect;
use crate::server::recorder::{Exchange, STATE_PARAM};

/// The client requirements judged here, by id (the ids of specs/requirements/clients.yaml).
pub const CHUNK_RANGE: &str = "client.chunk-range";
pub const CHUNK_ORDER: &str = "client.chunk-order";
pub const CHUNK_MIN_LENGTH: &str = "client.chunk-min-length";
pub const LOCATION_AS_GIVEN: &str = "client.location-as-given";
pub const SET_CONTENT_TYPE: &str = "client.set-content-type";
pub const ACCEPT: &str = "client.accept";
pub const VERIFY_BLOB: &str = "client.verify-blob";
pub const VERIFY_MANIFEST: &str = "client.verify-manifest";
pub const REFERRERS_FALLBACK: &str = "client.referrers-fallback";
pub const SINGLE_POST_CONTINUED: &str = "client.single-post-continued";
pub const MOUNT_CONTINUED: &str = "client.mount-continued";
pub const TAGS_LINK: &str = "client.tags-link";
pub const FOLLOW_REDIRECTS: &str = "client.follow-redirects";

/// Every requirement judged, in report order.
pub const JUDGED: [&str; 13] = [
    CHUNK_RANGE,
    CHUNK_ORDER,
    CHUNK_MIN_LENGTH,
    LOCATION_AS_GIVEN,
    SET_CONTENT_TYPE,
    ACCEPT,
    VERIFY_BLOB,
    VERIFY_MANIFEST,
    REFERRERS_FALLBACK,
    SINGLE_POST_CONTINUED,
    MOUNT_CONTINUED,
    TAGS_LINK,
    FOLLOW_REDIRECTS,
];

/// One judgement of one requirement on one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub requirement: &'static str,
    pub passed: bool,
    /// What was seen (the request, or the client's result).
    pub detail: String,
}

impl Finding {
    fn new(requirement: &'static str, passed: bool, detail: impl Into<String>) -> Finding {
        Finding {
            requirement,
            passed,
            detail: detail.into(),
        }
    }
}

/// Every finding of one run.
pub fn judge(o: &Outcome) -> Vec<Finding> {
    let mut out = uploads(&o.exchanges);
    out.extend(manifests(&o.exchanges));
    out.extend(referrers(&o.exchanges));
    out.extend(single_posts(&o.exchanges));
    out.extend(mounts(&o.exchanges));
    out.extend(tag_pages(&o.exchanges));
    out.extend(redirects(&o.exchanges));
    if matches!(
        o.condition,
        Condition::Defect(Defect::BlobCorrupted | Defect::BlobShortBody)
    ) && o
        .exchanges
        .iter()
        .any(|e| e.endpoint == Some(Endpoint::BlobGet) && e.method == "GET" && e.status == 200)
    {
        out.push(Finding::new(
            VERIFY_BLOB,
            !o.ran.succeeded(),
            if o.ran.succeeded() {
                "the client succeeded with blobs whose bytes (corrupted or cut short) do not match their digest"
            } else {
                "the client failed on blobs whose bytes (corrupted or cut short) do not match their digest"
            },
        ));
    }
    // the stored manifest reformatted, a GET by digest returns bytes that do not match it
    if o.condition == Condition::Defect(Defect::ManifestReformatted)
        && o.exchanges.iter().any(|e| {
            e.endpoint == Some(Endpoint::ManifestGet)
                && e.method == "GET"
                && e.status == 200
                && by_digest(&e.target)
        })
    {
        out.push(Finding::new(
            VERIFY_MANIFEST,
            !o.ran.succeeded(),
            if o.ran.succeeded() {
                "the client succeeded with a manifest, asked for by digest, whose bytes do not match that digest"
            } else {
                "the client failed on a manifest, asked for by digest, whose bytes do not match that digest"
            },
        ));
    }
    out
}

/// Whether a manifest request's reference is a digest (`algorithm:hex`; a tag has no colon).
fn by_digest(target: &str) -> bool {
    let path = target.split('?').next().unwrap_or(target);
    path.rsplit_once("/manifests/")
        .is_some_and(|(_, reference)| reference.parse::<Digest>().is_ok())
}

/// `METHOD target` of a request, for evidence.
fn said(e: &Exchange) -> String {
    format!("{} {}", e.method, e.target)
}

/// An upload session as the client drives it.
#[derive(Default)]
struct Session {
    /// Every location the registry gave for it, as path and query.
    given: Vec<String>,
    /// Bytes the registry accepted so far.
    accepted: u64,
    /// Whether a chunk with a Content-Range was already sent.
    ranged: bool,
    /// The announced minimum chunk length.
    min: Option<u64>,
    /// Lengths of the chunks sent, in order (PATCH bodies, and the closing PUT's if any).
    chunks: Vec<u64>,
}

/// The path and query of a location, absolute or relative.
fn origin_form(loc: &str) -> String {
    match loc.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/".into(), |i| rest[i..].to_string()),
        None => loc.to_string(),
    }
}

/// A location's query parameters, sorted, without `digest` (the closing PUT adds it).
fn params(target: &str) -> Vec<(String, String)> {
    let q = target.split_once('?').map_or("", |(_, q)| q);
    let mut v: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "digest")
        .collect();
    v.sort();
    v
}

fn path_of(target: &str) -> &str {
    target.split('?').next().unwrap_or_default()
}

/// Chunk ranges, chunk order, chunk minimum and locations used as given.
fn uploads(exchanges: &[Exchange]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut sessions: HashMap<String, Session> = HashMap::new();
    for e in exchanges {
        let given = e
            .response_header("location")
            .map(origin_form)
            .filter(|l| l.contains("/blobs/uploads/") && l.contains(STATE_PARAM));
        match e.endpoint {
            Some(Endpoint::UploadStart) => {
                if let Some(loc) = given {
                    let s = sessions.entry(path_of(&loc).to_string()).or_default();
                    s.min = e
                        .response_header("oci-chunk-min-length")
                        .and_then(|v| v.trim().parse().ok());
                    s.given.push(loc);
                }
                continue;
            }
            Some(
                Endpoint::UploadChunk
                | Endpoint::UploadClose
                | Endpoint::UploadStatus
                | Endpoint::UploadCancel,
            ) => {}
            _ => continue,
        }
        let Some(s) = sessions.get_mut(e.path()) else {
            out.push(Finding::new(
                LOCATION_AS_GIVEN,
                false,
                format!("{}: no location the registry gave names this path", said(e)),
            ));
            continue;
        };
        let as_given = s
            .given
            .iter()
            .any(|g| path_of(g) == e.path() && params(g) == params(&e.target));
        out.push(Finding::new(
            LOCATION_AS_GIVEN,
            as_given,
            if as_given {
                said(e)
            } else {
                format!(
                    "{}: not a location the registry gave (last given: {})",
                    said(e),
                    s.given.last().map_or("", String::as_str)
                )
            },
        ));
        let is_chunk = matches!(e.endpoint, Some(Endpoint::UploadChunk))
            || (e.endpoint == Some(Endpoint::UploadClose) && e.body_len > 0);
        if is_chunk {
            // a chunk refused as out of order is sent again: it counts once, in order
            if e.status != 416 {
                s.chunks.push(e.body_len);
            }
            if let Some(range) = e.request_header("content-range") {
                out.extend(ranged_chunk(e, range, s));
                s.ranged = true;
            }
        }
        if e.endpoint == Some(Endpoint::UploadChunk) && e.status == 202 {
            s.accepted += e.body_len;
        }
        if let Some(loc) = given {
            s.given.push(loc);
        }
    }
    for (path, s) in &sessions {
        if let Some(min) = s.min
            && !s.chunks.is_empty()
        {
            let short = s.chunks[..s.chunks.len() - 1].iter().find(|&&n| n < min);
            out.push(Finding::new(
                CHUNK_MIN_LENGTH,
                short.is_none(),
                match short {
                    Some(n) => format!(
                        "{path}: a chunk of {n} bytes before the final one, under the announced minimum {min}"
                    ),
                    None => format!("{path}: chunks {:?}, minimum {min}", s.chunks),
                },
            ));
        }
    }
    out
}

/// The range a chunk names: its form, inclusive ends and first start, and its order.
fn ranged_chunk(e: &Exchange, range: &str, s: &Session) -> Vec<Finding> {
    let mut out = Vec::new();
    let parsed = range
        .split_once('-')
        .filter(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
    let Some((start, end)) = parsed else {
        out.push(Finding::new(
            CHUNK_RANGE,
            false,
            format!("{}: Content-Range {range:?} is not <start>-<end>", said(e)),
        ));
        return out;
    };
    let length = e
        .request_header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let problem = if end < start || end - start + 1 != e.body_len {
        Some(format!(
            "Content-Range {range} does not cover the {} bytes sent, both ends included",
            e.body_len
        ))
    } else if !s.ranged && start != 0 {
        Some(format!(
            "the first chunk's range {range} does not begin at 0"
        ))
    } else if length.is_some_and(|n| n != e.body_len) {
        Some(format!(
            "Content-Length {} is not the {} bytes of the chunk",
            length.unwrap_or_default(),
            e.body_len
        ))
    } else {
        None
    };
    out.push(Finding::new(
        CHUNK_RANGE,
        problem.is_none(),
        match &problem {
            Some(p) => format!("{}: {p}", said(e)),
            None => format!("{}: Content-Range {range}", said(e)),
        },
    ));
    let in_order = start == s.accepted;
    out.push(Finding::new(
        CHUNK_ORDER,
        in_order,
        if in_order {
            format!("{}: Content-Range {range}", said(e))
        } else {
            format!(
                "{}: Content-Range {range} after {} bytes accepted",
                said(e),
                s.accepted
            )
        },
    ));
    out
}

/// The media type a manifest body names, if it is JSON with a `mediaType` string.
fn media_type(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .get("mediaType")?
        .as_str()
        .map(String::from)
}

/// Content-Type of manifest PUTs, Accept of manifest GETs and HEADs.
fn manifests(exchanges: &[Exchange]) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in exchanges {
        match e.endpoint {
            Some(Endpoint::ManifestPut) => {
                let Some(want) = e.body.as_deref().and_then(media_type) else {
                    continue;
                };
                let sent = e.request_header("content-type").unwrap_or("");
                out.push(Finding::new(
                    SET_CONTENT_TYPE,
                    sent.trim() == want,
                    format!("{}: Content-Type {sent:?}, mediaType {want:?}", said(e)),
                ));
            }
            Some(Endpoint::ManifestGet) if e.status == 200 => {
                let served = e
                    .response_header("content-type")
                    .map(|t| t.split(';').next().unwrap_or("").trim().to_string())
                    .unwrap_or_default();
                let accept = e.request_header("accept").unwrap_or("");
                let named = accept
                    .split(',')
                    .map(|r| r.split(';').next().unwrap_or("").trim())
                    .any(|r| r.eq_ignore_ascii_case(&served));
                out.push(Finding::new(
                    ACCEPT,
                    named,
                    format!("{}: Accept {accept:?}, served {served:?}", said(e)),
                ));
            }
            _ => {}
        }
    }
    out
}

/// The tag the referrers tag schema gives `digest`: `<alg>-<hex>`.
fn schema_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// The referrers fallback: after a 404 from the referrers API the client reads the tag
/// schema; after pushing a manifest with a subject that the registry did not acknowledge
/// (no OCI-Subject), it pushes the tag schema's index naming that manifest.
fn referrers(exchanges: &[Exchange]) -> Vec<Finding> {
    let mut out = Vec::new();
    let manifest_ref = |e: &Exchange| {
        e.path()
            .rsplit_once("/manifests/")
            .map(|(_, r)| r.to_string())
    };
    for (i, e) in exchanges.iter().enumerate() {
        let later = &exchanges[i + 1..];
        if e.endpoint == Some(Endpoint::Referrers) && e.status == 404 {
            let Some(subject) = e.path().rsplit('/').next() else {
                continue;
            };
            let tag = schema_tag(subject);
            let read = later.iter().any(|l| {
                l.endpoint == Some(Endpoint::ManifestGet)
                    && manifest_ref(l).as_deref() == Some(&tag)
            });
            out.push(Finding::new(
                REFERRERS_FALLBACK,
                read,
                format!(
                    "{}: 404; the tag schema's {tag} {}",
                    said(e),
                    if read { "was read" } else { "was never read" }
                ),
            ));
        }
        if e.endpoint == Some(Endpoint::ManifestPut)
            && e.status == 201
            && e.response_header("oci-subject").is_none()
            && let Some(body) = e.body.as_deref()
            && let Some(subject) = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("subject")?.get("digest")?.as_str().map(String::from))
        {
            let pushed = Digest::of(Algorithm::Sha256, body).to_string();
            let tag = schema_tag(&subject);
            let updated = later.iter().any(|l| {
                l.endpoint == Some(Endpoint::ManifestPut)
                    && manifest_ref(l).as_deref() == Some(&tag)
                    && l.body
                        .as_deref()
                        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                        .and_then(|v| v.get("manifests")?.as_array().cloned())
                        .is_some_and(|ms| {
                            ms.iter()
                                .any(|m| m.get("digest").and_then(Value::as_str) == Some(&pushed))
                        })
            });
            out.push(Finding::new(
                REFERRERS_FALLBACK,
                updated,
                format!(
                    "{}: a manifest with a subject, answered without OCI-Subject; the tag schema's {tag} {}",
                    said(e),
                    if updated {
                        "was pushed naming it"
                    } else {
                        "was never pushed naming it"
                    }
                ),
            ));
        }
    }
    out
}

/// A blob pushed by single POST and answered 202 with a session (the registry did not take
/// it): the client goes on to close that session with the blob's digest.
fn single_posts(exchanges: &[Exchange]) -> Vec<Finding> {
    let digest_of = |target: &str| {
        let q = target.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "digest")
            .map(|(_, v)| v.into_owned())
    };
    let mut out = Vec::new();
    for (i, e) in exchanges.iter().enumerate() {
        if e.endpoint != Some(Endpoint::UploadStart) || e.status != 202 || e.body_len == 0 {
            continue;
        }
        let Some(digest) = digest_of(&e.target) else {
            continue;
        };
        let Some(session) = e
            .response_header("location")
            .map(origin_form)
            .map(|l| path_of(&l).to_string())
        else {
            continue;
        };
        let closed = exchanges[i + 1..].iter().any(|l| {
            l.endpoint == Some(Endpoint::UploadClose)
                && l.path() == session
                && digest_of(&l.target).as_deref() == Some(&digest)
        });
        out.push(Finding::new(
            SINGLE_POST_CONTINUED,
            closed,
            format!(
                "{}: answered 202 with a session, {}",
                said(e),
                if closed {
                    "closed by a PUT with the digest"
                } else {
                    "never closed with the digest"
                }
            ),
        ));
    }
    out
}

/// A mount answered 202 opened a session: the client may go on with it (a permission: the
/// finding says whether it did, and the report counts it used or not, never failed).
fn mounts(exchanges: &[Exchange]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, e) in exchanges.iter().enumerate() {
        let q = e.target.split_once('?').map_or("", |(_, q)| q);
        let is_mount = form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "mount");
        if e.endpoint != Some(Endpoint::UploadStart) || !is_mount || e.status != 202 {
            continue;
        }
        let Some(session) = e
            .response_header("location")
            .map(origin_form)
            .map(|l| path_of(&l).to_string())
        else {
            continue;
        };
        let continued = exchanges[i + 1..].iter().any(|l| {
            matches!(
                l.endpoint,
                Some(Endpoint::UploadChunk | Endpoint::UploadClose)
            ) && l.path() == session
        });
        out.push(Finding::new(
            MOUNT_CONTINUED,
            continued,
            format!(
                "{}: answered 202 with a session, {}",
                said(e),
                if continued {
                    "which the upload went on with"
                } else {
                    "left unused"
                }
            ),
        ));
    }
    out
}

/// The target of a `Link: <url>; rel="next"` header, as path and query.
fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .contains("next")
            .then(|| origin_form(url.trim().trim_start_matches('<').trim_end_matches('>')))
    })
}

/// A tag page answered with a `Link` to the next one: the client asks for that page.
fn tag_pages(exchanges: &[Exchange]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, e) in exchanges.iter().enumerate() {
        if e.endpoint != Some(Endpoint::TagsList) || e.status != 200 {
            continue;
        }
        let Some(next) = e.response_header("link").and_then(next_link) else {
            continue;
        };
        let followed = exchanges[i + 1..]
            .iter()
            .any(|l| l.endpoint == Some(Endpoint::TagsList) && l.target == next);
        out.push(Finding::new(
            TAGS_LINK,
            followed,
            format!(
                "{}: Link to {next}, {}",
                said(e),
                if followed {
                    "followed"
                } else {
                    "never asked for"
                }
            ),
        ));
    }
    out
}

/// A redirect answered: the client sends the request again to the location it names.
fn redirects(exchanges: &[Exchange]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, e) in exchanges.iter().enumerate() {
        if !matches!(e.status, 301 | 302 | 303 | 307 | 308) {
            continue;
        }
        let Some(to) = e.response_header("location").map(origin_form) else {
            continue;
        };
        let followed = exchanges[i + 1..].iter().any(|l| l.target == to);
        out.push(Finding::new(
            FOLLOW_REDIRECTS,
            followed,
            format!(
                "{}: {} to {to}, {}",
                said(e),
                e.status,
                if followed {
                    "followed"
                } else {
                    "never followed"
                }
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
