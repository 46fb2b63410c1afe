//! Writes a finding as a scenario `regverify run --specs DIR` replays: DIR gets the corpus'
//! requirements and profiles and `scenarios/explore.yaml`, one scenario whose steps are the
//! shrunk operations with what the model says each must answer. The file is JSON, which is
//! YAML, so no YAML writer is needed and every string is quoted exactly.
//!
//! Operations run one at a time are written as the explorer sent them: a blob pushed in
//! chunks, streamed, in a single POST or by its sha512 digest as those requests
//! ([`uploads`]), a plain sha256 push as a `push:` step; cancelled uploads and catalog walks
//! are kept. After operations run at once, what follows may hold in either order, so the
//! scenario checks what must hold in every order: every tag the list names resolves. Those
//! operations are written one step each (a `concurrently:` entry is one step): a blob as a
//! plain push, a catalog as its first page, a cancelled upload left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::Finding;
use super::model::{Model, RepoId, Stored, needs};
use super::ops::{Op, Reference, TAGS, Upload, pool_content};
use crate::oci::{Algorithm, Digest};
use crate::runner::corpus::{Corpus, SpecKind};

mod aliases;
#[cfg(test)]
mod tests;
mod uploads;

/// Where the scenario went.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    pub file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn repo_name(r: RepoId) -> String {
    match r {
        0 => "{repo}".into(),
        r => format!("{{repo}}-{r}"),
    }
}

/// Builds the steps, naming content as it meets it.
struct Writer {
    content: BTreeMap<String, Value>,
    /// Content names by digest, under each algorithm's digest.
    names: BTreeMap<Digest, String>,
    requirements: Vec<String>,
    /// Whether operations are sent one at a time, as found: then each is written as the
    /// requests the explorer sent; in or after a concurrent round, one step each.
    strict: bool,
    /// Sessions and lists captured so far (their variables are numbered).
    uploads: usize,
    /// An unconditional PUT with a sha512 digest was written: later ones may not be refused.
    sha512_taken: bool,
    /// A catalog walk was written: a later one may not find the catalog absent.
    catalog_shown: bool,
    /// Blobs a registry may hold or not after an answer the spec leaves open ([`aliases`]).
    unsure: BTreeSet<(RepoId, Digest)>,
}

impl Writer {
    fn name(&mut self, digest: &Digest, bytes: Option<&[u8]>, prefix: &str) -> Option<String> {
        if let Some(n) = self.names.get(digest) {
            return Some(n.clone());
        }
        let bytes = bytes?;
        let n = format!("{prefix}{}", self.content.len());
        let text = String::from_utf8_lossy(bytes).to_string();
        self.content.insert(n.clone(), json!({ "text": text }));
        for a in Algorithm::ALL {
            self.names.insert(Digest::of(a, bytes), n.clone());
        }
        Some(n)
    }

    /// `{name.digest}` (`{name.sha512}`) for known content, else the digest itself.
    fn digest_ref(&mut self, digest: &Digest) -> String {
        let pool = pool_content(digest);
        match self.name(digest, pool.as_deref(), "b") {
            Some(n) => format!("{{{n}.{}}}", uploads::field(digest.algorithm())),
            None => digest.to_string(),
        }
    }

    fn expect(&mut self, req: &str, mut e: Value) -> Value {
        if !self.requirements.iter().any(|r| r == req) {
            self.requirements.push(req.to_string());
        }
        e["req"] = json!(req);
        e
    }

    fn request(&mut self, name: String, request: Value, expect: Vec<Value>) -> Value {
        json!({ "name": name, "request": request, "expect": expect })
    }

    /// The steps of one operation run alone, advancing `m`.
    fn steps(&mut self, m: &mut Model, op: &Op, last: bool) -> Vec<Value> {
        let name = op.describe();
        match op {
            Op::PushBlob {
                repo,
                data,
                upload,
                algorithm,
            } if self.strict
                && (*upload != Upload::Monolithic || *algorithm != Algorithm::Sha256) =>
            {
                self.upload(m, *repo, data, *upload, *algorithm, &name)
            }
            Op::PushBlob { repo, data, .. } => {
                // the plain push, which stores the blob under its sha256 digest
                let d = Digest::sha256(data);
                let n = self.name(&d, Some(data), "b").unwrap_or_default();
                self.settled(*repo, &d);
                m.hold_blob(*repo, &d);
                vec![json!({ "name": name, "push": { "blob": n, "repo": repo_name(*repo) } })]
            }
            Op::GetBlob {
                repo,
                digest,
                head,
                range,
            } => {
                let url = format!("/v2/{}/blobs/{}", repo_name(*repo), self.digest_ref(digest));
                let method = if *head { "HEAD" } else { "GET" };
                let mut request = json!({ "method": method, "url": url });
                if let Some((a, b)) = range {
                    request["headers"] = json!({ "Range": format!("bytes={a}-{b}") });
                }
                let e = if self.maybe(m, *repo, digest) {
                    self.expect("pull.blob.404", json!({ "status": [200, 206, 404] }))
                } else if !m.has_blob(*repo, digest) {
                    self.expect("pull.blob.404", json!({ "status": 404 }))
                } else if range.is_some() {
                    self.expect("pull.blob.range", json!({ "status": [200, 206] }))
                } else {
                    let mut e = json!({ "status": 200 });
                    if !*head && let Some(n) = self.names.get(digest) {
                        e["body"] = json!({ "content": n });
                    }
                    self.expect(
                        if *head {
                            "pull.head.200"
                        } else {
                            "pull.blob.get"
                        },
                        e,
                    )
                };
                vec![self.request(name, request, vec![e])]
            }
            Op::DeleteBlob { repo, digest } => self.delete_blob(m, *repo, digest, name),
            Op::Mount { from, to, digest } => self.mount(m, *from, *to, digest, name),
            Op::PushManifest {
                repo,
                media_type,
                body,
                reference,
            } => {
                let d = Digest::sha256(body);
                let n = self.name(&d, Some(body), "m").unwrap_or_default();
                let r = match reference {
                    Reference::Tag(t) => t.clone(),
                    Reference::Digest(_) => format!("{{{n}.digest}}"),
                };
                let url = format!("/v2/{}/manifests/{r}", repo_name(*repo));
                let request = json!({ "method": "PUT", "url": url, "headers": { "Content-Type": media_type }, "body": { "content": n } });
                let needs = needs(media_type, body);
                let sure = m.satisfies(*repo, &needs);
                let mut skip = None;
                let e = if sure || self.may_satisfy(m, *repo, &needs) {
                    if !sure {
                        // a blob it names went up under another digest of the same bytes:
                        // accepting it or refusing it is the registry's choice, and what
                        // follows assumes it was accepted
                        skip = Some(
                            json!({ "status": [400, 404], "reason": "the registry holds those bytes only under the digest they were pushed by, which the spec allows" }),
                        );
                    }
                    let tags = match reference {
                        Reference::Tag(t) => vec![t.clone()],
                        Reference::Digest(_) => vec![],
                    };
                    m.put_manifest(*repo, &d, Stored::new(media_type, body), &tags);
                    self.expect("push.manifest.201", json!({ "status": 201 }))
                } else {
                    self.expect(
                        "push.manifest.missing-blobs",
                        json!({ "status": [400, 404] }),
                    )
                };
                let mut step = self.request(name, request, vec![e]);
                if let Some(s) = skip {
                    step["skip_if"] = s;
                }
                vec![step]
            }
            Op::GetManifest {
                repo,
                reference,
                head,
            } => {
                let (digest, r) = match reference {
                    Reference::Tag(t) => (m.tag(*repo, t).cloned(), t.clone()),
                    Reference::Digest(d) => (
                        m.manifest(*repo, d).map(|_| d.clone()),
                        self.manifest_ref(d),
                    ),
                };
                let url = format!("/v2/{}/manifests/{r}", repo_name(*repo));
                let method = if *head { "HEAD" } else { "GET" };
                let request = json!({ "method": method, "url": url });
                let e = match digest {
                    None => {
                        let req = m
                            .forgotten(*repo, &reference.to_string())
                            .unwrap_or("pull.manifest.404");
                        self.expect(req, json!({ "status": 404 }))
                    }
                    Some(d) => {
                        let mut e = json!({ "status": 200 });
                        if !*head && let Some(n) = self.names.get(&d) {
                            e["body"] = json!({ "content": n });
                        }
                        self.expect("pull.manifest.get", e)
                    }
                };
                vec![self.request(name, request, vec![e])]
            }
            Op::DeleteManifest { repo, digest } => {
                let url = format!(
                    "/v2/{}/manifests/{}",
                    repo_name(*repo),
                    self.manifest_ref(digest)
                );
                let present = m.manifest(*repo, digest).is_some();
                if present {
                    m.delete_manifest(*repo, digest);
                }
                self.delete(name, url, present, "delete.manifest", "delete.manifest")
            }
            Op::DeleteTag { repo, tag } => {
                let url = format!("/v2/{}/manifests/{tag}", repo_name(*repo));
                let present = m.tag(*repo, tag).is_some();
                if present {
                    m.delete_tag(*repo, tag);
                }
                self.delete(name, url, present, "delete.tag", "delete.tag")
            }
            Op::ListTags { repo, n, last } => self.list_tags(m, *repo, *n, last.clone(), &name),
            Op::Referrers {
                repo,
                subject,
                artifact_type,
            } if last => {
                let url = format!(
                    "/v2/{}/referrers/{}",
                    repo_name(*repo),
                    self.manifest_ref(subject)
                );
                let mut request = json!({ "method": "GET", "url": url });
                if let Some(at) = artifact_type {
                    request["query"] = json!({ "artifactType": at });
                }
                let count = m
                    .referrers(*repo, subject)
                    .values()
                    .filter(|s| artifact_type.is_none() || s.artifact_type == *artifact_type)
                    .count();
                let e = self.expect(
                    "referrers.listed",
                    json!({ "status": 200, "json": { "manifests": { "length": count } } }),
                );
                let mut step = self.request(name, request, vec![e]);
                step["skip_if"] = json!({ "status": [404], "reason": "no referrers API" });
                vec![step]
            }
            Op::Catalog { n } if self.strict => self.catalog(m, *n, &name),
            Op::CancelUpload { repo, chunk } if self.strict => {
                self.cancel(chunk.as_ref(), *repo, &name)
            }
            Op::Catalog { .. } if last => {
                let e = self.expect("dist.catalog", json!({ "status": 200 }));
                let request = json!({ "method": "GET", "url": "/v2/_catalog" });
                vec![self.request(name, request, vec![e])]
            }
            Op::Referrers { .. } | Op::Catalog { .. } | Op::CancelUpload { .. } => vec![],
        }
    }

    fn manifest_ref(&mut self, d: &Digest) -> String {
        match self.names.get(d) {
            Some(n) => format!("{{{n}.digest}}"),
            None => d.to_string(),
        }
    }

    fn delete(
        &mut self,
        name: String,
        url: String,
        present: bool,
        req: &str,
        absent_req: &str,
    ) -> Vec<Value> {
        let request = json!({ "method": "DELETE", "url": url });
        let (req, status) = if present {
            (req, 202)
        } else {
            (absent_req, 404)
        };
        let e = self.expect(req, json!({ "status": status }));
        let mut step = self.request(name, request, vec![e]);
        step["skip_if"] = json!({ "status": [400, 405], "reason": "deletion is disabled" });
        vec![step]
    }

    /// One request a page, as the model pages them: `n` tags after `last` until fewer remain.
    fn list_tags(
        &mut self,
        m: &Model,
        repo: RepoId,
        n: Option<usize>,
        mut last: Option<String>,
        name: &str,
    ) -> Vec<Value> {
        let all = m.tags(repo);
        let url = format!("/v2/{}/tags/list", repo_name(repo));
        if let Some(l) = &last
            && !all.contains(l)
        {
            // of a `last` the repository does not hold the spec fixes no page: a list there
            // is still in order and within `n`
            let mut query = serde_json::Map::new();
            if let Some(n) = n {
                query.insert("n".into(), json!(n.to_string()));
            }
            query.insert("last".into(), json!(l));
            let mut expect = vec![self.expect(
                "tags.order",
                json!({ "json": { "tags": { "sorted": true, "optional": true } } }),
            )];
            if let Some(n) = n {
                expect.push(self.expect(
                    "tags.n",
                    json!({ "json": { "tags": { "max_length": n, "optional": true } } }),
                ));
            }
            let request = json!({ "method": "GET", "url": url, "query": query });
            return vec![self.request(format!("{name}, page 1"), request, expect)];
        }
        let mut steps = vec![];
        for page in 0.. {
            let rest: Vec<String> = all
                .iter()
                .filter(|t| last.as_ref().is_none_or(|l| *t > l))
                .cloned()
                .collect();
            let want: Vec<String> = rest.iter().take(n.unwrap_or(usize::MAX)).cloned().collect();
            let mut query = serde_json::Map::new();
            if let Some(n) = n {
                query.insert("n".into(), json!(n.to_string()));
            }
            if let Some(l) = &last {
                query.insert("last".into(), json!(l));
            }
            let request = json!({ "method": "GET", "url": url, "query": query });
            let req = if last.is_some() {
                "tags.last"
            } else {
                "tags.list"
            };
            let e = if all.is_empty() {
                // a repository without tags may be unknown
                self.expect(req, json!({ "status": [200, 404], "json": { "tags": { "max_length": 0, "optional": true } } }))
            } else if want.is_empty() {
                self.expect(req, json!({ "status": 200, "json": { "tags": { "max_length": 0, "optional": true } } }))
            } else {
                self.expect(
                    req,
                    json!({ "status": 200, "json": { "tags": { "equals": want } } }),
                )
            };
            steps.push(self.request(format!("{name}, page {}", page + 1), request, vec![e]));
            match n {
                Some(n) if want.len() == n => last = want.last().cloned(),
                _ => break,
            }
        }
        steps
    }

    /// After operations run at once: every tag a repository lists resolves, in any order.
    fn invariants(&mut self, repos: &[RepoId], round: usize) -> Vec<Value> {
        let mut steps = vec![];
        for r in repos {
            let var = format!("listed_{round}_{r}");
            let url = format!("/v2/{}/tags/list", repo_name(*r));
            let mut step = self.request(
                format!("list the tags of r{r} after the concurrent step"),
                json!({ "method": "GET", "url": url }),
                vec![],
            );
            step.as_object_mut().expect("an object").remove("expect");
            step["capture"] = json!({ var.clone(): { "json": "tags", "optional": true } });
            steps.push(step);
            for t in TAGS {
                let e = self.expect("tags.list", json!({ "status": 200 }));
                let mut step = self.request(
                    format!("tag {t} of r{r}, if listed, resolves"),
                    json!({ "method": "GET", "url": format!("/v2/{}/manifests/{t}", repo_name(*r)) }),
                    vec![e],
                );
                step["when"] = json!({ var.clone(): { "contains": t } });
                steps.push(step);
            }
        }
        steps
    }
}

fn workflow(requirement: &str) -> &'static str {
    match requirement.split('.').next().unwrap_or("") {
        "delete" => "management",
        "tags" | "dist" => "discovery",
        "pull" => "pull",
        "referrers" => "referrers",
        _ => "push",
    }
}

/// The scenario of `finding`, as the text of a scenario file.
pub fn scenario_text(finding: &Finding, seed: u64) -> String {
    let mut w = Writer {
        content: BTreeMap::new(),
        names: BTreeMap::new(),
        requirements: vec![finding.discrepancy.requirement.to_string()],
        strict: true,
        uploads: 0,
        sha512_taken: false,
        catalog_shown: false,
        unsure: BTreeSet::new(),
    };
    let mut m = Model::default();
    let mut steps = vec![];
    // after operations run at once the state depends on their order: what follows is sent
    // as found, checked only for what every order must give
    let mut loose = false;
    let mut touched: Vec<RepoId> = vec![];
    for (i, round) in finding.rounds.iter().enumerate() {
        let last = i + 1 == finding.rounds.len();
        for op in round {
            if let Some(r) = repo_of(op)
                && !touched.contains(&r)
            {
                touched.push(r);
            }
        }
        if round.len() == 1 && !loose {
            steps.extend(w.steps(&mut m, &round[0], last));
            continue;
        }
        w.strict = false;
        let mut sent = vec![];
        for op in round {
            let mut alone = m.clone();
            sent.extend(w.steps(&mut alone, op, true).into_iter().map(loosen));
            m = alone;
        }
        if round.len() == 1 {
            steps.extend(sent);
        } else {
            loose = true;
            steps
                .push(json!({ "name": format!("round {}: at once", i + 1), "concurrently": sent }));
        }
        steps.extend(w.invariants(&touched, i));
    }
    let id = format!(
        "explore-{}-s{seed}",
        finding.discrepancy.requirement.replace('.', "-")
    );
    let title = format!(
        "Explored (seed {seed}): {}",
        finding
            .discrepancy
            .message
            .chars()
            .take(160)
            .collect::<String>()
    );
    let doc = json!({
        "scenarios": [{
            "id": id,
            "title": title,
            "requirements": w.requirements,
            "workflows": [workflow(finding.discrepancy.requirement)],
            "content": w.content,
            "steps": steps,
        }]
    });
    let mut text = format!(
        "# Written by `regverify explore --seed {seed}`: {} ops shrunk to {}.\n# {}: {}\n",
        finding.after_ops,
        finding.op_count(),
        finding.discrepancy.requirement,
        finding.discrepancy.message.replace('\n', " ")
    );
    for (i, s) in finding.steps().iter().enumerate() {
        text.push_str(&format!("#  {}. {s}\n", i + 1));
    }
    text.push_str(&serde_json::to_string_pretty(&doc).unwrap_or_default());
    text.push('\n');
    text
}

/// A step with its expectations cut to what any order allows: no server error.
fn loosen(mut step: Value) -> Value {
    if let Some(o) = step.as_object_mut() {
        // a refusal (deletion disabled) is one of the answers allowed, not a reason to skip
        o.remove("skip_if");
    }
    if let Some(es) = step.get_mut("expect").and_then(Value::as_array_mut) {
        for e in es {
            e["status"] = json!([200, 201, 202, 204, 206, 400, 404, 405]);
            if let Some(o) = e.as_object_mut() {
                o.remove("body");
                o.remove("json");
            }
        }
    }
    step
}

fn repo_of(op: &Op) -> Option<RepoId> {
    match op {
        Op::PushBlob { repo, .. }
        | Op::GetBlob { repo, .. }
        | Op::DeleteBlob { repo, .. }
        | Op::PushManifest { repo, .. }
        | Op::GetManifest { repo, .. }
        | Op::DeleteManifest { repo, .. }
        | Op::DeleteTag { repo, .. }
        | Op::ListTags { repo, .. }
        | Op::Referrers { repo, .. }
        | Op::CancelUpload { repo, .. } => Some(*repo),
        Op::Mount { to, .. } => Some(*to),
        Op::Catalog { .. } => None,
    }
}

/// Writes `finding` under `dir` as a corpus `run --specs DIR` takes: the embedded
/// requirements and profiles beside `scenarios/explore.yaml`.
pub fn write(dir: &Path, finding: &Finding, seed: u64) -> Result<Written, WriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).map_err(io(&scenarios))?;
    for f in Corpus::embedded().spec_files() {
        if !matches!(f.kind, SpecKind::Requirements | SpecKind::Profiles) {
            continue;
        }
        // under its own name (`requirements/pull.yaml`): the requirements are several files
        let path = dir.join(&f.rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, &f.text).map_err(io(&path))?;
    }
    let file = scenarios.join("explore.yaml");
    std::fs::write(&file, scenario_text(finding, seed)).map_err(io(&file))?;
    Ok(Written {
        dir: dir.to_path_buf(),
        file,
    })
}
