//! The checked plan: what the loader makes of the YAML and what execution runs. Every
//! step has one kind, every expectation and capture its position; a plan value exists only
//! when its references (content, variables, requirements, error codes) were checked, so
//! execution never meets an impossible case.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::model::{ContentSpec, Workflow};
use super::predicate::Predicate;
use crate::oci::ErrorCode;

/// A position in a spec file, as `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: String,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    /// The requirements the scenario is about (every expectation names one of its own).
    pub requirements: Vec<String>,
    /// The first workflow names the scenario (`<workflow>::<id>`).
    pub workflows: Vec<Workflow>,
    /// Profiles that include this scenario; profiles extending one of them do too.
    pub profiles: Vec<String>,
    /// Runs only when the run has credentials; otherwise reported as skipped.
    pub needs_credentials: bool,
    /// A fixed repository (templated with `{namespace}`) instead of one of its own: for
    /// content seeded once and pulled by read-only scenarios. Never cleaned up.
    pub repository: Option<String>,
    pub content: BTreeMap<String, ContentSpec>,
    pub steps: Vec<Step>,
    /// Steps run after the others whatever happened, results ignored.
    pub cleanup: Vec<Step>,
    pub source: Source,
}

impl Scenario {
    /// The stable test name: `<first workflow>::<id>`.
    pub fn name(&self) -> String {
        format!("{}::{}", self.workflows[0].as_str(), self.id)
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub source: Source,
    /// Run only when every variable satisfies its predicate.
    pub when: Vec<VarTest>,
    /// Run this many times, with `{i}` = 0, 1, …
    pub repeat: Option<u32>,
    /// What must have gone well before this step runs (top-level steps only).
    pub needs: Needs,
    pub kind: StepKind,
}

impl Step {
    /// Whether the step changes the registry's state: a push, a write request, or a
    /// concurrent group holding one.
    pub fn writes(&self) -> bool {
        match &self.kind {
            StepKind::Push(_) => true,
            StepKind::Request(r) => !matches!(r.request.method, Method::GET | Method::HEAD),
            StepKind::Concurrently(subs) => subs.iter().any(Step::writes),
            StepKind::Check(_) | StepKind::Skip(_) => false,
        }
    }
}

/// The steps a step relies on (indices of the scenario's steps): those whose captures it
/// uses, and those named in its `needs:` — without `needs:`, every earlier step that changes
/// the registry's state (a `push:`, a PUT, POST, PATCH or DELETE). Reads never hold up
/// another step. When one of them did not take effect (its answer was no success, or a
/// capture came back empty) or was not run, the step is not run and its checks are not
/// verified, naming that step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs(pub Vec<usize>);

#[derive(Debug, Clone)]
pub struct VarTest {
    pub var: String,
    pub predicate: Predicate,
    pub source: Source,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Request(Box<RequestStep>),
    /// Push content the usual way (setup).
    Push(Push),
    /// Expectations on variables.
    Check(Vec<Expectation>),
    /// Sub-steps run at the same time, each judged.
    Concurrently(Vec<Step>),
    /// End the scenario as skipped with this reason (under a `when:`: the branch means an
    /// optional feature is absent).
    Skip(String),
}

#[derive(Debug, Clone)]
pub struct RequestStep {
    pub request: Request,
    pub expect: Vec<Expectation>,
    pub capture: Vec<Capture>,
    /// An answer here means the registry lacks an optional feature: the scenario is skipped.
    pub skip_if: Vec<SkipIf>,
}

#[derive(Debug, Clone)]
pub struct SkipIf {
    pub status: Vec<u16>,
    /// Only when a JSON error body carries one of these codes (a non-JSON body matches).
    pub codes: Vec<ErrorCode>,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub enum Push {
    /// A declared content pushed as a blob, by POST then PUT; `parallel` times at once.
    Blob {
        content: String,
        repo: Option<String>,
        parallel: u32,
    },
    /// A declared content pushed as a manifest (its media type as Content-Type), to
    /// `reference` (templated; default: its digest).
    Manifest {
        content: String,
        reference: Option<String>,
        repo: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// Absolute, or a path resolved against the registry URL (templated).
    pub url: String,
    /// Query parameters appended to the URL (templated), in order; a key may repeat.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    pub chunks: Option<Chunks>,
    pub paginate: Option<Paginate>,
    /// Send no credentials, whatever the run has.
    pub anonymous: bool,
    /// Send the run's credentials as Basic, unasked (e.g. to a token endpoint).
    pub basic: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Method {
    GET,
    HEAD,
    POST,
    PUT,
    PATCH,
    DELETE,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Body {
    /// A declared content's bytes.
    Content(String),
    /// Bytes `start..end` of a declared content.
    Slice(Slice),
    Text(String),
    Json(Value),
    Fixture(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slice {
    pub content: String,
    pub start: Offset,
    /// End, exclusive (default: the end).
    #[serde(default)]
    pub end: Option<Offset>,
}

impl Slice {
    /// The templates among its offsets (for the loader's checks).
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&self.start)
            .chain(self.end.as_ref())
            .filter_map(|o| match o {
                Offset::Template(t) => Some(t.as_str()),
                Offset::At(_) => None,
            })
    }
}

/// A byte position in a slice: a number, or a template naming one (`"{layer.at.2}"`, where a
/// content's pieces follow the registry's chunk minimum).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Offset {
    At(u64),
    Template(String),
}

impl std::fmt::Display for Offset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Offset::At(n) => write!(f, "{n}"),
            Offset::Template(t) => f.write_str(t),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunks {
    pub content: String,
    pub count: u32,
    /// Variable holding the upload URL, updated from each response's `Location`.
    pub location: String,
    /// Leave the last chunk out (to send it with the closing PUT).
    #[serde(default)]
    pub hold_last: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paginate {
    /// JSON path of the array in each page (e.g. `tags`).
    pub collect: String,
    /// Variable receiving the concatenated arrays.
    pub into: String,
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

fn default_max_pages() -> u32 {
    1000
}

/// One expectation: the requirement it checks and the checks that make it up.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// The requirement a failure breaks.
    pub requirement: String,
    /// Said in the failure, to explain what the mismatch means.
    pub because: Option<String>,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug)]
pub struct Check {
    pub test: Test,
    pub source: Source,
}

#[derive(Clone, Debug)]
pub enum Test {
    /// A predicate on a queried value.
    Is(Query, Box<Predicate>),
    Body(BodyCheck),
    /// The error envelope, if the body is JSON, holds one of these codes.
    ErrorCode(Vec<ErrorCode>),
    /// `Docker-Content-Digest`, when present, is the digest of the body.
    DigestMatchesBody,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    Status,
    Header(String),
    /// A JSON path of the body (templated).
    Json(String),
    Var(String),
}

impl Query {
    /// Statuses are judged before anything else: a wrong status explains the rest.
    pub fn is_status(&self) -> bool {
        matches!(self, Query::Status)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Status => f.write_str("status"),
            Query::Header(h) => write!(f, "header {h}"),
            Query::Json(p) => write!(f, "json {p}"),
            Query::Var(v) => write!(f, "variable {v}"),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BodyCheck {
    /// Byte for byte a declared content.
    Content(String),
    /// Byte for byte one of these contents.
    OneOf(Vec<String>),
    /// Bytes `start..end` of a declared content.
    Slice(Slice),
    Empty(bool),
    /// The body hashes to this digest (templated).
    Digest(String),
}

#[derive(Clone, Debug)]
pub struct Capture {
    pub name: String,
    pub from: CaptureFrom,
    /// A missing value captures "" (or null) instead of failing.
    pub optional: bool,
    /// The requirement a missing value breaks: the capture's own `req:`, else that of the
    /// step's first expectation (the loader refuses a capture that has neither).
    pub requirement: String,
    pub source: Source,
}

#[derive(Clone, Debug)]
pub enum CaptureFrom {
    /// A header's value; `resolve`: as a URL resolved against the request URL; `replace`:
    /// with its first occurrence of one template replaced by another (a value without it is
    /// captured as missing).
    Header {
        name: String,
        resolve: bool,
        replace: Option<(String, String)>,
    },
    /// The first of these JSON paths that is present (`token|access_token`).
    Json(Vec<String>),
    /// The status, as a number.
    Status,
    Challenge(ChallengePart),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengePart {
    Scheme,
    Realm,
    Service,
    Scope,
}

impl ChallengePart {
    pub fn parse(s: &str) -> Option<ChallengePart> {
        Some(match s {
            "scheme" => ChallengePart::Scheme,
            "realm" => ChallengePart::Realm,
            "service" => ChallengePart::Service,
            "scope" => ChallengePart::Scope,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengePart::Scheme => "scheme",
            ChallengePart::Realm => "realm",
            ChallengePart::Service => "service",
            ChallengePart::Scope => "scope",
        }
    }
}

/// Names every scenario may use without defining them (the one list: the loader checks
/// against it, execution defines each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Repo,
    Repo2,
    Namespace,
    Registry,
    Seed,
    Other,
    Uuid,
}

impl Builtin {
    pub const ALL: [Builtin; 7] = [
        Builtin::Repo,
        Builtin::Repo2,
        Builtin::Namespace,
        Builtin::Registry,
        Builtin::Seed,
        Builtin::Other,
        Builtin::Uuid,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Repo => "repo",
            Builtin::Repo2 => "repo2",
            Builtin::Namespace => "namespace",
            Builtin::Registry => "registry",
            Builtin::Seed => "seed",
            Builtin::Other => "other",
            Builtin::Uuid => "uuid",
        }
    }
}
