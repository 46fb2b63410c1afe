//! Every way a command can end, and the one place they become exit codes: 0 all good,
//! 1 findings (the registry or the spec files fell short), 2 usage or setup trouble.

use std::path::PathBuf;
use std::process::ExitCode;

/// Trouble that stops a command before it can judge anything (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("unknown defect {0}; see --defect list")]
    UnknownDefect(String),
    #[error("unknown variation {0}; see --variation list")]
    UnknownVariation(String),
    #[error("storage at {path}: {source}")]
    Storage {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("storage at {path}: {source}")]
    RootInUse {
        path: PathBuf,
        source: regverify::server::storage::fs::lock::LockError,
    },
    #[error("authentication: {0}")]
    Auth(#[from] regverify::server::auth::AuthError),
    #[error("TLS: {0}")]
    Tls(#[from] regverify::server::tls::TlsError),
    #[error("gc of {path}: {source}")]
    Gc {
        path: PathBuf,
        source: regverify::server::gc::GcError,
    },
    #[error("embedded reference: {0}")]
    Reference(#[from] super::reference::ReferenceError),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("signal handler: {0}")]
    Signal(#[source] std::io::Error),
    #[error(transparent)]
    Corpus(#[from] regverify::runner::corpus::CorpusError),
    #[error(transparent)]
    Run(#[from] regverify::runner::error::RunError),
    #[error(transparent)]
    Explain(#[from] regverify::runner::explain::ExplainError),
    #[error(transparent)]
    Trace(#[from] regverify::runner::trace::TraceError),
    #[error(transparent)]
    Results(#[from] regverify::runner::results::ResultsError),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an expectations file: {source}")]
    Expectations {
        path: PathBuf,
        source: Box<serde_saphyr::Error>,
    },
    #[error("standard output: {0}")]
    Stdout(#[source] std::io::Error),
    #[error("defect {0} needs authentication, which the references of a matrix run without")]
    DefectNeedsAuth(String),
    #[error(transparent)]
    Clients(#[from] super::clients::ClientsError),
    /// Already printed, one diagnostic each, where they were found.
    #[error("{0} problem(s) in the spec files")]
    SpecFiles(usize),
}

/// What a command that ran reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The registry (or the spec corpus) fell short.
    Findings,
}

/// The exit code of a command's result; errors are printed here, once.
pub fn exit_code(result: Result<ExitCode, CliError>) -> ExitCode {
    match result {
        Ok(code) => code,
        // diagnostics of the spec files carry their own `error:` at each position
        Err(e @ CliError::Run(regverify::runner::error::RunError::SpecFiles(_))) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
        }
    }
}
