//! The `push:` step: getting content in for a scenario (setup), the plain, spec-mandated
//! way first. A blob whose plain push fails is pushed the other ways the spec offers
//! (chunked, single POST); the way that failed breaks its own requirement, and the scenario
//! goes on when another way worked.

use bytes::Bytes;
use reqwest::Url;

use super::scenario::Runner;
use super::{CheckFailure, Stop, error, fail, framing_failure};
use crate::oci::Digest;
use crate::runner::client::{Client, Exchange, Response, TransportError};
use crate::runner::plan::{Push, Source, Step};

impl Runner<'_> {
    pub(super) async fn push(&mut self, step: &Step, p: &Push) -> Result<(), Stop> {
        match p {
            Push::Blob {
                content,
                repo,
                parallel,
            } => {
                let repo = self.render(repo.as_deref().unwrap_or("{repo}"))?;
                let data = self.content(content)?;
                // n pushes of the same blob at once (n = 1: the plain push)
                let pushes = (0..*parallel).map(|_| {
                    push_blob(
                        &self.ctx.client,
                        &self.ctx.base,
                        &repo,
                        content,
                        data.clone(),
                        &step.source,
                    )
                });
                let outcomes = futures_util::future::join_all(pushes).await;
                let mut first_error = None;
                for (log, failed, outcome) in outcomes {
                    self.log.extend(log);
                    self.kept_going.extend(failed);
                    match outcome {
                        Ok(created) => self.created.extend(created),
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                match first_error {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            }
            Push::Manifest {
                content,
                reference,
                repo,
            } => {
                let repo = self.render(repo.as_deref().unwrap_or("{repo}"))?;
                let r = self.resolve(content)?;
                let reference = match reference {
                    Some(t) => self.render(t)?,
                    None => r.digest.to_string(),
                };
                let url = self
                    .ctx
                    .base
                    .join(&format!("/v2/{repo}/manifests/{reference}"))
                    .map_err(|e| error(e.to_string()))?;
                let mt = r
                    .media_type
                    .clone()
                    .unwrap_or_else(|| crate::oci::media::OCI_MANIFEST.to_string());
                let res = self
                    .raw(
                        "PUT",
                        &url,
                        &[("Content-Type".into(), mt)],
                        r.bytes.clone(),
                        false,
                    )
                    .await?;
                if res.status != 201 {
                    return Err(fail(
                        Some("push.manifest.201"),
                        &format!("status of PUT manifest {content}"),
                        "201",
                        res.status.to_string(),
                        &step.source,
                    ));
                }
                framed(&res, &step.source)
            }
        }
    }
}

/// The ways the spec offers to get a blob in, in the order a setup push tries them: a
/// registry that breaks one still gets every other requirement judged, and the broken way
/// fails its own requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// POST opens a session, one PUT with the whole body closes it.
    Monolithic,
    /// POST, one PATCH with the whole body, then a PUT without one.
    Chunked,
    /// One POST with `?digest=` and the body: optional (MAY), so its refusal fails nothing.
    SinglePost,
}

/// Pushes one blob, the plain way first (POST then PUT) and, when that fails, the other
/// ways. Returns the exchanges, the failures of the ways that did not work (when a later
/// one did), and the blob's location — or the first way's failure when none worked.
async fn push_blob(
    client: &Client,
    base: &Url,
    repo: &str,
    name: &str,
    data: Bytes,
    at: &Source,
) -> (Vec<Exchange>, Vec<CheckFailure>, Result<Option<Url>, Stop>) {
    let mut log = vec![];
    let mut failed: Vec<CheckFailure> = vec![];
    let mut first_stop = None;
    for way in [Way::Monolithic, Way::Chunked, Way::SinglePost] {
        // an empty blob has no chunk to send
        if way == Way::Chunked && data.is_empty() {
            continue;
        }
        match push_blob_by(client, base, repo, name, &data, at, way, &mut log).await {
            Ok(Some(location)) => {
                return (log, failed, Ok(location));
            }
            // single-POST declined with a session: allowed, and nothing left to try
            Ok(None) => break,
            Err(Stop::Fail(f)) => {
                failed.extend(f.iter().cloned());
                first_stop.get_or_insert(Stop::Fail(f));
            }
            // the run cannot judge this registry's answers: no other way would do better
            Err(stop) => return (log, vec![], Err(stop)),
        }
    }
    let stop = first_stop.unwrap_or_else(|| error("no way of pushing a blob was tried"));
    // every way failed: the step fails with all of them
    let stop = match stop {
        Stop::Fail(_) => Stop::Fail(failed),
        other => other,
    };
    (log, vec![], Err(stop))
}

/// One way of pushing a blob. `Ok(Some(location))`: pushed (the blob's `Location`, if the
/// registry gave one); `Ok(None)`: single-POST declined (a session was opened instead).
#[allow(clippy::too_many_arguments)]
async fn push_blob_by(
    client: &Client,
    base: &Url,
    repo: &str,
    name: &str,
    data: &Bytes,
    at: &Source,
    way: Way,
    log: &mut Vec<Exchange>,
) -> Result<Option<Option<Url>>, Stop> {
    let digest = Digest::sha256(data);
    let mut start = base
        .join(&format!("/v2/{repo}/blobs/uploads/"))
        .map_err(|e| error(e.to_string()))?;
    let transport = |e: TransportError| error(e.to_string());
    let octets = (
        "Content-Type".to_string(),
        "application/octet-stream".to_string(),
    );
    if way == Way::SinglePost {
        start
            .query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let h = [octets];
        let res = client
            .send("POST", &start, &h, data, false, log)
            .await
            .map_err(transport)?;
        framed(&res, at)?;
        return Ok(match res.status {
            201 => Some(res.header("location").and_then(|l| start.join(l).ok())),
            _ => None,
        });
    }
    let res = client
        .send("POST", &start, &[], &Bytes::new(), false, log)
        .await
        .map_err(transport)?;
    if res.status != 202 {
        return Err(fail(
            Some("push.post.202"),
            &format!("status of POST {start}"),
            "202",
            res.status.to_string(),
            at,
        ));
    }
    framed(&res, at)?;
    let mut url = session_location(&start, &res, "POST", "push.post.202", at)?;
    let mut body = data.clone();
    let mut close = ("push.put.201", "the closing PUT");
    if way == Way::Chunked {
        let h = [
            octets.clone(),
            ("Content-Range".to_string(), format!("0-{}", data.len() - 1)),
        ];
        let res = client
            .send("PATCH", &url, &h, data, false, log)
            .await
            .map_err(transport)?;
        if res.status != 202 {
            return Err(fail(
                Some("push.chunk.202"),
                &format!("status of the PATCH of {name}"),
                "202",
                res.status.to_string(),
                at,
            ));
        }
        framed(&res, at)?;
        url = session_location(&url, &res, "PATCH", "push.chunk.202", at)?;
        body = Bytes::new();
        close = ("push.chunk.close", "the PUT closing the chunked upload");
    }
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    let res = client
        .send("PUT", &url, &[octets], &body, false, log)
        .await
        .map_err(transport)?;
    if res.status != 201 {
        return Err(fail(
            Some(close.0),
            &format!("status of {} of {name}", close.1),
            "201",
            res.status.to_string(),
            at,
        ));
    }
    framed(&res, at)?;
    Ok(Some(res.header("location").and_then(|l| url.join(l).ok())))
}

/// The session URL an answer's `Location` gives, resolved against the request's.
fn session_location(
    base: &Url,
    res: &Response,
    method: &str,
    requirement: &str,
    at: &Source,
) -> Result<Url, Stop> {
    let loc = res.header("location").ok_or_else(|| {
        fail(
            Some(requirement),
            &format!("header Location of the {method}"),
            "present",
            "missing",
            at,
        )
    })?;
    base.join(loc).map_err(|e| {
        fail(
            Some(requirement),
            &format!("header Location of the {method}"),
            "a URL reference",
            format!("{loc:?} ({e})"),
            at,
        )
    })
}

/// An answer of a push whose body broke HTTP framing fails `http.framing`, once its status
/// was judged.
fn framed(res: &Response, at: &Source) -> Result<(), Stop> {
    match framing_failure(res, &at.to_string()) {
        Some(f) => Err(Stop::Fail(vec![f])),
        None => Ok(()),
    }
}
