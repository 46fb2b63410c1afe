//! Errors that stop a run before any verdict: bad settings, unreadable files, a registry
//! that cannot be reached. Each maps to exit code 2 in one place (`harness::run`).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("registry URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    /// A positional argument without a scheme that looks like a registry's host.
    #[error(
        "{given:?} looks like a registry host, not a scenario filter: did you mean {suggestion}? \
         (give the scheme, http:// or https://)"
    )]
    BareHost { given: String, suggestion: String },
    /// A name filter that selects no scenario of the profile: a typo would otherwise run
    /// nothing (or everything) and pass.
    #[error("{flag} {pattern:?} matches no scenario of profile {profile} (see --list)")]
    NoScenarioMatches {
        flag: &'static str,
        pattern: String,
        profile: String,
    },
    #[error("namespace {0:?} is not a valid repository name")]
    Namespace(String),
    #[error("unknown profile {profile}; known: {known}")]
    Profile { profile: String, known: String },
    #[error("the operating system gave no randomness: {0}")]
    Random(String),
    #[error("{path}: {message}")]
    Baseline { path: PathBuf, message: String },
    #[error("HTTP client: {0}")]
    Client(#[from] crate::runner::client::ClientError),
    #[error("writing reports: {0}")]
    Reports(#[from] std::io::Error),
    #[error("{0}\nnothing was run")]
    Corpus(#[from] crate::runner::corpus::CorpusError),
    /// The spec files do not check: every diagnostic, at its position.
    #[error("{}{} problem(s) in the spec files; nothing was run", .0.iter().map(|d| format!("{d}\n\n")).collect::<String>(), .0.len())]
    SpecFiles(Vec<crate::runner::loader::Diagnostic>),
    /// The registry could not be verified at all (unreachable, TLS, credentials).
    #[error("{0}\nnothing was run")]
    Preflight(#[from] crate::runner::client::PreflightError),
}
