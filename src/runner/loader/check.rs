//! The written scenarios ([`raw`]) to the checked [`plan`]: one kind per step, `use:`
//! resolved, every reference checked (requirements, content, fixtures, variables in step
//! order, error codes), every expectation with its position.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_saphyr::Spanned;

use super::Specs;
use super::bounds::Bound;
use super::diagnostics::{Diagnostic, FileText};
use crate::runner::content::{self, FIELDS};
use crate::runner::fixtures::FixtureError;
use crate::runner::foreign::ForeignUrls;
use crate::runner::model::ContentSpec;
use crate::runner::plan::{self, Builtin, Source};
use crate::runner::raw;

pub(super) struct Checker<'a, 'd> {
    pub specs: &'a Specs,
    pub file: &'a FileText<'a>,
    pub library: &'a BTreeMap<String, Spanned<raw::Step>>,
    /// Whether a fixture may be sent: `Err` says why not (missing, or outside its root).
    pub fixture: &'a dyn Fn(&str) -> Result<(), FixtureError>,
    /// Whether a request may name another host than the registry.
    pub foreign_urls: ForeignUrls,
    pub diags: &'d mut Vec<Diagnostic>,
}

/// What a step may refer to: the scenario's content and the variables defined so far.
pub(super) struct Scope<'s> {
    pub scenario: &'s raw::Scenario,
    pub defined: HashSet<String>,
    /// Variables the step being checked uses.
    pub used: RefCell<BTreeSet<String>>,
    /// The top-level step that captures each variable.
    pub made_by: HashMap<String, usize>,
    /// What a variable captured from a `Location` designates (an upload session, a blob, a
    /// manifest), so a request to it is blamed by its endpoint like a written path.
    pub points_to: HashMap<String, crate::oci::api::Resource>,
    /// Index of the top-level step being checked.
    pub current: usize,
}

impl Checker<'_, '_> {
    pub(super) fn err(&mut self, src: &Source, message: String, hint: Option<String>) {
        self.diags.push(self.file.at(src, message, hint));
    }

    pub fn scenario(&mut self, sp: &Spanned<raw::Scenario>) -> Option<plan::Scenario> {
        let s = &sp.value;
        let here = self.file.source(sp);
        let before = self.diags.len();
        let id_ok = !s.id.is_empty()
            && s.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.id.starts_with('-')
            && !s.id.ends_with('-')
            && !s.id.contains("--");
        if !id_ok {
            self.err(
                &here,
                format!(
                    "scenario id {:?} must be lowercase words joined by single '-'",
                    s.id
                ),
                Some("the id becomes part of a repository name".into()),
            );
        }
        if let Some(r) = &s.repository
            && !crate::oci::name::valid_name(&r.replace("{namespace}", "ns"))
        {
            self.err(&here, format!("repository {r:?} is not a valid name"), None);
        }
        if s.workflows.is_empty() {
            self.err(&here, format!("scenario {} names no workflow", s.id), None);
        }
        if s.requirements.is_empty() {
            self.err(
                &here,
                format!("scenario {} verifies no requirement", s.id),
                Some("list the requirement ids from specs/requirements/ it checks".into()),
            );
        }
        for r in &s.requirements {
            if !self.specs.requirements.contains_key(r) {
                self.err(&here, format!("unknown requirement id {r}"), None);
            }
        }
        for p in &s.profiles {
            if !self.specs.profiles.contains_key(p) {
                self.err(&here, format!("unknown profile {p}"), None);
            }
        }
        for (name, spec) in &s.content {
            for d in content::dependencies(spec) {
                if !s.content.contains_key(d) {
                    self.err(
                        &here,
                        format!("content {name} is built from unknown content {d}"),
                        None,
                    );
                }
            }
            match spec {
                ContentSpec::Fixture(f) => {
                    if let Err(e) = (self.fixture)(f) {
                        self.err(&here, format!("content {name}: fixture {f}: {e}"), None);
                    }
                }
                ContentSpec::Random(n) => {
                    let field = format!("content {name}: random");
                    self.bounded(&here, &field, Bound::ContentBytes, *n);
                }
                ContentSpec::Pieces(p) => {
                    let field = format!("content {name}: pieces.count");
                    self.bounded(&here, &field, Bound::Chunks, p.count as u64);
                    let field = format!("content {name}: pieces (count × size)");
                    let n = (p.count as u64).saturating_mul(p.size);
                    self.bounded(&here, &field, Bound::ContentBytes, n);
                    if p.count == 0 {
                        self.err(
                            &here,
                            format!("content {name}: pieces.count must be at least 1"),
                            None,
                        );
                    }
                }
                ContentSpec::Image(i) => {
                    let field = format!("content {name}: pad_to");
                    self.bounded(&here, &field, Bound::ContentBytes, i.pad_to.unwrap_or(0));
                }
                _ => {}
            }
            if let ContentSpec::Index(i) = spec {
                for w in i
                    .without_platform
                    .iter()
                    .filter(|w| !i.manifests.contains(w))
                {
                    self.err(
                        &here,
                        format!(
                            "content {name}: without_platform names {w}, not one of its manifests"
                        ),
                        None,
                    );
                }
            }
        }
        let mut scope = Scope {
            scenario: s,
            defined: Builtin::ALL.iter().map(|b| b.name().to_string()).collect(),
            used: RefCell::default(),
            made_by: HashMap::new(),
            points_to: HashMap::new(),
            current: 0,
        };
        for (name, spec) in &s.content {
            for f in FIELDS {
                scope.defined.insert(format!("{name}.{f}"));
            }
            // pieces also say where each piece starts (`at.K`) and the byte before (`end.K`)
            if let ContentSpec::Pieces(p) = spec {
                scope.defined.insert(format!("{name}.piece"));
                for k in 0..=p.count {
                    scope.defined.insert(format!("{name}.at.{k}"));
                    if k > 0 {
                        scope.defined.insert(format!("{name}.end.{k}"));
                    }
                }
            }
        }
        let mut steps: Vec<plan::Step> = vec![];
        let mut names: Vec<&str> = vec![];
        // earlier steps that change the registry's state: what a step without `needs:`
        // relies on
        let mut writes: Vec<usize> = vec![];
        for (i, st) in s.steps.iter().enumerate() {
            scope.current = i;
            scope.used.borrow_mut().clear();
            let planned = self.step(st, &mut scope, 0);
            let needs = self.needs(&st.value, &names, &writes, &scope);
            names.push(st.value.name.as_deref().unwrap_or(""));
            if let Some(mut p) = planned {
                if p.writes() {
                    writes.push(i);
                }
                p.needs = needs;
                steps.push(p);
            }
        }
        let cleanup: Vec<plan::Step> = s
            .cleanup
            .iter()
            .filter_map(|st| self.step(st, &mut scope, 0))
            .collect();
        if steps.is_empty() && self.diags.len() == before {
            self.err(&here, format!("scenario {} has no steps", s.id), None);
        }
        (self.diags.len() == before).then(|| plan::Scenario {
            id: s.id.clone(),
            title: s.title.clone(),
            requirements: s.requirements.clone(),
            workflows: s.workflows.clone(),
            profiles: s.profiles.clone(),
            needs_credentials: s.needs_credentials,
            repository: s.repository.clone(),
            content: s.content.clone(),
            steps,
            cleanup,
            source: here,
        })
    }

    /// What a top-level step relies on: the steps whose captures it uses, and those named in
    /// its `needs:` (each an earlier step of the scenario); without `needs:`, the earlier
    /// steps that change state (`writes`).
    fn needs(
        &mut self,
        st: &raw::Step,
        earlier: &[&str],
        writes: &[usize],
        scope: &Scope<'_>,
    ) -> plan::Needs {
        let mut out: BTreeSet<usize> = BTreeSet::new();
        let named = match &st.needs {
            Some(named) => named.as_slice(),
            None => {
                out.extend(writes);
                &[]
            }
        };
        for n in named {
            let hits: Vec<usize> = earlier
                .iter()
                .enumerate()
                .filter(|(_, e)| **e == n.value)
                .map(|(i, _)| i)
                .collect();
            match hits.as_slice() {
                [i] => {
                    out.insert(*i);
                }
                [] => {
                    let at = self.file.source(n);
                    self.err(
                        &at,
                        format!("needs {:?}: no earlier step of that name", n.value),
                        None,
                    );
                }
                _ => {
                    let at = self.file.source(n);
                    self.err(
                        &at,
                        format!("needs {:?}: several earlier steps have that name", n.value),
                        None,
                    );
                }
            }
        }
        for v in scope.used.borrow().iter() {
            if let Some(&i) = scope.made_by.get(v)
                && i < scope.current
            {
                out.insert(i);
            }
        }
        plan::Needs(out.into_iter().collect())
    }

    /// One step; `None` when it has problems (reported).
    fn step(
        &mut self,
        sp: &Spanned<raw::Step>,
        scope: &mut Scope<'_>,
        depth: usize,
    ) -> Option<plan::Step> {
        let src = self.file.source(sp);
        let st = &sp.value;
        // `use:` takes a named step of the file; the using step may give a name, a
        // condition, a repeat and capture renames, nothing else.
        if let Some(name) = &st.use_step {
            let at = self.file.source(name);
            let Some(lib) = self.library.get(&name.value) else {
                let known: Vec<&str> = self.library.keys().map(String::as_str).collect();
                let hint = if known.is_empty() {
                    "this file has no steps: to use".to_string()
                } else {
                    format!("the file's steps: are {}", known.join(", "))
                };
                self.err(
                    &at,
                    format!("use of unknown step {}", name.value),
                    Some(hint),
                );
                return None;
            };
            if depth > 0 || lib.value.use_step.is_some() {
                self.err(&at, "a named step cannot itself use another".into(), None);
                return None;
            }
            let extra = st.request.is_some()
                || st.check.is_some()
                || st.push.is_some()
                || st.skip.is_some()
                || !st.concurrently.is_empty()
                || st.expect.is_some()
                || !st.capture.is_empty()
                || st.skip_if.is_some();
            if lib.value.needs.is_some() {
                self.err(
                    &at,
                    "a named step cannot have needs: (its users say theirs)".into(),
                    None,
                );
                return None;
            }
            if extra {
                self.err(
                    &src,
                    "a step with use: may only add name, when, repeat and as".into(),
                    None,
                );
                return None;
            }
            let mut merged = lib.value.clone();
            for (from, to) in &st.rename {
                match merged.capture.remove(from) {
                    Some(c) => {
                        merged.capture.insert(to.clone(), c);
                    }
                    None => {
                        self.err(
                            &src,
                            format!("step {} captures no {from} to rename", name.value),
                            None,
                        );
                        return None;
                    }
                }
            }
            merged.name = st.name.clone().or(merged.name).or(Some(name.value.clone()));
            merged.when.extend(st.when.clone());
            merged.repeat = st.repeat.or(merged.repeat);
            merged.needs = st.needs.clone();
            let mut planned = self.step_body(&merged, &src, scope, depth)?;
            planned.source = src;
            return Some(planned);
        }
        if !st.rename.is_empty() {
            self.err(&src, "as: renames the captures of a use: step".into(), None);
        }
        self.step_body(st, &src, scope, depth)
    }

    fn step_body(
        &mut self,
        st: &raw::Step,
        src: &Source,
        scope: &mut Scope<'_>,
        depth: usize,
    ) -> Option<plan::Step> {
        let before = self.diags.len();
        let name = match &st.name {
            Some(n) => n.clone(),
            None => {
                self.err(src, "a step needs a name".into(), None);
                String::new()
            }
        };
        let label = format!("step {name:?}");
        let kinds = st.request.is_some() as u8
            + st.check.is_some() as u8
            + st.push.is_some() as u8
            + st.skip.is_some() as u8
            + !st.concurrently.is_empty() as u8;
        if kinds != 1 {
            self.err(
                src,
                format!("{label}: a step has exactly one of request, check, push, skip, concurrently, use"),
                None,
            );
            return None;
        }
        if st.request.is_none()
            && (st.expect.is_some() || !st.capture.is_empty() || st.skip_if.is_some())
        {
            self.err(
                src,
                format!("{label}: expect, capture and skip_if belong to a request"),
                None,
            );
        }
        if let Some(n) = st.repeat {
            scope.defined.insert("i".into());
            self.bounded(src, &format!("{label}: repeat"), Bound::Repeat, n.into());
        }
        let mut when = vec![];
        for (var, p) in &st.when {
            let at = self.file.source(p);
            self.vars_known(&at, &label, [var.as_str()], scope);
            self.predicate_strings(&at, &label, &p.value.0, scope);
            when.push(plan::VarTest {
                var: var.clone(),
                predicate: p.value.0.clone(),
                source: at,
            });
        }
        let kind = if let Some(reason) = &st.skip {
            plan::StepKind::Skip(reason.clone())
        } else if let Some(p) = &st.push {
            plan::StepKind::Push(self.push(src, &label, p, scope)?)
        } else if let Some(c) = &st.check {
            let exps = c
                .clone()
                .into_vec()
                .iter()
                .map(|e| self.expectation(src, &label, e, scope, true))
                .collect();
            plan::StepKind::Check(exps)
        } else if !st.concurrently.is_empty() {
            if depth > 0 {
                self.err(src, format!("{label}: concurrently cannot nest"), None);
            }
            let subs = st
                .concurrently
                .iter()
                .filter_map(|sub| self.step(sub, scope, depth + 1))
                .collect();
            plan::StepKind::Concurrently(subs)
        } else {
            let r = st.request.as_ref()?;
            plan::StepKind::Request(Box::new(self.request_step(src, &label, st, r, scope)))
        };
        if depth > 0 && st.needs.is_some() {
            self.err(
                src,
                format!("{label}: needs: is for the scenario's own steps"),
                None,
            );
        }
        (self.diags.len() == before).then(|| plan::Step {
            name,
            source: src.clone(),
            when,
            repeat: st.repeat,
            needs: plan::Needs::default(),
            kind,
        })
    }

    fn push(
        &mut self,
        src: &Source,
        label: &str,
        p: &raw::Push,
        scope: &mut Scope<'_>,
    ) -> Option<plan::Push> {
        let mut strings: Vec<&str> = vec![];
        strings.extend(p.reference.as_deref());
        strings.extend(p.repo.as_deref());
        self.placeholders(src, label, &strings, scope);
        if let Some(n) = p.parallel {
            let field = format!("{label}: push.parallel");
            self.bounded(src, &field, Bound::Parallel, n.into());
        }
        let out = match (&p.blob, &p.manifest) {
            (Some(b), None) => {
                if p.reference.is_some() {
                    self.err(
                        src,
                        format!("{label}: push.reference is for manifests"),
                        None,
                    );
                }
                plan::Push::Blob {
                    content: b.clone(),
                    repo: p.repo.clone(),
                    parallel: p.parallel.unwrap_or(1).max(1),
                }
            }
            (None, Some(m)) => plan::Push::Manifest {
                content: m.clone(),
                reference: p.reference.clone(),
                repo: p.repo.clone(),
            },
            _ => {
                self.err(
                    src,
                    format!("{label}: push names exactly one of blob, manifest"),
                    None,
                );
                return None;
            }
        };
        let (plan::Push::Blob { content, .. } | plan::Push::Manifest { content, .. }) = &out;
        self.content_known(src, label, content, scope);
        Some(out)
    }
}
