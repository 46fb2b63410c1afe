//! Runs one scenario: renders each step's request, sends it, checks the expectations,
//! captures values for later steps. A mismatch is a *fail* naming the requirement; a
//! transport problem or a broken scenario is an *error*; an optional feature the registry
//! lacks is a *skip*.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use reqwest::Url;
use serde_json::Value;

use super::client::{Client, Exchange, Response};
use super::content::ContentStore;
use super::loader::{LoadedScenario, Source};
use super::model::*;
use super::template;
use crate::oci::Digest;

/// Everything a scenario run shares with the others.
pub struct RunContext {
    pub client: Client,
    pub base: Url,
    pub namespace: String,
    pub crossmount: Option<String>,
    pub seed: u64,
    /// Random per run, so reruns never collide with leftovers.
    pub run_tag: String,
    pub fixtures: PathBuf,
    /// Check `Warning` headers (a requirement of spec main).
    pub check_warnings: bool,
    /// Delete what each scenario created when it ends.
    pub cleanup: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
    Skip,
}

/// Why a scenario did not pass.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    pub requirement: Option<String>,
    pub step: String,
    pub source: String,
    pub message: String,
    /// The exchanges of the step that went wrong.
    pub transcript: Vec<Exchange>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub id: String,
    pub title: String,
    pub workflows: Vec<Workflow>,
    pub requirements: Vec<String>,
    pub verdict: Verdict,
    pub finding: Option<Finding>,
    pub skip_reason: Option<String>,
    pub millis: u64,
    pub exchanges: Vec<Exchange>,
}

/// How a scenario stopped early.
enum Stop {
    Fail {
        requirement: Option<String>,
        message: String,
    },
    Error(String),
    Skip(String),
}

struct Runner<'a> {
    ctx: &'a RunContext,
    vars: HashMap<String, Value>,
    store: ContentStore<'a>,
    log: Vec<Exchange>,
    /// Content the registry said it created (201 with a Location), for the final cleanup.
    created: Vec<Url>,
}

fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn run(ctx: &RunContext, ls: &LoadedScenario) -> ScenarioResult {
    let s = &ls.scenario;
    let start = Instant::now();
    let repo = match &s.repository {
        Some(r) => r.replace("{namespace}", &ctx.namespace),
        None => format!("{}/{}-{}", ctx.namespace, s.id, ctx.run_tag),
    };
    let repo2 = match &ctx.crossmount {
        Some(ns) => format!("{ns}/{}-{}", s.id, ctx.run_tag),
        None => format!("{repo}-mount"),
    };
    let mut vars = HashMap::new();
    for (k, v) in [
        ("repo", repo),
        ("repo2", repo2),
        ("namespace", ctx.namespace.clone()),
        (
            "registry",
            ctx.base.as_str().trim_end_matches('/').to_string(),
        ),
        ("seed", ctx.seed.to_string()),
        ("other", format!("absent-{}", ctx.run_tag)),
        ("uuid", crate::server::new_upload_id()),
    ] {
        vars.insert(k.to_string(), Value::String(v));
    }
    let mut r = Runner {
        ctx,
        vars,
        store: ContentStore::new(&s.content, ctx.fixtures.clone(), ctx.seed, &s.id),
        log: vec![],
        created: vec![],
    };
    let mut outcome = None;
    if s.needs_credentials && !ctx.client.has_credentials() {
        outcome = Some((
            Stop::Skip(
                "no credentials given (OCI_USERNAME / OCI_PASSWORD or user:password@ in the URL)"
                    .into(),
            ),
            &s.steps[0].value,
            &ls.step_sources[0],
            0,
        ));
    }
    for (i, step) in s.steps.iter().enumerate() {
        if outcome.is_some() {
            break;
        }
        let mark = r.log.len();
        if let Err(stop) = r.step(&step.value, &ls.step_sources[i]).await {
            outcome = Some((stop, &step.value, &ls.step_sources[i], mark));
            break;
        }
    }
    // cleanup runs whatever happened; its results are not verdicts
    for (i, step) in s.cleanup.iter().enumerate() {
        let _ = r.step(&step.value, &ls.cleanup_sources[i]).await;
    }
    if ctx.cleanup && s.repository.is_none() {
        r.remove_created().await;
    }
    let (verdict, finding, skip_reason) = match outcome {
        None => (Verdict::Pass, None, None),
        Some((Stop::Skip(reason), ..)) => (Verdict::Skip, None, Some(reason)),
        Some((stop, step, src, mark)) => {
            let (verdict, requirement, message) = match stop {
                Stop::Fail {
                    requirement,
                    message,
                } => (
                    Verdict::Fail,
                    requirement
                        .or_else(|| step.verifies.first().cloned())
                        .or_else(|| s.requirements.first().cloned()),
                    message,
                ),
                Stop::Error(m) => (Verdict::Error, None, m),
                Stop::Skip(_) => unreachable!("handled above"),
            };
            let transcript = r.log[mark..].to_vec();
            (
                verdict,
                Some(Finding {
                    requirement,
                    step: step.name.clone(),
                    source: src.to_string(),
                    message,
                    transcript,
                }),
                None,
            )
        }
    };
    ScenarioResult {
        name: ls.name(),
        id: s.id.clone(),
        title: s.title.clone(),
        workflows: s.workflows.clone(),
        requirements: s.requirements.clone(),
        verdict,
        finding,
        skip_reason,
        millis: start.elapsed().as_millis() as u64,
        exchanges: r.log,
    }
}

fn error(m: impl Into<String>) -> Stop {
    Stop::Error(m.into())
}

impl<'a> Runner<'a> {
    /// Renders a template, resolving any content it names first.
    fn render(&mut self, t: &str) -> Result<String, Stop> {
        self.render_strings(&[t], |lookup| template::render(t, lookup))
    }

    fn render_json(&mut self, v: &Value) -> Result<Value, Stop> {
        let mut strings = vec![];
        template::json_strings(v, &mut strings);
        self.render_strings(&strings, |lookup| template::render_json(v, lookup))
    }

    /// Resolves the content `strings` name, then renders with content fields and variables
    /// (borrowed, not copied: the variables may hold whole collected lists).
    fn render_strings<T>(
        &mut self,
        strings: &[&str],
        render: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> Result<T, String>,
    ) -> Result<T, Stop> {
        let vars = &self.vars;
        let vl = |n: &str| vars.get(n).map(value_str);
        self.store.prepare(strings, &vl, 0).map_err(error)?;
        let lookup = self.store.lookup(&vl);
        render(&lookup).map_err(error)
    }

    fn content(&mut self, name: &str) -> Result<Bytes, Stop> {
        Ok(self.resolve(name)?.bytes)
    }

    fn resolve(&mut self, name: &str) -> Result<super::content::Resolved, Stop> {
        let vars = &self.vars;
        let vl = |n: &str| vars.get(n).map(value_str);
        self.store.resolve(name, &vl).map_err(error)
    }

    fn slice(&mut self, sl: &Slice) -> Result<Bytes, Stop> {
        let b = self.content(&sl.content)?;
        let end = sl.end.unwrap_or(b.len() as u64).min(b.len() as u64) as usize;
        let start = (sl.start as usize).min(end);
        Ok(b.slice(start..end))
    }

    fn condition_holds(&self, c: &Condition) -> bool {
        let v = self.vars.get(&c.var).map(value_str).unwrap_or_default();
        c.equals.as_ref().is_none_or(|e| &v == e) && c.not_equals.as_ref().is_none_or(|e| &v != e)
    }

    /// One step (boxed: `concurrently` makes steps recursive).
    fn step<'s>(
        &'s mut self,
        step: &'s Step,
        src: &'s Source,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Stop>> + Send + 's>> {
        Box::pin(self.step_inner(step, src))
    }

    async fn step_inner(&mut self, step: &Step, src: &Source) -> Result<(), Stop> {
        if let Some(c) = &step.when
            && !self.condition_holds(c)
        {
            return Ok(());
        }
        let times = step.repeat.unwrap_or(1);
        for i in 0..times {
            if step.repeat.is_some() {
                self.vars.insert("i".into(), Value::String(i.to_string()));
            }
            if let Some(reason) = &step.skip {
                return Err(Stop::Skip(reason.clone()));
            }
            if !step.concurrently.is_empty() {
                self.concurrently(&step.concurrently, src).await?;
                continue;
            }
            match (&step.request, &step.push) {
                (Some(req), _) => self.request_step(step, req, src).await?,
                (None, Some(push)) => self.push(push).await?,
                (None, None) => self.checks(step)?,
            }
        }
        Ok(())
    }

    /// Runs sub-steps at the same time, each on its own copy of the variables; their
    /// exchanges join the transcript, the first failure (in the order written) counts.
    async fn concurrently(&mut self, steps: &[Step], src: &Source) -> Result<(), Stop> {
        let mut forks: Vec<Runner<'a>> = steps
            .iter()
            .map(|_| Runner {
                ctx: self.ctx,
                vars: self.vars.clone(),
                store: self.store.clone(),
                log: vec![],
                created: vec![],
            })
            .collect();
        let runs = forks.iter_mut().zip(steps).map(|(f, st)| f.step(st, src));
        let outcomes = futures_util::future::join_all(runs).await;
        for f in forks {
            self.log.extend(f.log);
            self.created.extend(f.created);
        }
        outcomes.into_iter().collect()
    }

    fn checks(&mut self, step: &Step) -> Result<(), Stop> {
        for c in &step.check {
            let v = self.vars.get(&c.var).cloned().unwrap_or(Value::Null);
            let mut problems = vec![];
            if let Some(e) = &c.equals {
                let e = self.render_json(e)?;
                if v != e {
                    problems.push(format!("{} is {v}, expected {e}", c.var));
                }
            }
            if let Some(ne) = &c.not_equals {
                let ne = self.render_json(ne)?;
                if v == ne {
                    problems.push(format!("{} is {v}, expected anything else", c.var));
                }
            }
            if let Some(want) = &c.contains {
                let want = self.render_json(want)?;
                let ok = match (&v, &want) {
                    (Value::String(h), Value::String(n)) => h.contains(n.as_str()),
                    (h, n) => contains(h, n),
                };
                if !ok {
                    problems.push(format!("{} is {v}, expected to contain {want}", c.var));
                }
            }
            if let Some(n) = c.length {
                let len = v.as_array().map(Vec::len);
                if len != Some(n) {
                    problems.push(format!("{} has {len:?} elements, expected {n}", c.var));
                }
            }
            if c.sorted
                && let Some(p) = unsorted(&v)
            {
                problems.push(format!("{} is not in lexical order: {p}", c.var));
            }
            if c.no_duplicates
                && let Some(a) = v.as_array()
            {
                let mut seen = std::collections::HashSet::new();
                for x in a {
                    if !seen.insert(x.to_string()) {
                        problems.push(format!("{} holds {x} twice", c.var));
                    }
                }
            }
            if !problems.is_empty() {
                return Err(Stop::Fail {
                    requirement: c.req.clone(),
                    message: problems.join("; "),
                });
            }
        }
        Ok(())
    }

    /// Deletes what the scenario created, manifests first (newest first, so referrers and
    /// indexes go before what they point at), then blobs. Best effort: a registry without
    /// deletion keeps it all. Not part of the transcript.
    async fn remove_created(&mut self) {
        let mut created = std::mem::take(&mut self.created);
        created.reverse();
        created.dedup();
        created.sort_by_key(|u| !u.path().contains("/manifests/"));
        let mut log = vec![];
        for url in created {
            let Ok(res) = self
                .ctx
                .client
                .send("DELETE", &url, &[], &Bytes::new(), false, &mut log)
                .await
            else {
                return;
            };
            if matches!(res.status, 400 | 401 | 403 | 405) {
                return; // deletion is not offered: stop trying
            }
        }
    }

    /// Remembers content the registry created, from a 201's Location.
    fn note_created(&mut self, url: &Url, res: &Response) {
        if res.status != 201 {
            return;
        }
        let Some(loc) = res.header("location").and_then(|l| url.join(l).ok()) else {
            return;
        };
        let path = loc.path().to_string();
        if matches!(
            crate::oci::api::Target::parse(&path),
            Some(crate::oci::api::Target::Blob { .. } | crate::oci::api::Target::Manifest { .. })
        ) {
            self.created.push(loc);
        }
    }

    /// The `push:` helper: the plain, spec-mandated way of getting content in.
    async fn push(&mut self, p: &Push) -> Result<(), Stop> {
        let repo = match &p.repo {
            Some(r) => self.render(r)?,
            None => self.render("{repo}")?,
        };
        let fail = |req: &str, m: String| Stop::Fail {
            requirement: Some(req.to_string()),
            message: m,
        };
        if let Some(name) = &p.blob {
            let data = self.content(name)?;
            let n = p.parallel.unwrap_or(1).max(1) as usize;
            // n pushes of the same blob at once (n = 1: the plain push)
            let pushes = (0..n)
                .map(|_| push_blob(&self.ctx.client, &self.ctx.base, &repo, name, data.clone()));
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
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        if let Some(name) = &p.manifest {
            let r = self.resolve(name)?;
            let reference = match &p.reference {
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
                    "push.manifest.201",
                    format!("PUT manifest {name}: expected 201, got {}", res.status),
                ));
            }
        }
        Ok(())
    }

    /// One exchange through the run's client (auth, redirects, limits), remembered for the
    /// transcript and for the cleanup. `anonymous`: send no credentials of the run's own.
    async fn raw(
        &mut self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: Bytes,
        anonymous: bool,
    ) -> Result<Response, Stop> {
        let res = self
            .ctx
            .client
            .send(method, url, headers, &body, anonymous, &mut self.log)
            .await
            .map_err(|e| error(format!("{method} {}: {e}", super::client::display_url(url))))?;
        self.note_created(url, &res);
        // until framing is judged as its own requirement, a broken body voids the step
        if let Some(f) = &res.framing {
            return Err(error(format!(
                "{method} {}: {f}",
                super::client::display_url(url)
            )));
        }
        Ok(res)
    }

    async fn build_url(&mut self, req: &Request, url_template: &str) -> Result<Url, Stop> {
        let raw = self.render(url_template)?;
        let mut url = if raw.starts_with("http://") || raw.starts_with("https://") {
            Url::parse(&raw).map_err(|e| error(format!("URL {raw:?}: {e}")))?
        } else {
            self.ctx
                .base
                .join(&raw)
                .map_err(|e| error(format!("URL {raw:?}: {e}")))?
        };
        if !req.query.is_empty() {
            let mut pairs = vec![];
            for (k, vs) in &req.query {
                for v in vs.as_slice() {
                    pairs.push((k.clone(), self.render(v)?));
                }
            }
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(&k, &v);
            }
        }
        Ok(url)
    }

    async fn request_step(
        &mut self,
        step: &Step,
        req: &Request,
        _src: &Source,
    ) -> Result<(), Stop> {
        let mut headers = vec![];
        for (k, v) in &req.headers {
            headers.push((k.clone(), self.render(v)?));
        }
        if let Some(ch) = &req.chunks {
            let data = self.content(&ch.content)?;
            let n = ch.count as usize;
            let size = data.len();
            let per = size.div_ceil(n).max(1);
            let parts: Vec<(usize, usize)> = (0..n)
                .map(|k| ((k * per).min(size), ((k + 1) * per).min(size)))
                .filter(|(a, b)| b > a)
                .collect();
            let send = if ch.hold_last {
                parts.len().saturating_sub(1)
            } else {
                parts.len()
            };
            for &(a, b) in &parts[..send] {
                let url_t = format!("{{{}}}", ch.location);
                let url = self.build_url(req, &url_t).await?;
                let mut h = headers.clone();
                h.push(("Content-Range".into(), format!("{a}-{}", b - 1)));
                if !h
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    h.push(("Content-Type".into(), "application/octet-stream".into()));
                }
                self.vars
                    .insert("chunk.start".into(), Value::String(a.to_string()));
                self.vars
                    .insert("chunk.end".into(), Value::String((b - 1).to_string()));
                let res = self.send(req, &url, &h, data.slice(a..b)).await?;
                self.after(step, &url, &res)?;
                if let Some(loc) = res.header("location") {
                    let next = url
                        .join(loc)
                        .map_err(|e| error(format!("Location {loc:?}: {e}")))?;
                    self.vars
                        .insert(ch.location.clone(), Value::String(next.to_string()));
                }
            }
            return Ok(());
        }
        let body = match &req.body {
            None => Bytes::new(),
            Some(Body::Content(c)) => self.content(c)?,
            Some(Body::Slice(sl)) => self.slice(sl)?,
            Some(Body::Text(t)) => Bytes::from(self.render(t)?),
            Some(Body::Json(v)) => Bytes::from(self.render_json(v)?.to_string()),
            Some(Body::Fixture(f)) => Bytes::from(
                std::fs::read(self.ctx.fixtures.join(f))
                    .map_err(|e| error(format!("fixture {f}: {e}")))?,
            ),
        };
        let url = self.build_url(req, &req.url).await?;
        add_default_accept(req.method, &url, &mut headers);
        if req.basic {
            let Some(b) = self.ctx.client.basic_value() else {
                return Err(Stop::Skip("no credentials given".into()));
            };
            headers.push(("Authorization".into(), b));
        }
        let res = self.send(req, &url, &headers, body.clone()).await?;
        self.after(step, &url, &res)?;
        if let Some(p) = &req.paginate {
            let mut all = vec![];
            let mut page = res;
            let mut page_url = url;
            for n in 0.. {
                let v: Value = serde_json::from_slice(&page.body).map_err(|e| Stop::Fail {
                    requirement: step.verifies.first().cloned(),
                    message: format!("page {n} is not JSON: {e}"),
                })?;
                match json_path(&v, &p.collect) {
                    Some(Value::Array(a)) => all.extend(a.iter().cloned()),
                    Some(Value::Null) | None => {}
                    Some(other) => {
                        return Err(Stop::Fail {
                            requirement: step.verifies.first().cloned(),
                            message: format!("{} in page {n} is not an array: {other}", p.collect),
                        });
                    }
                }
                let Some(next) = next_link(&page.header_all("link")) else {
                    break;
                };
                if n + 1 >= p.max_pages {
                    return Err(Stop::Fail {
                        requirement: step.verifies.first().cloned(),
                        message: format!("still a next Link after {} pages", p.max_pages),
                    });
                }
                page_url = page_url
                    .join(&next)
                    .map_err(|e| error(format!("Link target {next:?}: {e}")))?;
                page = self.send(req, &page_url, &headers, Bytes::new()).await?;
                self.after(step, &page_url, &page)?;
            }
            self.vars.insert(p.into.clone(), Value::Array(all));
        }
        Ok(())
    }

    async fn send(
        &mut self,
        req: &Request,
        url: &Url,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Response, Stop> {
        // an explicit Basic header replaces the client's own handling
        let anonymous = req.anonymous || req.basic;
        self.raw(req.method.as_str(), url, headers, body, anonymous)
            .await
    }

    /// skip_if, expectations, captures.
    fn after(&mut self, step: &Step, url: &Url, res: &Response) -> Result<(), Stop> {
        for sk in step.skip_if.iter().flat_map(|s| s.as_slice()) {
            if sk.status.contains(&res.status)
                && (sk.code.is_empty() || has_code(&res.body, &sk.code))
            {
                return Err(Stop::Skip(format!(
                    "{} (answered {})",
                    sk.reason, res.status
                )));
            }
        }
        let method = step
            .request
            .as_ref()
            .map(|r| r.method)
            .unwrap_or(Method::GET);
        // statuses first: a wrong status explains everything after it
        for e in step.expect.iter().flat_map(|e| e.as_slice()) {
            let status_only = Expect {
                req: e.req.clone(),
                status: e.status.clone(),
                because: e.because.clone(),
                ..Expect::default()
            };
            self.judge(&status_only, method, res)?;
        }
        // then the envelope of an error body, before checks that read its codes
        if let Some(stop) = self.global_checks(res) {
            return Err(stop);
        }
        for e in step.expect.iter().flat_map(|e| e.as_slice()) {
            self.judge(e, method, res)?;
        }
        // a capture that finds nothing breaks the requirement the step checks
        let step_req = step
            .expect
            .iter()
            .flat_map(|e| e.as_slice())
            .find_map(|e| e.req.clone())
            .or_else(|| step.verifies.first().cloned());
        for (name, c) in &step.capture {
            let v = if let Some(h) = &c.header {
                let Some(raw) = res.header(h) else {
                    if c.optional {
                        self.vars.insert(name.clone(), Value::String(String::new()));
                        continue;
                    }
                    return Err(Stop::Fail {
                        requirement: step_req.clone(),
                        message: format!("header {h} missing, needed by later steps"),
                    });
                };
                if c.resolve {
                    Value::String(
                        url.join(raw)
                            .map_err(|e| Stop::Fail {
                                requirement: None,
                                message: format!("{h} {raw:?} is not a URL reference: {e}"),
                            })?
                            .to_string(),
                    )
                } else {
                    Value::String(raw.to_string())
                }
            } else if let Some(part) = &c.challenge {
                let ch = res
                    .header("www-authenticate")
                    .map(super::client::parse_challenge)
                    .unwrap_or_default();
                let v = if part == "scheme" {
                    ch.scheme.clone()
                } else {
                    ch.params.get(part.as_str()).cloned().unwrap_or_default()
                };
                if v.is_empty() && !c.optional {
                    return Err(Stop::Fail {
                        requirement: step_req.clone(),
                        message: format!("the WWW-Authenticate challenge has no {part}"),
                    });
                }
                Value::String(v)
            } else if let Some(p) = &c.json {
                let v: Value = match serde_json::from_slice(&res.body) {
                    Ok(v) => v,
                    Err(_) if c.optional => Value::Null,
                    Err(e) => {
                        return Err(Stop::Fail {
                            requirement: None,
                            message: format!("body is not JSON ({e}); cannot capture {p}"),
                        });
                    }
                };
                // `a|b`: the first of these paths that is present
                let found = p
                    .split('|')
                    .find_map(|p| json_path(&v, p.trim()).filter(|x| !x.is_null()).cloned());
                match found {
                    Some(x) => x,
                    None if c.optional => Value::Null,
                    None => {
                        return Err(Stop::Fail {
                            requirement: step_req.clone(),
                            message: format!("the body has no {p}, needed by later steps"),
                        });
                    }
                }
            } else {
                Value::String(res.status.to_string())
            };
            self.vars.insert(name.clone(), v);
        }
        Ok(())
    }

    /// One expectation: its problems become a fail naming its requirement.
    fn judge(&mut self, e: &Expect, method: Method, res: &Response) -> Result<(), Stop> {
        let mut problems = self.expect(e, method, res)?;
        if problems.is_empty() {
            return Ok(());
        }
        if let Some(b) = &e.because {
            problems.push(format!("({b})"));
        }
        Err(Stop::Fail {
            requirement: e.req.clone(),
            message: problems.join("\n"),
        })
    }

    /// Checks every answer gets: the error envelope of a 4xx JSON body; `Warning` headers
    /// when the profile includes spec main.
    fn global_checks(&self, res: &Response) -> Option<Stop> {
        let (shape, form) = envelope_problems(res.status, &res.body);
        if !shape.is_empty() {
            return Some(Stop::Fail {
                requirement: Some("errors.envelope".into()),
                message: shape.join("\n"),
            });
        }
        if !form.is_empty() {
            return Some(Stop::Fail {
                requirement: Some("errors.code-form".into()),
                message: form.join("\n"),
            });
        }
        if self.ctx.check_warnings {
            let w = warning_problems(&res.header_all("warning"));
            if !w.is_empty() {
                return Some(Stop::Fail {
                    requirement: Some("next.warning.format".into()),
                    message: w.join("\n"),
                });
            }
        }
        None
    }

    fn expect(&mut self, e: &Expect, method: Method, res: &Response) -> Result<Vec<String>, Stop> {
        let mut p = vec![];
        if let Some(s) = &e.status
            && !s.as_slice().contains(&res.status)
        {
            let want: Vec<String> = s.as_slice().iter().map(u16::to_string).collect();
            p.push(format!(
                "status: expected {}, got {}",
                want.join(" or "),
                res.status
            ));
        }
        for (name, check) in &e.headers {
            let got = res.header_all(name);
            match check {
                HeaderCheck::Word(w) if w == "present" => {
                    if got.is_empty() {
                        p.push(format!("header {name}: expected present, missing"));
                    }
                }
                HeaderCheck::Word(_) => {
                    if !got.is_empty() {
                        p.push(format!(
                            "header {name}: expected absent, got {:?}",
                            got.join(", ")
                        ));
                    }
                }
                HeaderCheck::Rule(r) => {
                    if got.is_empty() {
                        if !r.optional {
                            p.push(format!("header {name}: missing"));
                        }
                        continue;
                    }
                    let v = got.join(", ");
                    if let Some(eq) = &r.equals {
                        let eq = self.render(eq)?;
                        if v != eq {
                            p.push(format!("header {name}: expected {eq:?}, got {v:?}"));
                        }
                    }
                    if let Some(one) = &r.one_of {
                        let mut opts = vec![];
                        for o in one {
                            opts.push(self.render(o)?);
                        }
                        if !opts.contains(&v) {
                            p.push(format!(
                                "header {name}: expected one of {opts:?}, got {v:?}"
                            ));
                        }
                    }
                    if let Some(m) = &r.matches {
                        let re = regex_lite::Regex::new(m).map_err(|x| error(x.to_string()))?;
                        if !re.is_match(&v) {
                            p.push(format!("header {name}: {v:?} does not match /{m}/"));
                        }
                    }
                }
            }
        }
        match &e.body {
            None => {}
            Some(BodyCheck::Empty(want)) if *want != res.body.is_empty() => {
                p.push(format!(
                    "body: expected {}, got {} bytes",
                    if *want { "empty" } else { "non-empty" },
                    res.body.len()
                ));
            }
            Some(BodyCheck::Empty(_)) => {}
            Some(BodyCheck::Content(c)) => {
                let want = self.content(c)?;
                compare_bytes(&mut p, &format!("content {c}"), &want, &res.body);
            }
            Some(BodyCheck::OneOf(names)) => {
                let mut matched = false;
                for n in names {
                    if self.content(n)? == res.body {
                        matched = true;
                    }
                }
                if !matched {
                    p.push(format!(
                        "body ({} bytes, {}) is none of {}",
                        res.body.len(),
                        Digest::sha256(&res.body),
                        names.join(", ")
                    ));
                }
            }
            Some(BodyCheck::Slice(sl)) => {
                let want = self.slice(sl)?;
                compare_bytes(
                    &mut p,
                    &format!("bytes {}.. of {}", sl.start, sl.content),
                    &want,
                    &res.body,
                );
            }
            Some(BodyCheck::Digest(d)) => {
                let d = self.render(d)?;
                match d.parse::<Digest>() {
                    Ok(want) => {
                        let got = Digest::of(want.algorithm(), &res.body);
                        if got != want {
                            p.push(format!("body: hashes to {got}, expected {want}"));
                        }
                    }
                    Err(x) => return Err(error(format!("expected digest {d:?}: {x}"))),
                }
            }
        }
        if !e.json.is_empty() {
            match serde_json::from_slice::<Value>(&res.body) {
                Err(x) => p.push(format!("body is not JSON: {x}")),
                Ok(v) => {
                    for j in &e.json {
                        let path = self.render(&j.path)?;
                        let got = json_path(&v, &path);
                        if j.absent {
                            if let Some(g) = got {
                                p.push(format!("{}: expected absent, got {g}", j.path));
                            }
                            continue;
                        }
                        let Some(got) = got else {
                            p.push(format!("{}: missing", j.path));
                            continue;
                        };
                        if let Some(eq) = &j.equals {
                            let eq = self.render_json(eq)?;
                            if !loose_eq(got, &eq) {
                                p.push(format!("{}: expected {eq}, got {got}", j.path));
                            }
                        }
                        if let Some(n) = j.max_length {
                            match got.as_array() {
                                Some(a) if a.len() <= n => {}
                                Some(a) => p.push(format!(
                                    "{}: expected at most {n} elements, got {}",
                                    j.path,
                                    a.len()
                                )),
                                None => p.push(format!("{}: expected an array, got {got}", j.path)),
                            }
                        }
                        if let Some(n) = j.length {
                            match got.as_array() {
                                Some(a) if a.len() == n => {}
                                Some(a) => p.push(format!(
                                    "{}: expected {n} elements, got {}",
                                    j.path,
                                    a.len()
                                )),
                                None => p.push(format!("{}: expected an array, got {got}", j.path)),
                            }
                        }
                        if let Some(c) = &j.contains {
                            let c = self.render_json(c)?;
                            if !contains(got, &c) {
                                p.push(format!("{}: expected to contain {c}, got {got}", j.path));
                            }
                        }
                        if j.sorted
                            && let Some(x) = unsorted(got)
                        {
                            p.push(format!("{}: not in lexical order: {x}", j.path));
                        }
                    }
                }
            }
        }
        if let Some(codes) = &e.error_code {
            let codes = codes.as_slice();
            // The spec lets a 4xx body be anything; only a JSON body must be the envelope.
            if let Ok(v) = serde_json::from_slice::<Value>(&res.body) {
                match v.get("errors").and_then(Value::as_array) {
                    None => p.push(format!("body is JSON but not an error envelope: {v}")),
                    Some(errs) => {
                        let got: Vec<&str> = errs
                            .iter()
                            .filter_map(|e| e.get("code").and_then(Value::as_str))
                            .collect();
                        if !got.iter().any(|g| codes.iter().any(|c| c == g)) {
                            p.push(format!(
                                "error code: expected {}, got {got:?}",
                                codes.join(" or ")
                            ));
                        }
                    }
                }
            }
        }
        if e.digest_header_matches_body
            && method != Method::HEAD
            && let Some(h) = res.header("docker-content-digest")
        {
            match h.parse::<Digest>() {
                Ok(d) => {
                    let got = Digest::of(d.algorithm(), &res.body);
                    if got != d {
                        p.push(format!(
                            "Docker-Content-Digest is {d}, the body hashes to {got}"
                        ));
                    }
                }
                Err(x) => p.push(format!("Docker-Content-Digest {h:?} is not a digest: {x}")),
            }
        }
        Ok(p)
    }
}

/// Pushes one blob by POST then PUT, the way the spec describes; returns the exchanges and
/// the blob's location.
async fn push_blob(
    client: &super::client::Client,
    base: &Url,
    repo: &str,
    name: &str,
    data: Bytes,
) -> (Vec<Exchange>, Result<Option<Url>, Stop>) {
    let mut log = vec![];
    let fail = |req: &str, m: String| Stop::Fail {
        requirement: Some(req.to_string()),
        message: m,
    };
    let outcome = async {
        let digest = Digest::sha256(&data);
        let start = base
            .join(&format!("/v2/{repo}/blobs/uploads/"))
            .map_err(|e| error(e.to_string()))?;
        let transport = |e: super::client::TransportError| error(e.to_string());
        let res = client
            .send("POST", &start, &[], &Bytes::new(), false, &mut log)
            .await
            .map_err(transport)?;
        if res.status != 202 {
            return Err(fail(
                "push.post.202",
                format!("POST {start}: expected 202, got {}", res.status),
            ));
        }
        let loc = res.header("location").ok_or_else(|| {
            fail(
                "push.post.202",
                "POST answered 202 without a Location".into(),
            )
        })?;
        let mut url = start
            .join(loc)
            .map_err(|e| fail("push.post.202", format!("Location {loc:?}: {e}")))?;
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
                "push.put.201",
                format!("closing PUT of {name}: expected 201, got {}", res.status),
            ));
        }
        Ok(res.header("location").and_then(|l| url.join(l).ok()))
    }
    .await;
    (log, outcome)
}

/// Manifest GET/HEAD without an `Accept` gets the one every client sends: the four
/// manifest media types. (Registries may refuse to serve a type the client did not accept.)
fn add_default_accept(method: Method, url: &Url, headers: &mut Vec<(String, String)>) {
    use crate::oci::media;
    let is_manifest = matches!(
        crate::oci::api::Target::parse(url.path()),
        Some(crate::oci::api::Target::Manifest { .. })
    );
    if is_manifest
        && matches!(method, Method::GET | Method::HEAD)
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
    {
        headers.push((
            "Accept".into(),
            [
                media::OCI_MANIFEST,
                media::OCI_INDEX,
                media::DOCKER_MANIFEST,
                media::DOCKER_MANIFEST_LIST,
            ]
            .join(", "),
        ));
    }
}

/// Whether a body is non-JSON (anything goes) or an envelope carrying one of `codes`.
fn has_code(body: &[u8], codes: &[String]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Err(_) => true,
        Ok(v) => v
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|errs| {
                errs.iter().any(|e| {
                    e.get("code")
                        .and_then(Value::as_str)
                        .is_some_and(|c| codes.iter().any(|x| x == c))
                })
            }),
    }
}

/// Problems with the error envelope of a 4xx answer whose body is JSON: (shape, code form).
pub fn envelope_problems(status: u16, body: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut shape, mut form) = (vec![], vec![]);
    if !(400..500).contains(&status) {
        return (shape, form);
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (shape, form);
    };
    let Some(errs) = v.get("errors").and_then(Value::as_array) else {
        shape.push(format!(
            "{status} body is JSON but has no \"errors\" array: {v}"
        ));
        return (shape, form);
    };
    for e in errs {
        match e.get("code") {
            Some(Value::String(c)) => {
                if c.is_empty() || !c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                    form.push(format!(
                        "error code {c:?} is not uppercase letters and underscores"
                    ));
                }
            }
            _ => shape.push(format!("error entry without a string \"code\": {e}")),
        }
        if let Some(m) = e.get("message")
            && !m.is_string()
        {
            shape.push(format!("error \"message\" is not a string: {m}"));
        }
    }
    (shape, form)
}

/// Problems with `Warning` headers (spec main): `299 - "text"`, no date, 4096 bytes at most.
pub fn warning_problems(values: &[String]) -> Vec<String> {
    let mut p = vec![];
    let total: usize = values.iter().map(String::len).sum();
    if total > 4096 {
        p.push(format!(
            "Warning headers carry {total} bytes, more than 4096"
        ));
    }
    let re = regex_lite::Regex::new(r#"^299 - "([^"\\]|\\.)*"$"#).expect("static regex");
    for v in values {
        if !re.is_match(v.trim()) {
            p.push(format!(
                "Warning {v:?} is not of the form 299 - \"text\" (and without a date)"
            ));
        }
    }
    p
}

fn compare_bytes(p: &mut Vec<String>, what: &str, want: &[u8], got: &[u8]) {
    if want != got {
        let first = want
            .iter()
            .zip(got)
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(got.len()));
        p.push(format!(
            "body differs from {what}: got {} bytes ({}), expected {} bytes ({}); first difference at byte {first}",
            got.len(),
            Digest::sha256(got),
            want.len(),
            Digest::sha256(want)
        ));
    }
}

/// `a.b[0].c`; keys may contain `.` when quoted: `annotations["org.x"]`.
pub fn json_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => i += 1,
            b'[' => {
                let end = path[i..].find(']')? + i;
                let inner = &path[i + 1..end];
                cur = if let Some(k) = inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                    cur.get(k)?
                } else if let Some((k, want)) = inner.split_once('=') {
                    // the first element whose field k is the string `want`
                    cur.as_array()?
                        .iter()
                        .find(|e| e.get(k).and_then(Value::as_str) == Some(want))?
                } else {
                    cur.get(inner.parse::<usize>().ok()?)?
                };
                i = end + 1;
            }
            _ => {
                let end = path[i..].find(['.', '[']).map_or(path.len(), |e| e + i);
                cur = cur.get(&path[i..end])?;
                i = end;
            }
        }
    }
    Some(cur)
}

fn contains(hay: &Value, needle: &Value) -> bool {
    match (hay, needle) {
        (Value::Array(a), n) => a
            .iter()
            .any(|x| loose_eq(x, n) || (n.is_object() && contains(x, n))),
        (Value::Object(h), Value::Object(n)) => n
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|x| loose_eq(x, v) || contains(x, v))),
        (h, n) => loose_eq(h, n),
    }
}

/// JSON equality where an expected string also matches a number written the same way:
/// templates render `{x.size}` as a string.
fn loose_eq(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(n), Value::String(s)) => n.to_string() == *s,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| loose_eq(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && b.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|x| loose_eq(x, v)))
        }
        (g, w) => g == w,
    }
}
/// The first pair out of lexical (case-insensitive, as the spec describes) order.
fn unsorted(v: &Value) -> Option<String> {
    let a = v.as_array()?;
    let s: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
    s.windows(2)
        .find(|w| w[0].to_lowercase() > w[1].to_lowercase())
        .map(|w| format!("{:?} before {:?}", w[0], w[1]))
}

/// The target of `rel="next"` among `Link` header values.
pub fn next_link(values: &[String]) -> Option<String> {
    for v in values {
        for part in v.split(',') {
            let part = part.trim();
            let (target, params) = part.split_once(';')?;
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            if params.split(';').any(|p| {
                p.trim()
                    .replace(' ', "")
                    .eq_ignore_ascii_case("rel=\"next\"")
                    || p.trim().eq_ignore_ascii_case("rel=next")
            }) {
                return Some(target.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let v = json!({"errors":[{"code":"X"}],"annotations":{"org.a":"b"}});
        assert_eq!(json_path(&v, "errors[0].code"), Some(&json!("X")));
        assert_eq!(json_path(&v, "annotations[\"org.a\"]"), Some(&json!("b")));
        assert_eq!(json_path(&v, "errors[1]"), None);
    }

    #[test]
    fn links() {
        let l = vec!["</v2/a/tags/list?n=2&last=b>; rel=\"next\"".to_string()];
        assert_eq!(next_link(&l).as_deref(), Some("/v2/a/tags/list?n=2&last=b"));
        assert_eq!(next_link(&["<x>; rel=\"prev\"".to_string()]), None);
    }

    #[test]
    fn order() {
        assert!(unsorted(&json!(["a", "B", "c"])).is_none());
        assert!(unsorted(&json!(["b", "a"])).is_some());
    }
}
