//! A request step: the URL, headers and body rendered; sent once, in chunks, or page after
//! page; each answer judged and captured from.

use bytes::Bytes;
use reqwest::Url;
use serde_json::Value;

use super::scenario::Runner;
use super::{Stop, error, fail};
use crate::runner::client::{Response, display_url};
use crate::runner::evidence::Evidence;
use crate::runner::jsonpath::json_path;
use crate::runner::link::{Cap, Collected, after_last, next_link};
use crate::runner::plan::{Body, Method, Request, RequestStep, Source, Step};

impl Runner<'_> {
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
        // a URL built from captured values may lead anywhere: only the registry and the
        // places it named are asked, and a refusal sends nothing
        self.reach
            .check(&url)
            .map_err(|why| error(format!("URL {}: {why}", display_url(&url))))?;
        if !req.query.is_empty() {
            let mut pairs = vec![];
            for (k, v) in &req.query {
                pairs.push((k.clone(), self.render(v)?));
            }
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(&k, &v);
            }
        }
        Ok(url)
    }

    pub(super) async fn request_step(&mut self, step: &Step, rs: &RequestStep) -> Result<(), Stop> {
        let req = &rs.request;
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
                let res = self
                    .send(req, &url, &h, data.slice(a..b), &step.source)
                    .await?;
                self.after(rs, &url, &res)?;
                if let Some(loc) = res.header("location") {
                    let next = url
                        .join(loc)
                        .map_err(|e| error(format!("Location {loc:?}: {e}")))?;
                    self.reach.named_by_registry(next.as_str());
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
            Some(Body::Fixture(f)) => self
                .ctx
                .fixtures
                .read(f)
                .map_err(|e| error(format!("fixture {f}: {e}")))?,
        };
        let url = self.build_url(req, &req.url).await?;
        add_default_accept(req.method, &url, &mut headers);
        if req.basic {
            let Some(b) = self.ctx.client.basic_value(&url) else {
                return Err(Stop::Skip(
                    "no credentials given for the registry's origin".into(),
                ));
            };
            headers.push(("Authorization".into(), b));
        }
        let res = self
            .send(req, &url, &headers, body.clone(), &step.source)
            .await?;
        self.after(rs, &url, &res)?;
        if let Some(p) = &req.paginate {
            // a broken page breaks what the step's expectations check
            let req_of_step = rs.expect.first().map(|e| e.requirement.clone());
            let req_of_step = req_of_step.as_deref();
            let mut all = vec![];
            let mut page = res;
            let mut page_url = url;
            // once a registry has sent a Link, a page without one is the last
            let mut links = false;
            // a list past the caps cannot be judged: the step ends in an error, not a
            // verdict on the registry
            let mut collected = Collected::default();
            let capped = |n, cap: Cap| {
                error(format!(
                    "pagination stopped at page {n}: the pages so far hold {cap}"
                ))
            };
            for n in 0.. {
                collected
                    .page(page.body.len())
                    .map_err(|cap| capped(n, cap))?;
                let v: Value = serde_json::from_slice(&page.body).map_err(|e| {
                    fail(
                        req_of_step,
                        &format!("page {n}"),
                        "a JSON body",
                        Evidence::args(format_args!("not JSON: {e}")),
                        &step.source,
                    )
                })?;
                let received = match json_path(&v, &p.collect) {
                    Some(Value::Array(a)) => {
                        collected.entries(a.len()).map_err(|cap| capped(n, cap))?;
                        all.extend(a.iter().cloned());
                        a.len()
                    }
                    Some(Value::Null) | None => 0,
                    Some(other) => {
                        return Err(fail(
                            req_of_step,
                            &format!("json {} of page {n}", p.collect),
                            "an array",
                            Evidence::json(other),
                            &step.source,
                        ));
                    }
                };
                let next = match next_link(&page.header_all("link")) {
                    Some(next) => {
                        links = true;
                        page_url
                            .join(&next)
                            .map_err(|e| error(format!("Link target {next:?}: {e}")))?
                    }
                    None if links => break,
                    None => {
                        let last = all.last().and_then(Value::as_str);
                        match after_last(&page_url, received, last) {
                            Some(next) => next,
                            None => break,
                        }
                    }
                };
                if n + 1 >= p.max_pages {
                    return Err(fail(
                        req_of_step,
                        "pages",
                        format!("the end of the list within {} pages", p.max_pages),
                        Evidence::args(format_args!("still a next page: {next}")),
                        &step.source,
                    ));
                }
                page_url = next;
                page = self
                    .send(req, &page_url, &headers, Bytes::new(), &step.source)
                    .await?;
                self.after(rs, &page_url, &page)?;
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
        at: &Source,
    ) -> Result<Response, Stop> {
        // an explicit Basic header replaces the client's own handling
        let anonymous = req.anonymous || req.basic;
        self.raw(req.method.as_str(), url, headers, body, anonymous)
            .await
            .map_err(|stop| match stop {
                // a failure of the exchange itself (no answer) is placed at the step
                Stop::Fail(mut f) => {
                    for x in f.iter_mut().filter(|x| x.source.is_empty()) {
                        x.source = at.to_string();
                    }
                    Stop::Fail(f)
                }
                other => other,
            })
    }

    /// skip_if, expectations, captures. An answer that makes the scenario skip is still an
    /// answer: what every answer owes (framing, the error envelope and its code, `Warning`)
    /// is judged before the skip, and a failure of it fails the scenario instead.
    fn after(&mut self, rs: &RequestStep, url: &Url, res: &Response) -> Result<(), Stop> {
        for sk in &rs.skip_if {
            if sk.status.contains(&res.status)
                && (sk.codes.is_empty() || has_code(&res.body, &sk.codes))
            {
                let owed = self.global_checks(rs, res);
                if !owed.is_empty() {
                    return Err(Stop::Fail(owed));
                }
                return Err(Stop::Skip(format!(
                    "{} (answered {})",
                    sk.reason, res.status
                )));
            }
        }
        match self.judge_answer(rs, res) {
            // the answer took effect (a success, or the status the step expects): what it
            // got wrong is reported, and the step and those relying on it go on
            Err(Stop::Fail(failures)) if took_effect(rs, res, &failures) => {
                self.kept_going.extend(failures)
            }
            judged => judged?,
        }
        self.capture(rs, url, res)
    }
}

/// Whether an answer whose checks found `failures` still did what the step asked: the very
/// status the step expects, or a success (2xx) where the step expects one, whatever exact
/// status, headers and body the spec wants (those fail on their own). A success where the
/// step expects a refusal changed what the steps after it rely on, so it did not take
/// effect as written; nor did a refusal where a success was expected. Only an answer that
/// did not take effect stops the steps relying on it.
fn took_effect(rs: &RequestStep, res: &Response, failures: &[super::CheckFailure]) -> bool {
    if !failures.iter().any(|f| f.query == "status") {
        return true;
    }
    (200..300).contains(&res.status) && expects_success(rs)
}

/// Whether the step's status expectations accept some success (all of them, when several).
fn expects_success(rs: &RequestStep) -> bool {
    use crate::runner::plan::{Query, Test};
    // statuses are written as numbers: nothing to render
    let mut as_written = |v: &Value| Ok(v.clone());
    rs.expect
        .iter()
        .flat_map(|e| &e.checks)
        .filter_map(|c| match &c.test {
            Test::Is(Query::Status, p) => Some(p),
            _ => None,
        })
        .all(|p| {
            [200u16, 201, 202, 204, 206].iter().any(|s| {
                p.eval(Some(&Value::from(*s)), &mut as_written)
                    .is_ok_and(|m| m.is_empty())
            })
        })
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
fn has_code(body: &[u8], codes: &[crate::oci::ErrorCode]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Err(_) => true,
        Ok(v) => v
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|errs| {
                errs.iter().any(|e| {
                    e.get("code")
                        .and_then(Value::as_str)
                        .is_some_and(|c| codes.iter().any(|x| x.as_str() == c))
                })
            }),
    }
}
