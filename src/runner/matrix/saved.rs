//! `matrix --results`: the columns of a matrix from results files (`run --json`) written
//! elsewhere, one run per registry (a fan-out of CI jobs), instead of running here. A file
//! is read for what the table needs (each requirement's verdict, the statement, the
//! counts) and kept whole, so the matrix's JSON carries each report as it was written.
//! Files judged by different corpora are refused unless the caller allows it: a
//! requirement could read pass in one column and fail in another because its scenario
//! changed, not the registry.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

use super::{Column, TargetKind};
use crate::runner::corpus::CorpusIdentity;
use crate::runner::exec::{Outcome, Verdict};
use crate::runner::report::{Conformance, Counts};
use crate::runner::results::{self, ResultsError};

/// A results file as the matrix reads it.
#[derive(Debug, Clone)]
pub struct SavedRun {
    pub path: PathBuf,
    pub registry: String,
    pub profile: String,
    pub seed: u64,
    pub duration_ms: u64,
    pub corpus: Option<CorpusIdentity>,
    pub conformance: Conformance,
    pub scenarios_summary: Counts,
    pub requirements: Vec<SavedRequirement>,
    scenarios: Vec<SavedScenario>,
    /// The file as written, for the matrix's JSON.
    raw: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedRequirement {
    pub id: String,
    pub verdict: Outcome,
    pub claimed: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct SavedScenario {
    verdict: Verdict,
    #[serde(default)]
    not_claimed: Option<serde_json::Value>,
}

/// The fields read; everything else of the file is kept in `raw` only.
#[derive(Deserialize)]
struct Fields {
    registry: String,
    profile: String,
    seed: u64,
    duration_ms: u64,
    #[serde(default)]
    corpus: Option<CorpusIdentity>,
    conformance: Conformance,
    scenarios_summary: Counts,
    requirements: Vec<SavedRequirement>,
    scenarios: Vec<SavedScenario>,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error(transparent)]
    File(#[from] ResultsError),
    #[error(
        "the results were judged by different corpora ({0}): a requirement may differ because its \
         scenario changed, not the registry; give --mixed-corpora to build the matrix all the same"
    )]
    MixedCorpora(String),
    #[error("the results hold the registries to different profiles ({0}): one matrix, one profile")]
    MixedProfiles(String),
}

impl SavedRun {
    pub fn load(path: &Path) -> Result<SavedRun, SavedError> {
        let (f, raw) = results::read::<Fields>(path)?;
        Ok(SavedRun {
            path: path.to_path_buf(),
            registry: f.registry,
            profile: f.profile,
            seed: f.seed,
            duration_ms: f.duration_ms,
            corpus: f.corpus,
            conformance: f.conformance.titled(),
            scenarios_summary: f.scenarios_summary,
            requirements: f.requirements,
            scenarios: f.scenarios,
            raw,
        })
    }

    /// As [`crate::runner::report::Report::findings`]: a claimed requirement failed, or a
    /// scenario failed that its category's absence does not explain.
    pub fn findings(&self) -> bool {
        self.requirements
            .iter()
            .any(|q| q.claimed && q.verdict == Outcome::Fail)
            || self
                .scenarios
                .iter()
                .any(|s| s.verdict == Verdict::Fail && s.not_claimed.is_none())
    }

    /// The column of this run: labelled by the registry it judged, as a URL given to
    /// `matrix` is.
    pub fn column(self) -> Column {
        Column {
            label: self.registry.trim_end_matches('/').to_string(),
            kind: TargetKind::Results(self.path.display().to_string()),
            error: None,
            conformance: Some(self.conformance.clone()),
            duration_ms: self.duration_ms,
            report: Some(super::ColumnReport::Saved(Box::new(self))),
        }
    }
}

impl Serialize for SavedRun {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

/// The corpus of a run as said in a message: its digest, and its overlay if any.
fn corpus_name(c: &Option<CorpusIdentity>) -> String {
    match c {
        None => "unrecorded".into(),
        Some(c) => match &c.overlay {
            None => c.digest.clone(),
            Some(o) => format!("{} with overlay {}", c.digest, o.dir),
        },
    }
}

/// Whether the runs may stand side by side: one profile, and one corpus unless
/// `mixed_corpora`.
pub fn check(runs: &[SavedRun], mixed_corpora: bool) -> Result<(), SavedError> {
    let distinct = |key: &dyn Fn(&SavedRun) -> String| -> Option<String> {
        let mut seen: Vec<String> = vec![];
        for r in runs {
            let k = key(r);
            if !seen.contains(&k) {
                seen.push(k);
            }
        }
        (seen.len() > 1).then(|| {
            runs.iter()
                .map(|r| format!("{}: {}", r.path.display(), key(r)))
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    if let Some(list) = distinct(&|r: &SavedRun| r.profile.clone()) {
        return Err(SavedError::MixedProfiles(list));
    }
    let digest = |r: &SavedRun| match &r.corpus {
        Some(c) => c.digest.clone(),
        None => corpus_name(&None),
    };
    if !mixed_corpora && distinct(&digest).is_some() {
        let list = runs
            .iter()
            .map(|r| format!("{}: {}", r.path.display(), corpus_name(&r.corpus)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SavedError::MixedCorpora(list));
    }
    Ok(())
}
