//! One scenario: its variables, its steps in order, the cleanup, and the result.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use reqwest::Url;
use serde_json::Value;

use super::outcomes::{self, End, Judgements, StepState};
use super::{CheckFailure, CheckResult, Finding, RunContext, ScenarioResult, Stop, Verdict, error};
use crate::runner::client::{Exchange, Response, TransportError, display_url};
use crate::runner::content::{ContentStore, Resolved};
use crate::runner::evidence::Evidence;
use crate::runner::foreign::Reach;
use crate::runner::plan::{Builtin, Offset, Scenario, Slice, Step, StepKind};
use crate::runner::predicate::RenderError;
use crate::runner::template::{self, UnknownVariable};

pub(super) struct Runner<'a> {
    pub ctx: &'a RunContext,
    pub scenario: &'a Scenario,
    pub vars: HashMap<String, Value>,
    pub store: ContentStore<'a>,
    pub log: Vec<Exchange>,
    /// Content the registry said it created (201 with a Location), for the final cleanup.
    pub created: Vec<Url>,
    /// Checks judged so far, by position: whether each held.
    pub judged: HashMap<String, bool>,
    /// Set by a concurrent step that failed: how many exchanges at the front of the log's
    /// latest step are the failure's own (the rest ran beside it).
    pub lead: Option<usize>,
    /// Failures that did not stop their step: a push whose first way failed and whose
    /// fallback got the content in. They are reported; the steps after go on.
    pub kept_going: Vec<CheckFailure>,
    /// Checks of a step that ran but could not be judged, by position, with the reason
    /// (a body cut short): reported as not verified.
    pub unjudged: HashMap<String, String>,
    /// The origins the scenario's requests may go to.
    pub reach: Reach,
    /// The run-wide requirements the scenario's answers bore on, and whether every one of
    /// those answers kept each (see `assert::RUN_WIDE`).
    pub run_wide: std::collections::BTreeMap<&'static str, bool>,
}

pub(super) fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn builtin(ctx: &RunContext, s: &Scenario, b: Builtin) -> String {
    let repo = || match &s.repository {
        Some(r) => r.replace("{namespace}", &ctx.namespace),
        None => format!("{}/{}-{}", ctx.namespace, s.id, ctx.run_tag),
    };
    match b {
        Builtin::Repo => repo(),
        Builtin::Repo2 => match &ctx.crossmount {
            Some(ns) => format!("{ns}/{}-{}", s.id, ctx.run_tag),
            None => format!("{}-mount", repo()),
        },
        Builtin::Namespace => ctx.namespace.clone(),
        Builtin::Registry => ctx.base.as_str().trim_end_matches('/').to_string(),
        Builtin::Seed => ctx.seed.to_string(),
        Builtin::Other => format!("absent-{}", ctx.run_tag),
        Builtin::Uuid => crate::oci::random_uuid(),
    }
}

pub async fn run(ctx: &RunContext, s: &Scenario) -> ScenarioResult {
    let start = Instant::now();
    let vars = Builtin::ALL
        .iter()
        .map(|&b| (b.name().to_string(), Value::String(builtin(ctx, s, b))))
        .collect();
    let mut r = Runner {
        ctx,
        scenario: s,
        vars,
        store: ContentStore::new(&s.content, ctx.fixtures.clone(), ctx.seed, &s.id),
        log: vec![],
        created: vec![],
        judged: HashMap::new(),
        lead: None,
        kept_going: vec![],
        unjudged: HashMap::new(),
        reach: Reach::new(ctx.foreign_urls, &ctx.base),
        run_wide: Default::default(),
    };
    // every failure of every step is kept with its step; the first failing step (or else
    // the error) is the finding shown; a skip or an error ends the scenario
    let mut first_fail: Option<Shown<'_>> = None;
    let mut error: Option<Shown<'_>> = None;
    let mut failures: Vec<(String, CheckFailure)> = vec![];
    let mut states = vec![StepState::NotReached; s.steps.len()];
    let mut end: Option<End> = None;
    if s.needs_credentials && !ctx.client.has_credentials() {
        end = Some(End::Skip(
            "no credentials given (OCI_USERNAME / OCI_PASSWORD or user:password@ in the URL)"
                .into(),
        ));
    }
    for (i, step) in s.steps.iter().enumerate() {
        if end.is_some() {
            break;
        }
        // a step relies on what its captures and `needs:` name: the first of those that did
        // not take effect (or was itself held up, by its own root) holds it up
        if let Some(&j) = step
            .needs
            .0
            .iter()
            .find(|&&j| states[j] != StepState::TookEffect)
        {
            states[i] = match states[j] {
                StepState::Blocked(root) => StepState::Blocked(root),
                _ => StepState::Blocked(j),
            };
            continue;
        }
        let mark = r.log.len();
        r.lead = None;
        let result = r.step(step).await;
        let mut step_failures = std::mem::take(&mut r.kept_going);
        match result {
            Ok(()) => states[i] = StepState::TookEffect,
            Err(Stop::Fail(f)) => {
                states[i] = StepState::NoEffect(outcomes::stop_text(&Stop::Fail(f.clone())));
                step_failures.extend(f);
            }
            Err(Stop::Skip(reason)) => end = Some(End::Skip(reason)),
            Err(Stop::Error(m)) => {
                states[i] = StepState::Errored(m.to_string());
                end = Some(End::Error(i));
                if error.is_none() {
                    error = Some((Stop::Error(m), step, mark..r.log.len(), r.lead));
                }
            }
        }
        if !step_failures.is_empty() {
            failures.extend(step_failures.iter().map(|f| (step.name.clone(), f.clone())));
            if first_fail.is_none() {
                first_fail = Some((Stop::Fail(step_failures), step, mark..r.log.len(), r.lead));
            }
        }
    }
    // cleanup runs whatever happened; its results are not verdicts
    for step in &s.cleanup {
        let _ = r.step(step).await;
    }
    if ctx.cleanup && s.repository.is_none() {
        r.remove_created().await;
    }
    let judged = std::mem::take(&mut r.judged);
    let unjudged = std::mem::take(&mut r.unjudged);
    let skip_reason = match &end {
        Some(End::Skip(reason)) => Some(reason.clone()),
        _ => None,
    };
    let verdict = match (&first_fail, &end) {
        (Some(_), _) => Verdict::Fail,
        (None, Some(End::Error(_))) => Verdict::Error,
        (None, Some(End::Skip(_))) => Verdict::Skip,
        (None, None) => Verdict::Pass,
    };
    let finding = first_fail.or(error).map(|(stop, step, span, lead)| {
        let (failures, message) = match stop {
            // every failure names its own requirement (the loader sees to it): none is
            // charged to the scenario's first
            Stop::Fail(failures) => {
                let message = failures
                    .iter()
                    .map(super::CheckFailure::line)
                    .collect::<Vec<_>>()
                    .join("\n");
                (failures, message)
            }
            Stop::Error(m) => (vec![], m.into()),
            Stop::Skip(m) => (vec![], m),
        };
        let lead = lead.unwrap_or(span.len());
        Finding {
            requirement: failures.first().and_then(|f| f.requirement.clone()),
            step: step.name.clone(),
            source: failures
                .first()
                .map(|f| f.source.clone())
                .unwrap_or_else(|| step.source.to_string()),
            message,
            failures,
            transcript: r.log[span].to_vec(),
            lead,
        }
    });
    let mut checks = outcomes::check_results(
        s,
        Judgements {
            held: &judged,
            unread: &unjudged,
        },
        &states,
        end.as_ref(),
        &failures,
    );
    // run-wide requirements every answer kept (a failure is among the checks already)
    checks.extend(
        r.run_wide
            .iter()
            .filter(|(_, held)| **held)
            .map(|(req, _)| CheckResult {
                requirement: req.to_string(),
                outcome: super::Outcome::Pass,
                step: "every answer".into(),
                source: s.source.to_string(),
                expected: None,
                got: None,
                blocked_by: None,
            }),
    );
    ScenarioResult {
        name: s.name(),
        id: s.id.clone(),
        title: s.title.clone(),
        workflows: s.workflows.clone(),
        requirements: s.requirements.clone(),
        verdict,
        finding,
        skip_reason,
        millis: start.elapsed().as_millis() as u64,
        checks,
        exchanges: r.log,
    }
}

impl<'a> Runner<'a> {
    /// Renders a template, resolving any content it names first.
    pub fn render(&mut self, t: &str) -> Result<String, Stop> {
        self.render_strings(&[t], |lookup| template::render(t, lookup))
    }

    pub fn render_json(&mut self, v: &Value) -> Result<Value, Stop> {
        let mut strings = vec![];
        template::json_strings(v, &mut strings);
        self.render_strings(&strings, |lookup| template::render_json(v, lookup))
    }

    /// Resolves the content `strings` name, then renders with content fields and variables
    /// (borrowed, not copied: the variables may hold whole collected lists).
    fn render_strings<T>(
        &mut self,
        strings: &[&str],
        render: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> Result<T, UnknownVariable>,
    ) -> Result<T, Stop> {
        let vars = &self.vars;
        let vl = |n: &str| vars.get(n).map(value_str);
        self.store.prepare(strings, &vl, 0).map_err(error)?;
        let lookup = self.store.lookup(&vl);
        render(&lookup).map_err(error)
    }

    pub fn content(&mut self, name: &str) -> Result<Bytes, Stop> {
        Ok(self.resolve(name)?.bytes)
    }

    pub fn resolve(&mut self, name: &str) -> Result<Resolved, Stop> {
        let vars = &self.vars;
        let vl = |n: &str| vars.get(n).map(value_str);
        self.store.resolve(name, &vl).map_err(error)
    }

    pub fn slice(&mut self, sl: &Slice) -> Result<Bytes, Stop> {
        let b = self.content(&sl.content)?;
        let len = b.len() as u64;
        let end = match &sl.end {
            Some(e) => self.offset(e)?.min(len),
            None => len,
        } as usize;
        let start = (self.offset(&sl.start)? as usize).min(end);
        Ok(b.slice(start..end))
    }

    fn offset(&mut self, o: &Offset) -> Result<u64, Stop> {
        match o {
            Offset::At(n) => Ok(*n),
            Offset::Template(t) => {
                let v = self.render(t)?;
                v.trim()
                    .parse()
                    .map_err(|_| error(format!("slice offset {t:?} is {v:?}, not a number")))
            }
        }
    }

    fn condition_holds(&mut self, step: &Step) -> Result<bool, Stop> {
        for t in &step.when {
            let got = self.vars.get(&t.var).cloned();
            let mismatches = t
                .predicate
                .eval(got.as_ref(), &mut |v| {
                    self.render_json(v).map_err(|s| RenderError(stop_text(s)))
                })
                .map_err(error)?;
            if !mismatches.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// One step (boxed: `concurrently` makes steps recursive).
    pub fn step<'s>(
        &'s mut self,
        step: &'s Step,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Stop>> + Send + 's>> {
        Box::pin(self.step_inner(step))
    }

    async fn step_inner(&mut self, step: &Step) -> Result<(), Stop> {
        if !self.condition_holds(step)? {
            return Ok(());
        }
        let times = step.repeat.unwrap_or(1);
        for i in 0..times {
            if step.repeat.is_some() {
                self.vars.insert("i".into(), Value::String(i.to_string()));
            }
            match &step.kind {
                StepKind::Skip(reason) => return Err(Stop::Skip(reason.clone())),
                StepKind::Concurrently(subs) => self.concurrently(subs).await?,
                StepKind::Request(r) => self.request_step(step, r).await?,
                StepKind::Push(p) => self.push(step, p).await?,
                StepKind::Check(exps) => {
                    let failures = self.judge_vars(exps)?;
                    if !failures.is_empty() {
                        return Err(Stop::Fail(failures));
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs sub-steps at the same time, each on its own copy of the variables; their
    /// exchanges join the transcript, the first failure (in the order written) counts.
    async fn concurrently(&mut self, steps: &[Step]) -> Result<(), Stop> {
        let mut forks: Vec<Runner<'a>> = steps
            .iter()
            .map(|_| Runner {
                ctx: self.ctx,
                scenario: self.scenario,
                vars: self.vars.clone(),
                store: self.store.clone(),
                log: vec![],
                created: vec![],
                judged: HashMap::new(),
                lead: None,
                kept_going: vec![],
                unjudged: HashMap::new(),
                reach: self.reach.clone(),
                run_wide: Default::default(),
            })
            .collect();
        let runs = forks.iter_mut().zip(steps).map(|(f, st)| f.step(st));
        let outcomes = futures_util::future::join_all(runs).await;
        // the transcript starts with the last exchange of the sub-step that failed first
        // (a sub-step stops at its failure, so that is the failing answer), then the rest:
        // a failure shows its own answer, and the others can be cut from what is printed
        if let Some(first) = outcomes.iter().position(Result::is_err) {
            forks.swap(0, first);
            if let Some(failing) = forks[0].log.pop() {
                forks[0].log.insert(0, failing);
                self.lead = Some(1);
            }
        }
        for f in forks {
            self.log.extend(f.log);
            self.created.extend(f.created);
            self.kept_going.extend(f.kept_going);
            self.unjudged.extend(f.unjudged);
            for (k, held) in f.judged {
                *self.judged.entry(k).or_insert(true) &= held;
            }
            for (k, held) in f.run_wide {
                *self.run_wide.entry(k).or_insert(true) &= held;
            }
        }
        outcomes.into_iter().collect()
    }

    /// Deletes what the scenario created, manifests first (newest first, so referrers and
    /// indexes go before what they point at), then blobs. Best effort: a registry without
    /// deletion keeps it all. Not part of the transcript.
    ///
    /// Content whose bytes the specs fix (the empty descriptor's `{}`, the empty blob) is
    /// left where it is: every scenario that needs it pushes the same bytes, so deleting it
    /// here would, on a registry whose deletion is not confined to the repository, pull it
    /// from under scenarios still running. Everything else is the scenario's own.
    async fn remove_created(&mut self) {
        let mut created = std::mem::take(&mut self.created);
        created.retain(|u| !is_shared_content(u));
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

    /// One exchange through the run's client (auth, redirects, limits), remembered for the
    /// transcript and for the cleanup. `anonymous`: send no credentials of the run's own.
    pub async fn raw(
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
            .map_err(|e| match e {
                // a request left without an answer is the registry's failure, not the run's
                TransportError::NoAnswer { .. } => Stop::Fail(vec![CheckFailure {
                    requirement: Some(super::FRAMING.into()),
                    query: "answer".into(),
                    expected: "an HTTP answer".into(),
                    got: Evidence::args(format_args!("{e}")),
                    source: String::new(),
                    because: None,
                }]),
                e => error(format!("{method} {}: {e}", display_url(url))),
            })?;
        self.note_created(url, &res);
        // an answer whose body broke HTTP framing is still an answer: its status and
        // headers are judged, the fault is a failure of its own (see `framing_failure`)
        Ok(res)
    }
}

/// Whether `url` names a blob whose bytes every scenario pushing it shares (see
/// [`Runner::remove_created`]).
fn is_shared_content(url: &Url) -> bool {
    use crate::oci::Digest;
    use std::sync::LazyLock;
    static SHARED: LazyLock<[String; 2]> = LazyLock::new(|| {
        [
            // the image spec's empty descriptor
            Digest::sha256(b"{}").to_string(),
            Digest::sha256(b"").to_string(),
        ]
    });
    match crate::oci::api::Target::parse(url.path()) {
        Some(crate::oci::api::Target::Blob { digest, .. }) => SHARED.iter().any(|d| d == digest),
        _ => false,
    }
}

/// The text of a stop met while rendering an expected value (always an error: a broken
/// template, an unknown content).
pub(super) fn stop_text(s: Stop) -> String {
    outcomes::stop_text(&s)
}

/// A stop as the finding shows it: the stop, its step, the step's exchanges (a span of the
/// log) and how many of them lead (see [`Runner::lead`]).
type Shown<'s> = (Stop, &'s Step, std::ops::Range<usize>, Option<usize>);
