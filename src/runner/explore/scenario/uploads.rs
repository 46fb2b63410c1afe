//! The steps of the operations that take more than one request: a blob pushed another way
//! than the plain POST-then-PUT with a sha256 digest, an upload cancelled, the catalog walked.
//! Each is written as the requests `exec.rs` sends for it, and each answer is held to what
//! the oracle holds it to: where the spec lets a registry answer more than one way (a single
//! POST answered 202 with a session, sha512 refused, no catalog, a chunk minimum) every such
//! answer is accepted, by a `when:` branch on the answer or, for an optional feature the
//! registry lacks, a skip.

use bytes::Bytes;
use serde_json::{Value, json};

use super::{Writer, repo_name};
use crate::oci::{Algorithm, Digest, media};
use crate::runner::explore::model::{Model, RepoId};
use crate::runner::explore::ops::Upload;

/// The content field a template names a digest of this algorithm by.
pub(super) fn field(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Sha256 => "digest",
        Algorithm::Sha512 => "sha512",
    }
}

/// Answers by which a registry without sha512 refuses a sha512 digest (as the oracle takes them).
const SHA512_REFUSED: [u16; 3] = [400, 404, 415];

/// First answers by which a registry shows it has no catalog (an extension of Docker's API,
/// not of the OCI spec; it may also be kept from the run's user).
const NO_CATALOG: [u16; 6] = [400, 401, 403, 404, 405, 501];

impl Writer {
    /// A check step: `vars` judged, blamed on `req`.
    fn check(&mut self, name: String, req: &str, vars: Value) -> Value {
        let c = self.expect(req, json!({ "vars": vars }));
        json!({ "name": name, "check": [c] })
    }

    /// The closing PUT of an upload: the digest claimed and, for a monolithic or single-POST
    /// push, the body. A registry without sha512 may refuse a sha512 digest, unless one was
    /// taken earlier in the scenario (then a refusal contradicts it, as the oracle says).
    fn close(
        &mut self,
        name: String,
        var: &str,
        claimed: &str,
        body: Option<&str>,
        req: &str,
        algorithm: Algorithm,
    ) -> Value {
        let mut request = json!({
            "method": "PUT",
            "url": format!("{{{var}}}"),
            "query": { "digest": claimed },
            "headers": { "Content-Type": media::OCTET_STREAM },
        });
        if let Some(n) = body {
            request["body"] = json!({ "content": n });
        }
        let e = self.expect(
            req,
            json!({ "status": 201, "headers": { "Location": "present" } }),
        );
        let mut step = self.request(name, request, vec![e]);
        if algorithm == Algorithm::Sha512 && !self.sha512_taken {
            step["skip_if"] = json!({ "status": SHA512_REFUSED, "reason": "the registry does not take sha512 digests, which the spec allows" });
        }
        step
    }

    /// A blob pushed the way `upload` and `algorithm` say, as the explorer sends it.
    pub(super) fn upload(
        &mut self,
        m: &mut Model,
        repo: RepoId,
        data: &Bytes,
        upload: Upload,
        algorithm: Algorithm,
        name: &str,
    ) -> Vec<Value> {
        let n = self
            .name(&Digest::sha256(data), Some(data), "b")
            .unwrap_or_default();
        let k = self.uploads;
        self.uploads += 1;
        let var = format!("upload{k}");
        let start = format!("/v2/{}/blobs/uploads/", repo_name(repo));
        let claimed = format!("{{{n}.{}}}", field(algorithm));
        let octet = json!({ "Content-Type": media::OCTET_STREAM });
        let mut steps = vec![];
        if upload == Upload::Single {
            // a registry that does not take single-POST pushes opens a session instead (202):
            // the body then goes with a PUT, as the explorer sends it
            let answered = format!("answered{k}");
            let request = json!({ "method": "POST", "url": start, "query": { "digest": claimed }, "headers": octet, "body": { "content": n } });
            let e = self.expect("push.single-post.fallback", json!({ "status": [201, 202] }));
            let mut step = self.request(format!("{name}: POST it whole"), request, vec![e]);
            if algorithm == Algorithm::Sha512 && !self.sha512_taken {
                step["skip_if"] = json!({ "status": SHA512_REFUSED, "reason": "the registry does not take sha512 digests, which the spec allows" });
            }
            step["capture"] = json!({
                answered.clone(): { "status": true },
                var.clone(): { "header": "Location", "resolve": true, "optional": true },
            });
            steps.push(step);
            let mut pushed = self.check(
                format!("{name}: pushed in one POST, with its Location"),
                "push.single-post.201",
                json!({ var.clone(): { "not_equals": "" } }),
            );
            pushed["when"] = json!({ answered.clone(): 201 });
            steps.push(pushed);
            let mut session = self.check(
                format!("{name}: a session opened instead, with its Location"),
                "push.single-post.fallback",
                json!({ var.clone(): { "not_equals": "" } }),
            );
            session["when"] = json!({ answered.clone(): 202 });
            steps.push(session);
            // the PUT is conditional: whether sha512 was taken is not known after it, so
            // it does not count as shown
            let mut put = self.close(
                format!("{name}: on 202, PUT it"),
                &var,
                &claimed,
                Some(&n),
                "push.put.201",
                algorithm,
            );
            put["when"] = json!({ answered: 202 });
            steps.push(put);
        } else {
            let request = json!({ "method": "POST", "url": start });
            let e = self.expect(
                "push.post.202",
                json!({ "status": 202, "headers": { "Location": "present" } }),
            );
            let mut step = self.request(format!("{name}: open a session"), request, vec![e]);
            let min = format!("chunk_min{k}");
            step["capture"] = json!({ var.clone(): { "header": "Location", "resolve": true } });
            if matches!(upload, Upload::Chunked(_)) {
                step["capture"][&min] =
                    json!({ "header": "OCI-Chunk-Min-Length", "optional": true });
            }
            steps.push(step);
            let patched = json!({ "status": 202, "headers": { "Location": "present" } });
            match upload {
                Upload::Chunked(count) => {
                    // the explorer's chunks: the blob in `count` equal parts (the last shorter)
                    let request = json!({ "method": "PATCH", "url": format!("{{{var}}}"), "chunks": { "content": n, "count": count, "location": var } });
                    let e = self.expect("push.chunk.202", patched.clone());
                    let mut step =
                        self.request(format!("{name}: send {count} chunks"), request, vec![e]);
                    step["when"] = json!({ min.clone(): "absent" });
                    steps.push(step);
                    // a registry announcing a minimum may refuse shorter chunks but the last:
                    // the whole blob as one chunk is the last, whatever the minimum
                    let request = json!({
                        "method": "PATCH",
                        "url": format!("{{{var}}}"),
                        "headers": { "Content-Type": media::OCTET_STREAM, "Content-Range": format!("0-{{{n}.last}}") },
                        "body": { "content": n },
                    });
                    let e = self.expect("push.chunk.202", patched);
                    let mut step = self.request(
                        format!("{name}: a chunk minimum is announced: send one chunk"),
                        request,
                        vec![e],
                    );
                    step["when"] = json!({ min: "present" });
                    step["capture"] =
                        json!({ var.clone(): { "header": "Location", "resolve": true } });
                    steps.push(step);
                }
                Upload::Streamed => {
                    let request = json!({ "method": "PATCH", "url": format!("{{{var}}}"), "headers": octet, "body": { "content": n } });
                    let e = self.expect("push.chunk.202", patched);
                    let mut step =
                        self.request(format!("{name}: stream it in one PATCH"), request, vec![e]);
                    step["capture"] =
                        json!({ var.clone(): { "header": "Location", "resolve": true } });
                    steps.push(step);
                }
                Upload::Monolithic | Upload::Single => {}
            }
            let (req, body) = match upload {
                Upload::Chunked(_) => ("push.chunk.close", None),
                // a stream's PATCH is the chunk rule's, its close the closing PUT's (each
                // expectation names the requirement of its own request)
                Upload::Streamed => ("push.put.201", None),
                Upload::Monolithic | Upload::Single => ("push.put.201", Some(n.as_str())),
            };
            steps.push(self.close(
                format!("{name}: close it"),
                &var,
                &claimed,
                body,
                req,
                algorithm,
            ));
            if algorithm == Algorithm::Sha512 {
                self.sha512_taken = true;
            }
        }
        let digest = Digest::of(algorithm, data);
        self.settled(repo, &digest);
        m.hold_blob(repo, &digest);
        steps
    }

    /// An upload opened, maybe given a chunk, cancelled, and then gone.
    pub(super) fn cancel(&mut self, chunk: Option<&Bytes>, repo: RepoId, name: &str) -> Vec<Value> {
        let k = self.uploads;
        self.uploads += 1;
        let var = format!("cancelled{k}");
        let mut steps = vec![];
        let request =
            json!({ "method": "POST", "url": format!("/v2/{}/blobs/uploads/", repo_name(repo)) });
        let e = self.expect(
            "push.post.202",
            json!({ "status": 202, "headers": { "Location": "present" } }),
        );
        let mut step = self.request(format!("{name}: open a session"), request, vec![e]);
        step["capture"] = json!({ var.clone(): { "header": "Location", "resolve": true } });
        steps.push(step);
        if let Some(c) = chunk {
            let n = self
                .name(&Digest::sha256(c), Some(c), "b")
                .unwrap_or_default();
            let request = json!({ "method": "PATCH", "url": format!("{{{var}}}"), "headers": { "Content-Type": media::OCTET_STREAM }, "body": { "content": n } });
            let e = self.expect(
                "push.chunk.202",
                json!({ "status": 202, "headers": { "Location": "present" } }),
            );
            let mut step = self.request(format!("{name}: send a chunk"), request, vec![e]);
            step["capture"] = json!({ var.clone(): { "header": "Location", "resolve": true } });
            steps.push(step);
        }
        let e = self.expect("next.upload.cancel", json!({ "status": 204 }));
        let request = json!({ "method": "DELETE", "url": format!("{{{var}}}") });
        steps.push(self.request(format!("{name}: cancel it"), request, vec![e]));
        let e = self.expect("push.status.unknown", json!({ "status": 404 }));
        let request = json!({ "method": "GET", "url": format!("{{{var}}}") });
        steps.push(self.request(format!("{name}: the session is gone"), request, vec![e]));
        steps
    }

    /// The catalog walked page after page, as the explorer walks it (`n` a page, from just
    /// before the scenario's repositories), then every repository holding a tag found in it
    /// and the names in order. A registry may have no catalog: the first walk skips then.
    pub(super) fn catalog(&mut self, m: &Model, n: Option<usize>, name: &str) -> Vec<Value> {
        let k = self.uploads;
        self.uploads += 1;
        let var = format!("catalog{k}");
        let mut request = json!({
            "method": "GET",
            "url": "/v2/_catalog",
            "paginate": { "collect": "repositories", "into": var },
        });
        if let Some(n) = n {
            // the explorer starts at its own repositories: the catalog may list many others
            request["query"] = json!({ "n": n.to_string(), "last": "{namespace}/" });
        }
        let e = self.expect("dist.catalog", json!({ "status": 200 }));
        let mut step = self.request(format!("{name}: walk it"), request, vec![e]);
        if !self.catalog_shown {
            step["skip_if"] =
                json!({ "status": NO_CATALOG, "reason": "the registry has no catalog" });
        }
        self.catalog_shown = true;
        let mut checks = vec![];
        for (r, repo) in &m.repos {
            // a registry may leave out repositories holding no tag
            if !repo.tags.is_empty() {
                checks.push(self.expect(
                    "dist.catalog",
                    json!({ "vars": { var.clone(): { "contains": repo_name(*r) } } }),
                ));
            }
        }
        checks.push(self.expect(
            "dist.catalog.pagination",
            json!({ "vars": { var.clone(): { "sorted": true } } }),
        ));
        checks.push(self.expect(
            "dist.catalog.pagination",
            json!({ "vars": { var: { "no_duplicates": true } } }),
        ));
        vec![
            step,
            json!({ "name": format!("{name}: what it lists"), "check": checks }),
        ]
    }
}
