//! Runs one scenario of the plan: renders each step's request, sends it, judges the
//! expectations, captures values for later steps. A mismatch is a *fail* naming the
//! requirement, with what was expected and what came; a transport problem or a broken
//! scenario is an *error*; an optional feature the registry lacks is a *skip*.
//!
//! [`scenario`] walks the steps, [`request`] sends, [`assert`] judges, [`capture`] keeps
//! values, [`push`] gets content in the plain way.

mod assert;
mod capture;
mod outcomes;
mod push;
mod request;
mod scenario;

use reqwest::Url;

use super::client::{Client, Exchange, Response};
use super::evidence::Evidence;
use super::fixtures::Fixtures;
use super::foreign::ForeignUrls;
use super::model::Workflow;
use super::plan::Source;

pub use scenario::run;

/// Everything a scenario run shares with the others.
pub struct RunContext {
    pub client: Client,
    pub base: Url,
    pub namespace: String,
    pub crossmount: Option<String>,
    pub seed: u64,
    /// Random per run, so reruns never collide with leftovers.
    pub run_tag: String,
    pub fixtures: Fixtures,
    /// Check `Warning` headers (v1.1.1 text: profiles from oci-1.1 on).
    pub check_warnings: bool,
    /// Judge what every answer owes under spec main alone (`Retry-After` on a 429): the
    /// profile includes oci-next.
    pub judge_main: bool,
    /// The table error codes are judged by (`errors.code-form`): the profile's.
    pub error_codes: crate::oci::errors::CodeTable,
    /// Delete what each scenario created when it ends.
    pub cleanup: bool,
    /// Whether scenarios may send requests to other hosts than the registry.
    pub foreign_urls: ForeignUrls,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
    Skip,
}

/// The outcome of one check (and, aggregated, of a requirement).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Never reached: an earlier failure or error stopped the scenario first.
    NotVerified,
    /// The scenario found an optional feature absent, in a way the spec allows.
    Skip,
    /// The run could not judge it (a transport fault, a broken answer).
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotVerified => "not verified",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        }
    }
}

/// One check of a scenario as judged: its requirement, outcome and evidence.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckResult {
    pub requirement: String,
    pub outcome: Outcome,
    pub step: String,
    /// `file:line:col` of the check.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<Evidence>,
    /// For a check not judged: what stopped the scenario before it (or the skip reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<String>,
}

/// One check that did not hold: the requirement it breaks, what was looked at, what was
/// expected and what came (cut, as all evidence), and where the check is written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckFailure {
    pub requirement: Option<String>,
    /// What was looked at: `status`, `header Location`, `json tags`, `body`, …
    pub query: Evidence,
    pub expected: Evidence,
    pub got: Evidence,
    /// `file:line:col` of the check.
    pub source: String,
    /// Why the mismatch matters, when the scenario says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
}

impl CheckFailure {
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}: expected {}, got {}",
            self.query, self.expected, self.got
        );
        if let Some(b) = &self.because {
            s.push_str(&format!(" ({b})"));
        }
        s
    }
}

/// Why a scenario did not pass.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    pub requirement: Option<String>,
    pub step: String,
    pub source: String,
    /// The failures, one line each (or the error).
    pub message: String,
    /// The checks that failed, expected and got apart (empty for an error).
    pub failures: Vec<CheckFailure>,
    /// The exchanges of the step that went wrong.
    pub transcript: Vec<Exchange>,
    /// How many exchanges at the front of the transcript are the failure's own; after
    /// them come those of a concurrent step's other branches, cut from the printed text.
    #[serde(skip)]
    pub lead: usize,
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
    /// Every check of the scenario, in the order written, with its outcome.
    pub checks: Vec<CheckResult>,
    pub exchanges: Vec<Exchange>,
}

/// How a scenario stopped early. An error's text may quote what the registry sent (a URL,
/// a header), so it is kept as evidence too.
enum Stop {
    Fail(Vec<CheckFailure>),
    Error(Evidence),
    Skip(String),
}

fn error(m: impl std::fmt::Display) -> Stop {
    Stop::Error(Evidence::args(format_args!("{m}")))
}

/// The requirement every answer is held to by HTTP itself: a body as long as its framing
/// announces (RFC 9112 §6.3, §7.1).
pub(crate) const FRAMING: &str = "http.framing";

/// The failure of an answer whose body broke HTTP message framing, if it did. Its status
/// and headers arrived whole, so they are still judged; its body is not.
fn framing_failure(res: &Response, at: &str) -> Option<CheckFailure> {
    res.framing.as_ref().map(|f| CheckFailure {
        requirement: Some(FRAMING.into()),
        query: "body framing".into(),
        expected: "a body as long as its headers announce".into(),
        got: Evidence::args(format_args!("{f}")),
        source: at.to_string(),
        because: None,
    })
}

/// A failure of one check, outside the expectations (a push, a capture, a page).
fn fail(
    requirement: Option<&str>,
    query: &str,
    expected: impl Into<Evidence>,
    got: impl Into<Evidence>,
    at: &Source,
) -> Stop {
    Stop::Fail(vec![CheckFailure {
        requirement: requirement.map(String::from),
        query: query.into(),
        expected: expected.into(),
        got: got.into(),
        source: at.to_string(),
        because: None,
    }])
}
