//! Sends an operation: the requests it takes, each following what the previous answer says
//! (an upload's Location, a list's Link), and every answer kept for the oracle.

use bytes::Bytes;
use reqwest::Url;

use super::ops::{Op, Reference, Upload};
use crate::oci::Digest;
use crate::oci::media;
use crate::runner::client::{Client, Response, TransportError};

/// Pages a walk follows at most: more means the registry loops.
pub(crate) const MAX_PAGES: usize = 24;

/// One request and its answer.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub method: &'static str,
    pub url: String,
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
    pub fn next_link(&self) -> Option<String> {
        let values: Vec<String> = self
            .headers
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect();
        crate::runner::link::next_link(&values)
    }
}

/// Where the exploration's repositories live.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub base: Url,
    /// The repositories' common prefix (the namespace and the run).
    pub prefix: String,
}

impl Target {
    pub fn repo(&self, r: usize) -> String {
        format!("{}/r{r}", self.prefix)
    }
}

struct Session<'a> {
    client: &'a Client,
    target: &'a Target,
    answers: Vec<Answer>,
}

impl Session<'_> {
    async fn send(
        &mut self,
        method: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<&Answer, TransportError> {
        let url = self
            .target
            .base
            .join(url)
            .map_err(|e| TransportError::Exchange {
                detail: format!("bad URL {url}: {e}"),
            })?;
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut log = vec![];
        let Response {
            status,
            headers,
            body,
            ..
        } = self
            .client
            .send(method, &url, &headers, &body, false, &mut log)
            .await?;
        self.answers.push(Answer {
            method,
            url: url.to_string(),
            status,
            headers,
            body,
        });
        Ok(self.answers.last().expect("just pushed"))
    }
}

fn with_query(location: &str, key: &str, value: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    let v: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    format!("{location}{sep}{key}={v}")
}

const OCTET: (&str, &str) = ("content-type", media::OCTET_STREAM);

/// Sends `op`; the answers, in order (a transport failure is an error, not a discrepancy).
pub(crate) async fn run(
    client: &Client,
    target: &Target,
    op: &Op,
) -> Result<Vec<Answer>, TransportError> {
    let mut s = Session {
        client,
        target,
        answers: vec![],
    };
    let repo = |r: &usize| target.repo(*r);
    match op {
        Op::PushBlob {
            repo: r,
            data,
            upload,
            algorithm,
        } => {
            let digest = Digest::of(*algorithm, data).to_string();
            let start = format!("/v2/{}/blobs/uploads/", repo(r));
            let min_chunk;
            let mut location = if *upload == Upload::Single {
                let url = with_query(&start, "digest", &digest);
                let a = s.send("POST", &url, &[OCTET], data.clone()).await?;
                if a.status != 202 {
                    return Ok(s.answers);
                }
                // the registry opened a session instead: the body goes with the PUT
                let Some(l) = a.header("location").map(String::from) else {
                    return Ok(s.answers);
                };
                let url = with_query(&l, "digest", &digest);
                s.send("PUT", &url, &[OCTET], data.clone()).await?;
                return Ok(s.answers);
            } else {
                let a = s.send("POST", &start, &[], Bytes::new()).await?;
                min_chunk = a
                    .header("oci-chunk-min-length")
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(1);
                match (a.status, a.header("location")) {
                    (202, Some(l)) => l.to_string(),
                    _ => return Ok(s.answers),
                }
            };
            let rest = match upload {
                Upload::Chunked(k) => {
                    // chunks but the last are at least the minimum the registry announced
                    let size = data.len().div_ceil(*k).max(min_chunk).max(1);
                    for (i, chunk) in data.chunks(size).enumerate() {
                        let from = i * size;
                        let range = format!("{from}-{}", from + chunk.len() - 1);
                        let a = s
                            .send(
                                "PATCH",
                                &location,
                                &[OCTET, ("content-range", &range)],
                                Bytes::copy_from_slice(chunk),
                            )
                            .await?;
                        match (a.status, a.header("location")) {
                            (202, Some(l)) => location = l.to_string(),
                            _ => return Ok(s.answers),
                        }
                    }
                    Bytes::new()
                }
                Upload::Streamed => {
                    let a = s.send("PATCH", &location, &[OCTET], data.clone()).await?;
                    match (a.status, a.header("location")) {
                        (202, Some(l)) => location = l.to_string(),
                        _ => return Ok(s.answers),
                    }
                    Bytes::new()
                }
                Upload::Monolithic | Upload::Single => data.clone(),
            };
            let url = with_query(&location, "digest", &digest);
            s.send("PUT", &url, &[OCTET], rest).await?;
        }
        Op::GetBlob {
            repo: r,
            digest,
            head,
            range,
        } => {
            let url = format!("/v2/{}/blobs/{digest}", repo(r));
            let method = if *head { "HEAD" } else { "GET" };
            match range {
                Some((a, b)) => {
                    let h = format!("bytes={a}-{b}");
                    s.send(method, &url, &[("range", &h)], Bytes::new()).await?
                }
                None => s.send(method, &url, &[], Bytes::new()).await?,
            };
        }
        Op::DeleteBlob { repo: r, digest } => {
            let url = format!("/v2/{}/blobs/{digest}", repo(r));
            s.send("DELETE", &url, &[], Bytes::new()).await?;
        }
        Op::Mount { from, to, digest } => {
            let url = format!("/v2/{}/blobs/uploads/", repo(to));
            let url = with_query(&url, "mount", &digest.to_string());
            let url = with_query(&url, "from", &repo(from));
            let a = s.send("POST", &url, &[], Bytes::new()).await?;
            if a.status == 202
                && let Some(l) = a.header("location").map(String::from)
            {
                // not mounted: the session opened instead is not wanted
                s.send("DELETE", &l, &[], Bytes::new()).await?;
            }
        }
        Op::PushManifest {
            repo: r,
            media_type,
            body,
            reference,
        } => {
            let url = format!("/v2/{}/manifests/{reference}", repo(r));
            s.send("PUT", &url, &[("content-type", media_type)], body.clone())
                .await?;
        }
        Op::GetManifest {
            repo: r,
            reference,
            head,
        } => {
            let url = format!("/v2/{}/manifests/{reference}", repo(r));
            let accept = [
                media::OCI_MANIFEST,
                media::OCI_INDEX,
                media::DOCKER_MANIFEST,
                media::DOCKER_MANIFEST_LIST,
            ]
            .join(", ");
            let method = if *head { "HEAD" } else { "GET" };
            s.send(method, &url, &[("accept", &accept)], Bytes::new())
                .await?;
        }
        Op::DeleteManifest { repo: r, digest } => {
            let reference = Reference::Digest(digest.clone());
            let url = format!("/v2/{}/manifests/{reference}", repo(r));
            s.send("DELETE", &url, &[], Bytes::new()).await?;
        }
        Op::DeleteTag { repo: r, tag } => {
            let url = format!("/v2/{}/manifests/{tag}", repo(r));
            s.send("DELETE", &url, &[], Bytes::new()).await?;
        }
        Op::ListTags { repo: r, n, last } => {
            let url = format!("/v2/{}/tags/list", repo(r));
            walk(&mut s, &url, *n, last.clone(), "tags").await?;
        }
        Op::Catalog { n } => {
            // start at the run's own repositories: the catalog may list many others
            let last = n.map(|_| target.prefix.clone());
            walk(&mut s, "/v2/_catalog", *n, last, "repositories").await?;
        }
        Op::Referrers {
            repo: r,
            subject,
            artifact_type,
        } => {
            let mut url = format!("/v2/{}/referrers/{subject}", repo(r));
            if let Some(at) = artifact_type {
                url = with_query(&url, "artifactType", at);
            }
            for _ in 0..MAX_PAGES {
                let a = s
                    .send("GET", &url, &[("accept", media::OCI_INDEX)], Bytes::new())
                    .await?;
                match (a.status, a.next_link()) {
                    (200, Some(next)) => url = next,
                    _ => break,
                }
            }
        }
        Op::CancelUpload { repo: r, chunk } => {
            let start = format!("/v2/{}/blobs/uploads/", repo(r));
            let a = s.send("POST", &start, &[], Bytes::new()).await?;
            let Some(mut location) = a.header("location").map(String::from) else {
                return Ok(s.answers);
            };
            if let Some(c) = chunk {
                let a = s.send("PATCH", &location, &[OCTET], c.clone()).await?;
                match (a.status, a.header("location")) {
                    (202, Some(l)) => location = l.to_string(),
                    _ => return Ok(s.answers),
                }
            }
            s.send("DELETE", &location, &[], Bytes::new()).await?;
            s.send("GET", &location, &[], Bytes::new()).await?;
        }
    }
    Ok(s.answers)
}

/// Walks a list to its end: the Link when there is one, else the next page by `last` while
/// pages come full.
async fn walk(
    s: &mut Session<'_>,
    path: &str,
    n: Option<usize>,
    mut last: Option<String>,
    field: &str,
) -> Result<(), TransportError> {
    let mut url = page_url(path, n, last.as_deref());
    for _ in 0..MAX_PAGES {
        let a = s.send("GET", &url, &[], Bytes::new()).await?;
        if a.status != 200 {
            break;
        }
        let names: Vec<String> = a
            .json()
            .and_then(|v| v.get(field).cloned())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        // a Link leads on, asked for or not (a registry may page on its own)
        if let Some(next) = a.next_link() {
            url = next;
            continue;
        }
        let Some(n) = n else { break };
        if names.len() < n || names.is_empty() || names.last() == last.as_ref() {
            break;
        }
        last = names.last().cloned();
        url = page_url(path, Some(n), last.as_deref());
    }
    Ok(())
}

fn page_url(path: &str, n: Option<usize>, last: Option<&str>) -> String {
    let mut url = path.to_string();
    if let Some(n) = n {
        url = with_query(&url, "n", &n.to_string());
    }
    if let Some(l) = last {
        url = with_query(&url, "last", l);
    }
    url
}
