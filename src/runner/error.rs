//! Errors that stop a run before any verdict: bad settings, unreadable files, a registry
//! that cannot be reached. Each maps to exit code 2 in one place (`harness::run`).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("registry URL {url:?}: {reason}")]
    Url { url: String, reason: String },
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
    /// The registry could not be verified at all (unreachable, TLS, credentials).
    #[error("{0}\nnothing was run")]
    Preflight(#[from] crate::runner::client::PreflightError),
}
