//! The references of an expectation checked and planned: requirements, predicates and
//! their templates, content, variables, error codes.

use serde_saphyr::Spanned;

use super::check::{Checker, Scope};
use crate::oci::ErrorCode;
use crate::runner::content::FIELDS;
use crate::runner::plan::{self, Builtin, Source};
use crate::runner::raw;
use crate::runner::template;

impl Checker<'_, '_> {
    /// One expectation; `vars_only`: in a `check:` step, where there is no answer.
    pub(super) fn expectation(
        &mut self,
        src: &Source,
        label: &str,
        e: &raw::Expect,
        scope: &mut Scope<'_>,
        vars_only: bool,
    ) -> plan::Expectation {
        // every expectation names what it checks: a failure is never blamed by default
        let requirement = match &e.req {
            Some(r) => {
                if !self.specs.requirements.contains_key(&r.value) {
                    let at = self.file.source(r);
                    self.err(
                        &at,
                        format!("{label}: unknown requirement id {}", r.value),
                        None,
                    );
                }
                r.value.clone()
            }
            None => {
                let at = e
                    .status
                    .as_ref()
                    .map(|s| self.file.source(s))
                    .unwrap_or_else(|| src.clone());
                self.err(
                    &at,
                    format!("{label}: an expectation without req:"),
                    Some("name the requirement it checks, from specs/requirements/".into()),
                );
                String::new()
            }
        };
        let mut checks = vec![];
        let mut is =
            |q: plan::Query, p: &Spanned<crate::runner::predicate::Written>, this: &mut Self| {
                let at = this.file.source(p);
                this.predicate_strings(&at, label, &p.value.0, scope);
                checks.push(plan::Check {
                    test: plan::Test::Is(q, Box::new(p.value.0.clone())),
                    source: at,
                });
            };
        if let Some(s) = &e.status {
            is(plan::Query::Status, s, self);
        }
        for (h, p) in &e.headers {
            is(plan::Query::Header(h.clone()), p, self);
        }
        for (path, p) in &e.json {
            let at = self.file.source(p);
            self.placeholders(&at, label, &[path.as_str()], scope);
            is(plan::Query::Json(path.clone()), p, self);
        }
        for (var, p) in &e.vars {
            let at = self.file.source(p);
            self.vars_known(&at, label, [var.as_str()], scope);
            is(plan::Query::Var(var.clone()), p, self);
        }
        if let Some(b) = &e.body {
            let at = self.file.source(b);
            match &b.value {
                plan::BodyCheck::Content(c) => self.content_known(&at, label, c, scope),
                plan::BodyCheck::OneOf(cs) => {
                    for c in cs {
                        self.content_known(&at, label, c, scope);
                    }
                }
                plan::BodyCheck::Slice(sl) => {
                    self.content_known(&at, label, &sl.content, scope);
                    self.placeholders(&at, label, &sl.templates().collect::<Vec<_>>(), scope);
                }
                plan::BodyCheck::Digest(d) => self.placeholders(&at, label, &[d.as_str()], scope),
                plan::BodyCheck::Empty(_) => {}
            }
            checks.push(plan::Check {
                test: plan::Test::Body(b.value.clone()),
                source: at,
            });
        }
        if let Some(c) = &e.error_code {
            let at = self.file.source(c);
            let codes = self.codes(&at, label, &c.value.clone().into_vec());
            checks.push(plan::Check {
                test: plan::Test::ErrorCode(codes),
                source: at,
            });
        }
        if let Some(d) = &e.digest_header_matches_body
            && d.value
        {
            checks.push(plan::Check {
                test: plan::Test::DigestMatchesBody,
                source: self.file.source(d),
            });
        }
        if checks.is_empty() {
            self.err(src, format!("{label}: an expectation checks nothing"), None);
        }
        if vars_only
            && checks
                .iter()
                .any(|c| !matches!(c.test, plan::Test::Is(plan::Query::Var(_), _)))
        {
            self.err(
                src,
                format!("{label}: a check: step tests only vars:"),
                None,
            );
        }
        plan::Expectation {
            requirement,
            because: e.because.clone(),
            checks,
        }
    }

    pub(super) fn codes(&mut self, src: &Source, label: &str, codes: &[String]) -> Vec<ErrorCode> {
        let mut out = vec![];
        for c in codes {
            match ErrorCode::parse(c) {
                Some(k) => out.push(k),
                None => self.err(src, format!("{label}: unknown error code {c}"), None),
            }
        }
        out
    }

    pub(super) fn content_known(&mut self, src: &Source, label: &str, c: &str, scope: &Scope<'_>) {
        if !scope.scenario.content.contains_key(c) {
            self.err(
                src,
                format!("{label}: unknown content {c}"),
                Some("declare it under the scenario's content:".into()),
            );
        }
    }

    pub(super) fn vars_known<'v>(
        &mut self,
        src: &Source,
        label: &str,
        vars: impl IntoIterator<Item = &'v str>,
        scope: &Scope<'_>,
    ) {
        for v in vars {
            scope.used.borrow_mut().insert(v.to_string());
            if !scope.defined.contains(v) {
                self.err(src, format!("{label}: undefined variable {v}"), None);
            }
        }
    }

    pub(super) fn predicate_strings(
        &mut self,
        src: &Source,
        label: &str,
        p: &crate::runner::predicate::Predicate,
        scope: &Scope<'_>,
    ) {
        let mut strings = vec![];
        p.strings(&mut strings);
        self.placeholders(src, label, &strings, scope);
    }

    pub(super) fn placeholders(
        &mut self,
        src: &Source,
        label: &str,
        strings: &[&str],
        scope: &Scope<'_>,
    ) {
        for t in strings {
            for p in template::placeholders(t) {
                scope.used.borrow_mut().insert(p.to_string());
                if !scope.defined.contains(p) {
                    let builtins: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
                    self.err(
                        src,
                        format!("{label}: unknown variable {{{p}}}"),
                        Some(format!(
                            "variables are builtins ({}), content fields (<name>.{}), and captures of earlier steps",
                            builtins.join(", "),
                            FIELDS.join("|")
                        )),
                    );
                }
            }
        }
    }
}
