//! A results file (`--json`) read back: the part of the report `diff` and `baseline` work
//! from. Fields the tools do not need are ignored, so files of other versions still load
//! as long as these fields keep their meaning.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::exec::{Outcome, Verdict};

/// Why a results file could not be used (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a regverify results file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: written by {tool:?}, not regverify")]
    Tool { path: PathBuf, tool: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunFile {
    pub tool: String,
    pub registry: String,
    pub profile: String,
    pub seed: u64,
    pub scenarios: Vec<ScenarioRecord>,
    pub requirements: Vec<RequirementRecord>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScenarioRecord {
    pub name: String,
    pub verdict: Verdict,
    /// The requirement the scenario's failure broke (what `--expect` matches).
    pub failed_requirement: Option<String>,
    pub message: Option<String>,
    #[serde(default)]
    pub failures: Vec<FailureRecord>,
    #[serde(default)]
    pub checks: Vec<CheckRecord>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FailureRecord {
    pub requirement: Option<String>,
    pub query: String,
    pub expected: String,
    pub got: String,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CheckRecord {
    pub requirement: String,
    pub outcome: Outcome,
    pub step: String,
    pub source: String,
    pub expected: Option<String>,
    pub got: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RequirementRecord {
    pub id: String,
    pub level: String,
    pub summary: String,
    pub verdict: Outcome,
}

impl RunFile {
    pub fn load(path: &Path) -> Result<RunFile, ResultsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let run: RunFile = serde_json::from_str(&text).map_err(|source| ResultsError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        if run.tool != "regverify" {
            return Err(ResultsError::Tool {
                path: path.to_path_buf(),
                tool: run.tool,
            });
        }
        Ok(run)
    }
}
