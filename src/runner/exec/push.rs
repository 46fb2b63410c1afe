//! The `push:` step: the plain, spec-mandated way of getting content in (setup). A failure
//! breaks the requirement of the way that failed.

use bytes::Bytes;
use reqwest::Url;

use super::scenario::Runner;
use super::{Stop, error, fail, framing_failure};
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
                for (log, outcome) in outcomes {
                    self.log.extend(log);
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
                        "201".into(),
                        res.status.to_string(),
                        &step.source,
                    ));
                }
                framed(&res, &step.source)
            }
        }
    }
}

/// Pushes one blob by POST then PUT, the way the spec describes; returns the exchanges and
/// the blob's location.
async fn push_blob(
    client: &Client,
    base: &Url,
    repo: &str,
    name: &str,
    data: Bytes,
    at: &Source,
) -> (Vec<Exchange>, Result<Option<Url>, Stop>) {
    let mut log = vec![];
    let outcome = async {
        let digest = Digest::sha256(&data);
        let start = base
            .join(&format!("/v2/{repo}/blobs/uploads/"))
            .map_err(|e| error(e.to_string()))?;
        let transport = |e: TransportError| error(e.to_string());
        let res = client
            .send("POST", &start, &[], &Bytes::new(), false, &mut log)
            .await
            .map_err(transport)?;
        if res.status != 202 {
            return Err(fail(
                Some("push.post.202"),
                &format!("status of POST {start}"),
                "202".into(),
                res.status.to_string(),
                at,
            ));
        }
        framed(&res, at)?;
        let loc = res.header("location").ok_or_else(|| {
            fail(
                Some("push.post.202"),
                "header Location of the POST",
                "present".into(),
                "missing".into(),
                at,
            )
        })?;
        let mut url = start.join(loc).map_err(|e| {
            fail(
                Some("push.post.202"),
                "header Location of the POST",
                "a URL reference".into(),
                format!("{loc:?} ({e})"),
                at,
            )
        })?;
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let h = [(
            "Content-Type".to_string(),
            "application/octet-stream".to_string(),
        )];
        let res = client
            .send("PUT", &url, &h, &data, false, &mut log)
            .await
            .map_err(transport)?;
        if res.status != 201 {
            return Err(fail(
                Some("push.put.201"),
                &format!("status of the closing PUT of {name}"),
                "201".into(),
                res.status.to_string(),
                at,
            ));
        }
        framed(&res, at)?;
        Ok(res.header("location").and_then(|l| url.join(l).ok()))
    }
    .await;
    (log, outcome)
}

/// An answer of a push whose body broke HTTP framing fails `http.framing`, once its status
/// was judged.
fn framed(res: &Response, at: &Source) -> Result<(), Stop> {
    match framing_failure(res, &at.to_string()) {
        Some(f) => Err(Stop::Fail(vec![f])),
        None => Ok(()),
    }
}
