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
    /// The corpus that judged the run; absent from files written before it was recorded.
    #[serde(default)]
    pub corpus: Option<super::corpus::CorpusIdentity>,
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
    /// The requirements the scenario lists (those without a check of their own go
    /// unjudged when it fails).
    #[serde(default)]
    pub requirements: Vec<ListedRequirement>,
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

/// A requirement a scenario lists, as its record names it.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedRequirement {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RequirementRecord {
    pub id: String,
    pub level: String,
    pub summary: String,
    pub verdict: Outcome,
}

/// Why two results files may not be compared verdict for verdict: other requirements,
/// scenarios or fixtures judged them.
pub fn corpora_differ(a: &RunFile, b: &RunFile) -> Option<String> {
    let name = |c: &Option<super::corpus::CorpusIdentity>| match c {
        None => "an unrecorded corpus".to_string(),
        Some(c) => match &c.overlay {
            None => c.digest.clone(),
            Some(o) => format!("{} (overlay {})", c.digest, o.dir),
        },
    };
    match (&a.corpus, &b.corpus) {
        (Some(x), Some(y)) if x.digest == y.digest => None,
        (None, None) => None,
        _ => Some(format!(
            "judged by different corpora: {} and {}",
            name(&a.corpus),
            name(&b.corpus)
        )),
    }
}

impl RunFile {
    /// The same run with every renamed requirement id and scenario name written as it is
    /// now (`aliases:`), so a file written before a rename compares with one written after.
    pub fn with_current_names(mut self, aliases: &super::loader::Aliases) -> RunFile {
        let req = |id: &mut String| *id = aliases.requirement(id).to_string();
        for s in &mut self.scenarios {
            s.name = aliases.scenario(&s.name).to_string();
            if let Some(q) = &mut s.failed_requirement {
                req(q);
            }
            for f in &mut s.failures {
                if let Some(q) = &mut f.requirement {
                    req(q);
                }
            }
            for c in &mut s.checks {
                req(&mut c.requirement);
            }
            for q in &mut s.requirements {
                req(&mut q.id);
            }
        }
        for r in &mut self.requirements {
            req(&mut r.id);
        }
        self
    }

    pub fn load(path: &Path) -> Result<RunFile, ResultsError> {
        read(path).map(|(run, _)| run)
    }
}

/// A results file read as `T` (the fields a tool needs), with the whole JSON beside it: the
/// one place that says what a results file is (JSON whose `tool` is regverify).
pub fn read<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<(T, serde_json::Value), ResultsError> {
    let parse = |source| ResultsError::Parse {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(parse)?;
    match raw.get("tool").and_then(|t| t.as_str()) {
        Some("regverify") => {}
        other => {
            return Err(ResultsError::Tool {
                path: path.to_path_buf(),
                tool: other.unwrap_or("no tool named").to_string(),
            });
        }
    }
    let fields = T::deserialize(&raw).map_err(parse)?;
    Ok((fields, raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::corpus::{Corpus, SpecsMode};

    #[test]
    fn old_names_are_read_as_the_current_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("aliases.yaml"),
            "requirements:\n  - {old: push.put.created, new: push.put.201}\nscenarios:\n  - {old: \"push::chunked-old\", new: \"push::chunked\"}\n",
        )
        .unwrap();
        let corpus = Corpus::open(Some(dir.path()), SpecsMode::Overlay, None).unwrap();
        let specs = crate::runner::loader::load_corpus(&corpus).unwrap();
        let run: RunFile = serde_json::from_value(serde_json::json!({
            "tool": "regverify", "registry": "r", "profile": "oci-1.1", "seed": 1,
            "scenarios": [{
                "name": "push::chunked-old", "verdict": "fail",
                "failed_requirement": "push.put.created", "message": null,
                "failures": [{"requirement": "push.put.created", "query": "status",
                              "expected": "201", "got": "200", "source": "s"}],
                "checks": [{"requirement": "push.put.created", "outcome": "fail", "step": "s",
                            "source": "s", "expected": "201", "got": "200"}]
            }],
            "requirements": [{"id": "push.put.created", "level": "MUST", "summary": "",
                              "verdict": "fail"}]
        }))
        .unwrap();
        let run = run.with_current_names(&specs.aliases);
        let s = &run.scenarios[0];
        assert_eq!(s.name, "push::chunked");
        assert_eq!(s.failed_requirement.as_deref(), Some("push.put.201"));
        assert_eq!(s.failures[0].requirement.as_deref(), Some("push.put.201"));
        assert_eq!(s.checks[0].requirement, "push.put.201");
        assert_eq!(run.requirements[0].id, "push.put.201");
    }
}
