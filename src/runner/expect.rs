//! `--expect FILE`: a baseline of known deviations. The run passes when its failures match
//! the file exactly: a new failure fails the run, and so does a listed one that now passes
//! (the baseline is stale and must be updated).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::exec::{ScenarioResult, Verdict};
use super::harness::requirement_verdicts;
use super::loader::Specs;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Requirement ids expected to fail, each with the reason.
    #[serde(default)]
    pub failures: Vec<Expected>,
    /// Scenarios expected to end in an error (a transport fault of the registry).
    #[serde(default)]
    pub errors: Vec<ExpectedError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub requirement: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedError {
    pub scenario: String,
    pub reason: String,
}

pub fn load(path: &Path, specs: &Specs) -> Result<Expectations, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let e: Expectations = serde_saphyr::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        format!(
            "{}{at}: {}",
            path.display(),
            e.to_string().lines().next().unwrap_or("")
        )
    })?;
    for f in &e.failures {
        if !specs.requirements.contains_key(&f.requirement) {
            return Err(format!(
                "{}: unknown requirement id {}",
                path.display(),
                f.requirement
            ));
        }
    }
    Ok(e)
}

/// Differences between a run and its baseline; empty means the run matches.
pub fn compare(e: &Expectations, specs: &Specs, results: &[ScenarioResult]) -> Vec<String> {
    let verdicts = requirement_verdicts(specs, results);
    let expected: BTreeMap<&str, &str> = e
        .failures
        .iter()
        .map(|f| (f.requirement.as_str(), f.reason.as_str()))
        .collect();
    let mut out = vec![];
    for (req, v) in &verdicts {
        let listed = expected.contains_key(req.as_str());
        match (v, listed) {
            (Verdict::Fail, false) => {
                out.push(format!("new failure: {req} (not in the expectations file)"))
            }
            (Verdict::Pass, true) => out.push(format!(
                "now passes: {req} (expected to fail: {}); remove it from the file",
                expected[req.as_str()]
            )),
            _ => {}
        }
    }
    for (req, reason) in &expected {
        if !verdicts.contains_key(*req) {
            out.push(format!(
                "not checked in this run: {req} (expected to fail: {reason})"
            ));
        }
    }
    let expected_errors: BTreeMap<&str, &str> = e
        .errors
        .iter()
        .map(|x| (x.scenario.as_str(), x.reason.as_str()))
        .collect();
    for r in results {
        let listed = expected_errors.contains_key(r.name.as_str());
        match (r.verdict, listed) {
            (Verdict::Error, false) => out.push(format!("new error: {}", r.name)),
            (v, true) if v != Verdict::Error => out.push(format!(
                "no longer an error: {} (now {v:?}); remove it from the file",
                r.name
            )),
            _ => {}
        }
    }
    out
}
