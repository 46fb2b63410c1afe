//! Judging an answer (or the variables) against expectations. Statuses first (a wrong
//! status explains everything after it), then the error envelope every 4xx JSON body
//! owes, then every other check; each failure is a [`CheckFailure`] value.

use std::sync::LazyLock;

use serde_json::Value;

use super::scenario::{Runner, stop_text};
use super::{CheckFailure, Stop, error, framing_failure};
use crate::oci::errors::CodeTable;
use crate::oci::{Digest, ErrorCode};
use crate::runner::client::Response;
use crate::runner::evidence::Evidence;
use crate::runner::jsonpath::json_path;
use crate::runner::plan::{BodyCheck, Check, Expectation, Method, Query, RequestStep, Test};
use crate::runner::predicate::{LISTED, Mismatch, Predicate, RenderError};

impl Runner<'_> {
    /// Every check of every expectation is judged, and every failure reported, in this
    /// order: statuses (a wrong status explains much of what follows), the envelope of an
    /// error body, then the rest as written.
    pub(super) fn judge_answer(&mut self, rs: &RequestStep, res: &Response) -> Result<(), Stop> {
        let method = rs.request.method;
        let mut failures = vec![];
        for e in &rs.expect {
            for c in e.checks.iter().filter(|c| is_status(c)) {
                self.check(e, c, method, res, &mut failures)?;
            }
        }
        failures.extend(self.global_checks(rs, res));
        // a body cut short by broken framing cannot be judged: checks of the body are left
        // unjudged (the framing failure stops what relies on this step)
        let body_whole = res.framing.is_none();
        for e in &rs.expect {
            for c in e.checks.iter().filter(|c| !is_status(c)) {
                if body_whole || !reads_body(c) {
                    self.check(e, c, method, res, &mut failures)?;
                } else {
                    self.unjudged.insert(
                        c.source.to_string(),
                        "the body broke HTTP framing (http.framing), so it could not be read"
                            .into(),
                    );
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Stop::Fail(failures))
        }
    }

    /// The expectations of a `check:` step, on variables.
    pub(super) fn judge_vars(&mut self, exps: &[Expectation]) -> Result<Vec<CheckFailure>, Stop> {
        let mut failures = vec![];
        for e in exps {
            for c in &e.checks {
                if let Test::Is(q @ Query::Var(v), p) = &c.test {
                    let got = self.vars.get(v).cloned();
                    let m = self.eval(p, got.as_ref())?;
                    self.record(c, m.is_empty());
                    push_mismatches(&mut failures, e, c, &q.to_string(), m);
                }
            }
        }
        Ok(failures)
    }

    fn eval(&mut self, p: &Predicate, got: Option<&Value>) -> Result<Vec<Mismatch>, Stop> {
        p.eval(got, &mut |v| {
            self.render_json(v).map_err(|s| RenderError(stop_text(s)))
        })
        .map_err(error)
    }

    fn check(
        &mut self,
        e: &Expectation,
        c: &Check,
        method: Method,
        res: &Response,
        out: &mut Vec<CheckFailure>,
    ) -> Result<(), Stop> {
        let mut m = vec![];
        let mut what;
        match &c.test {
            Test::Is(q, p) => {
                what = q.to_string();
                let got = match q {
                    Query::Status => Some(Value::from(res.status)),
                    Query::Header(h) => {
                        let all = res.header_all(h);
                        (!all.is_empty()).then(|| Value::String(all.join(", ")))
                    }
                    Query::Json(path) => {
                        let path = self.render(path)?;
                        // the path may hold a value the registry sent: cut like one
                        what = Evidence::args(format_args!("json {path}")).into();
                        match serde_json::from_slice::<Value>(&res.body) {
                            Err(x) => {
                                m.push(Mismatch::new(
                                    "a JSON body",
                                    Evidence::args(format_args!("not JSON: {x}")),
                                ));
                                None
                            }
                            Ok(v) => json_path(&v, &path).cloned(),
                        }
                    }
                    Query::Var(v) => self.vars.get(v).cloned(),
                };
                if m.is_empty() {
                    m = self.eval(p, got.as_ref())?;
                }
            }
            Test::Body(b) => {
                what = "body".into();
                m = self.body(b, &res.body)?;
            }
            Test::ErrorCode(codes) => {
                what = "error code".into();
                match error_code(codes, &res.body) {
                    Some(mismatches) => m = mismatches,
                    // a JSON body that is no envelope fails errors.envelope (judged on every
                    // answer); the code it should carry cannot be read, so it is not judged
                    None => {
                        self.unjudged.insert(
                            c.source.to_string(),
                            "the body is no error envelope (errors.envelope), so its code could not be read"
                                .into(),
                        );
                        return Ok(());
                    }
                }
            }
            Test::DigestMatchesBody => {
                what = "header Docker-Content-Digest".into();
                if method != Method::HEAD
                    && let Some(h) = res.header("docker-content-digest")
                {
                    match h.parse::<Digest>() {
                        Ok(d) => {
                            let got = Digest::of(d.algorithm(), &res.body);
                            if got != d {
                                m.push(Mismatch::new(
                                    format!("the digest of the body, {got}"),
                                    d.to_string(),
                                ));
                            }
                        }
                        Err(x) => m.push(Mismatch::new(
                            "a digest",
                            Evidence::args(format_args!("{h:?} ({x})")),
                        )),
                    }
                }
            }
        }
        self.record(c, m.is_empty());
        push_mismatches(out, e, c, &what, m);
        Ok(())
    }

    /// Remembers that a check was judged (a check judged several times, in a repeat or on
    /// every page, passes only if it held every time).
    fn record(&mut self, c: &Check, held: bool) {
        let e = self.judged.entry(c.source.to_string()).or_insert(true);
        *e &= held;
    }

    fn body(&mut self, b: &BodyCheck, body: &[u8]) -> Result<Vec<Mismatch>, Stop> {
        let mut m = vec![];
        match b {
            BodyCheck::Empty(want) => {
                if *want != body.is_empty() {
                    m.push(Mismatch::new(
                        if *want { "empty" } else { "non-empty" },
                        format!("{} bytes", body.len()),
                    ));
                }
            }
            BodyCheck::Content(c) => {
                let want = self.content(c)?;
                compare_bytes(&mut m, &format!("content {c}"), &want, body);
            }
            BodyCheck::OneOf(names) => {
                let mut matched = false;
                for n in names {
                    if self.content(n)? == body {
                        matched = true;
                    }
                }
                if !matched {
                    m.push(Mismatch::new(
                        format!("one of {}", names.join(", ")),
                        format!("{} bytes, {}", body.len(), Digest::sha256(body)),
                    ));
                }
            }
            BodyCheck::Slice(sl) => {
                let want = self.slice(sl)?;
                let what = format!("bytes {}.. of {}", sl.start, sl.content);
                compare_bytes(&mut m, &what, &want, body);
            }
            BodyCheck::Digest(d) => {
                let d = self.render(d)?;
                let want = d
                    .parse::<Digest>()
                    .map_err(|x| error(format!("expected digest {d:?}: {x}")))?;
                let got = Digest::of(want.algorithm(), body);
                if got != want {
                    m.push(Mismatch::new(
                        format!("bytes hashing to {want}"),
                        format!("bytes hashing to {got}"),
                    ));
                }
            }
        }
        Ok(m)
    }

    /// Checks every answer gets: the error envelope of a 4xx JSON body; `Warning` headers
    /// when the profile includes spec main.
    /// What every answer owes whatever the step checks: HTTP framing, the error envelope
    /// of a JSON 4xx body and the form of its codes, and (spec main) the `Warning` format.
    /// Each run-wide requirement an answer bears on is remembered as held or not, so it
    /// takes its verdict from every answer of the run, not from the one scenario naming it.
    pub(super) fn global_checks(&mut self, rs: &RequestStep, res: &Response) -> Vec<CheckFailure> {
        let failures = self.owed(rs, res);
        let bears = |req: &str| match req {
            super::FRAMING => true,
            "errors.envelope" | "errors.code-form" | "errors.message" => {
                (400..500).contains(&res.status)
                    && serde_json::from_slice::<Value>(&res.body).is_ok()
            }
            "warnings.format" => self.ctx.check_warnings && res.headers.contains_key("warning"),
            "http.retry-after" => self.ctx.judge_main && res.status == 429,
            _ => false,
        };
        // judged in RUN_WIDE's order, stopping at the first problem: those before it held,
        // the one failing did not, those after it were not judged on this answer
        let failed = failures.iter().find_map(|f| f.requirement.clone());
        for &req in RUN_WIDE {
            if failed.as_deref() == Some(req) {
                *self.run_wide.entry(req).or_insert(false) = false;
                break;
            }
            if bears(req) {
                self.run_wide.entry(req).or_insert(true);
            }
        }
        failures
    }

    fn owed(&self, rs: &RequestStep, res: &Response) -> Vec<CheckFailure> {
        let at = rs
            .expect
            .iter()
            .flat_map(|e| &e.checks)
            .next()
            .map(|c| c.source.to_string())
            .unwrap_or_default();
        let failure = |req: &str, query: &str, expected: &str, problems: Vec<Evidence>| {
            problems
                .into_iter()
                .map(|got| CheckFailure {
                    requirement: Some(req.into()),
                    query: query.into(),
                    expected: expected.into(),
                    got,
                    source: at.clone(),
                    because: None,
                })
                .collect::<Vec<_>>()
        };
        if let Some(f) = framing_failure(res, &at) {
            return vec![f];
        }
        let table = self.ctx.error_codes;
        let Envelope {
            shape,
            form,
            message,
        } = envelope_problems(res.status, &res.body, table);
        if !shape.is_empty() {
            return failure(
                "errors.envelope",
                "error body",
                "the error envelope {\"errors\": [{\"code\", \"message\", …}]}",
                shape,
            );
        }
        if !form.is_empty() {
            return failure(
                "errors.code-form",
                "error code",
                &format!(
                    "a code of {} (uppercase letters and underscores)",
                    table.describe()
                ),
                form,
            );
        }
        if !message.is_empty() {
            return failure(
                "errors.message",
                "error message",
                "a string, or no message at all",
                message,
            );
        }
        if self.ctx.check_warnings {
            let w = warning_problems(&res.header_all("warning"));
            if !w.is_empty() {
                return failure(
                    "warnings.format",
                    "header Warning",
                    "299 - \"text\", without a date, 4096 bytes at most",
                    w,
                );
            }
        }
        if self.ctx.judge_main && res.status == 429 && !res.headers.contains_key("retry-after") {
            return failure(
                "http.retry-after",
                "header Retry-After",
                "a Retry-After on a 429 (spec main)",
                vec!["429 without Retry-After".into()],
            );
        }
        vec![]
    }
}

/// The requirements judged on every answer they bear on.
pub(super) const RUN_WIDE: &[&str] = &[
    super::FRAMING,
    "errors.envelope",
    "errors.code-form",
    "errors.message",
    "warnings.format",
    "http.retry-after",
];

fn is_status(c: &Check) -> bool {
    matches!(&c.test, Test::Is(q, _) if q.is_status())
}

/// Whether a check looks at the answer's body (which broken framing leaves incomplete).
fn reads_body(c: &Check) -> bool {
    match &c.test {
        Test::Is(q, _) => matches!(q, Query::Json(_)),
        Test::Body(_) | Test::ErrorCode(_) | Test::DigestMatchesBody => true,
    }
}

fn push_mismatches(
    out: &mut Vec<CheckFailure>,
    e: &Expectation,
    c: &Check,
    what: &str,
    m: Vec<Mismatch>,
) {
    out.extend(m.into_iter().map(|m| CheckFailure {
        requirement: Some(e.requirement.clone()),
        query: what.into(),
        expected: m.expected,
        got: m.got,
        source: c.source.to_string(),
        because: e.because.clone(),
    }));
}

/// The error envelope, if the body is JSON, holds one of `codes`. (The spec lets a 4xx
/// body be anything; only a JSON body must be the envelope.) `None`: JSON that is no
/// envelope, whose code cannot be read. Codes compare without case: their form (upper
/// case, from the table) is `errors.code-form`'s to judge, not every requirement's.
fn error_code(codes: &[ErrorCode], body: &[u8]) -> Option<Vec<Mismatch>> {
    let want: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Some(vec![]);
    };
    let errs = v.get("errors").and_then(Value::as_array)?;
    let got: Vec<&str> = errs
        .iter()
        .filter_map(|e| e.get("code").and_then(Value::as_str))
        .collect();
    Some(
        if got
            .iter()
            .any(|g| want.iter().any(|w| w.eq_ignore_ascii_case(g)))
        {
            vec![]
        } else {
            vec![Mismatch::new(
                want.join(" or "),
                Evidence::args(format_args!("{got:?}")),
            )]
        },
    )
}

/// Problems with the error envelope of a 4xx answer whose body is JSON, by the requirement
/// each breaks. Each list names its first [`LISTED`] problems, then counts the rest: an
/// envelope of any length gets a bounded account.
#[derive(Debug, Default)]
pub(crate) struct Envelope {
    /// Not the envelope's shape (errors.envelope, a MUST).
    pub shape: Vec<Evidence>,
    /// A code not of the table's form (errors.code-form, a MUST).
    pub form: Vec<Evidence>,
    /// A message that is not a string: the field is OPTIONAL and, if present, SHOULD be a
    /// string (errors.message), so it is no fault of the envelope's MUST.
    pub message: Vec<Evidence>,
}

pub(crate) fn envelope_problems(status: u16, body: &[u8], table: CodeTable) -> Envelope {
    let (mut shape, mut form, mut message) = (
        Problems::default(),
        Problems::default(),
        Problems::default(),
    );
    let done = |shape: Problems, form: Problems, message: Problems| Envelope {
        shape: shape.done(),
        form: form.done(),
        message: message.done(),
    };
    if !(400..500).contains(&status) {
        return done(shape, form, message);
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return done(shape, form, message);
    };
    let Some(errs) = v.get("errors").and_then(Value::as_array) else {
        shape.push(|| {
            Evidence::labelled(
                &format!("{status} body is JSON but has no \"errors\" array: "),
                &Evidence::json(&v),
            )
        });
        return done(shape, form, message);
    };
    for e in errs {
        match e.get("code") {
            Some(Value::String(c)) => {
                if c.is_empty() || !c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                    form.push(|| {
                        Evidence::args(format_args!(
                            "error code {c:?} is not uppercase letters and underscores"
                        ))
                    });
                } else if !ErrorCode::parse(c).is_some_and(|code| table.holds(code)) {
                    // "The code field MUST be one of the following" (error-codes), the table
                    // of the profile run
                    form.push(|| {
                        Evidence::args(format_args!(
                            "error code {c:?} is not in {}",
                            table.describe()
                        ))
                    });
                }
            }
            _ => shape.push(|| {
                Evidence::labelled(
                    "error entry without a string \"code\": ",
                    &Evidence::json(e),
                )
            }),
        }
        if let Some(m) = e.get("message")
            && !m.is_string()
        {
            message.push(|| {
                Evidence::labelled("error \"message\" is not a string: ", &Evidence::json(m))
            });
        }
    }
    done(shape, form, message)
}

/// Problems of one kind: the first [`LISTED`] kept, the rest counted.
#[derive(Default)]
struct Problems {
    listed: Vec<Evidence>,
    more: usize,
}

impl Problems {
    /// `problem` is only written out while there is room for it.
    fn push(&mut self, problem: impl FnOnce() -> Evidence) {
        if self.listed.len() < LISTED {
            self.listed.push(problem());
        } else {
            self.more += 1;
        }
    }

    fn done(mut self) -> Vec<Evidence> {
        if self.more > 0 {
            self.listed
                .push(format!("… and {} more like these", self.more).into());
        }
        self.listed
    }
}

static WARNING: LazyLock<regex_lite::Regex> =
    LazyLock::new(|| regex_lite::Regex::new(r#"^299 - "([^"\\]|\\.)*"$"#).expect("static regex"));

/// Problems with `Warning` headers (spec main): `299 - "text"`, no date, 4096 bytes at most.
pub(crate) fn warning_problems(values: &[String]) -> Vec<Evidence> {
    let mut p = Problems::default();
    let total: usize = values.iter().map(String::len).sum();
    if total > 4096 {
        p.push(|| format!("Warning headers carry {total} bytes, more than 4096").into());
    }
    for v in values.iter().flat_map(|v| list_elements(v)) {
        if !WARNING.is_match(v) {
            p.push(|| {
                Evidence::args(format_args!(
                    "Warning {v:?} is not of the form 299 - \"text\" (and without a date)"
                ))
            });
        }
    }
    p.done()
}

/// The elements of a field line in HTTP's list syntax (RFC 9110 §5.6.1): split at commas
/// outside quoted strings, trimmed, empty elements dropped. `Warning` is such a list
/// (RFC 7234 §5.5: `Warning = 1#warning-value`), so two warnings may share one line.
fn list_elements(line: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (vec![], 0, false, false);
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(line[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(line[start..].trim());
    out.retain(|e| !e.is_empty());
    out
}

fn compare_bytes(m: &mut Vec<Mismatch>, what: &str, want: &[u8], got: &[u8]) {
    if want != got {
        let first = want
            .iter()
            .zip(got)
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(got.len()));
        m.push(Mismatch::new(
            format!("{what}: {} bytes ({})", want.len(), Digest::sha256(want)),
            format!(
                "{} bytes ({}), first difference at byte {first}",
                got.len(),
                Digest::sha256(got)
            ),
        ));
    }
}

#[cfg(test)]
mod tests;
