//! `--expect FILE`: a baseline of known deviations. The run passes when its failures match
//! the file exactly: a new failure fails the run, and so does a listed one that now passes
//! (the baseline is stale and must be updated).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::error::RunError;
use super::exec::{Outcome, ScenarioResult, Verdict};
use super::loader::Specs;
use super::verdict::requirement_verdicts;

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
    /// Only failures of this scenario (`workflow::id`); without it, any scenario's.
    #[serde(default)]
    pub scenario: Option<String>,
    /// A race the registry loses only some of the time: failing is expected, passing is
    /// not reported as a stale entry.
    #[serde(default)]
    pub intermittent: bool,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedError {
    pub scenario: String,
    pub reason: String,
}

pub fn load(path: &Path, specs: &Specs) -> Result<Expectations, RunError> {
    let fail = |message: String| RunError::Baseline {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut e: Expectations = serde_saphyr::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("line {} column {}: ", l.line(), l.column()))
            .unwrap_or_default();
        fail(format!(
            "{at}{}",
            e.to_string().lines().next().unwrap_or("")
        ))
    })?;
    // entries written before a rename mean the renamed requirement or scenario
    let a = &specs.aliases;
    for f in &mut e.failures {
        f.requirement = a.requirement(&f.requirement).to_string();
        f.scenario = f.scenario.as_deref().map(|s| a.scenario(s).to_string());
    }
    for x in &mut e.errors {
        x.scenario = a.scenario(&x.scenario).to_string();
    }
    for f in &e.failures {
        if !specs.requirements.contains_key(&f.requirement) {
            return Err(fail(format!("unknown requirement id {}", f.requirement)));
        }
    }
    Ok(e)
}

/// Differences between a run and its baseline; empty means the run matches.
pub fn compare(e: &Expectations, specs: &Specs, results: &[ScenarioResult]) -> Vec<String> {
    let verdicts = requirement_verdicts(specs, results);
    // every (requirement, scenario) a check failed, not just each scenario's first finding:
    // a failure behind another is a deviation of its own
    let failures: Vec<(&str, &str)> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .flat_map(|r| {
            let first = r.finding.as_ref().and_then(|f| f.requirement.as_deref());
            let checks = r
                .checks
                .iter()
                .filter(|c| c.outcome == Outcome::Fail)
                .map(|c| c.requirement.as_str());
            first
                .into_iter()
                .chain(checks)
                .map(move |q| (q, r.name.as_str()))
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let covers = |x: &Expected, (req, scenario): (&str, &str)| {
        x.requirement == req && x.scenario.as_deref().is_none_or(|s| s == scenario)
    };
    let mut out = vec![];
    for &f in &failures {
        if !e.failures.iter().any(|x| covers(x, f)) {
            out.push(format!(
                "new failure: {} in {} (not in the expectations file)",
                f.0, f.1
            ));
        }
    }
    for x in &e.failures {
        let place = x
            .scenario
            .as_deref()
            .map(|s| format!(" in {s}"))
            .unwrap_or_default();
        if x.intermittent || failures.iter().any(|&f| covers(x, f)) {
            continue;
        }
        // judged in this run (a requirement never reached says nothing about the entry)
        if verdicts
            .get(&x.requirement)
            .is_some_and(|o| *o != Outcome::NotVerified)
        {
            out.push(format!(
                "now passes: {}{place} (expected to fail: {}); remove it from the file",
                x.requirement, x.reason
            ));
        } else {
            out.push(format!(
                "not checked in this run: {}{place} (expected to fail: {})",
                x.requirement, x.reason
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::exec::Finding;
    use crate::runner::model::Workflow;

    fn result(name: &str, reqs: &[&str], verdict: Verdict, failed: Option<&str>) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            id: name.split("::").nth(1).unwrap_or(name).into(),
            title: String::new(),
            workflows: vec![Workflow::Push],
            requirements: reqs.iter().map(|s| s.to_string()).collect(),
            verdict,
            finding: failed.map(|r| Finding {
                requirement: Some(r.into()),
                step: "s".into(),
                source: "f:1:1".into(),
                message: "m".into(),
                failures: vec![],
                transcript: vec![],
                lead: 0,
            }),
            skip_reason: None,
            millis: 0,
            checks: vec![],
            exchanges: vec![],
        }
    }

    fn baseline(yaml: &str) -> Expectations {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn a_failure_behind_a_scenarios_first_is_compared_too() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let specs =
            crate::runner::loader::load(&root.join("specs"), &root.join("fixtures")).unwrap();
        let mut r = result(
            "discovery::tags-pagination",
            &["tags.n"],
            Verdict::Fail,
            Some("tags.n"),
        );
        r.checks.push(crate::runner::exec::CheckResult {
            requirement: "tags.link".into(),
            outcome: Outcome::Fail,
            step: "follow the pages".into(),
            source: "f:2:1".into(),
            expected: None,
            got: None,
            blocked_by: None,
        });
        let only_n = baseline("failures:\n  - {requirement: tags.n, reason: ignores n}\n");
        let d = compare(&only_n, &specs, std::slice::from_ref(&r));
        assert_eq!(
            d,
            ["new failure: tags.link in discovery::tags-pagination (not in the expectations file)"]
        );
        let both = baseline(
            "failures:\n  - {requirement: tags.n, reason: ignores n}\n  - {requirement: tags.link, reason: loops}\n",
        );
        assert!(compare(&both, &specs, &[r]).is_empty());
    }

    #[test]
    fn a_baseline_catches_new_failures_and_stale_entries() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let specs =
            crate::runner::loader::load(&root.join("specs"), &root.join("fixtures")).unwrap();
        let results = vec![
            result(
                "push::a",
                &["push.chunk.order"],
                Verdict::Fail,
                Some("push.chunk.order"),
            ),
            result("pull::b", &["pull.manifest.get"], Verdict::Pass, None),
            result(
                "push::c",
                &["pull.manifest.get"],
                Verdict::Fail,
                Some("pull.manifest.get"),
            ),
        ];
        let exact = baseline(
            "failures:\n  - {requirement: push.chunk.order, reason: r}\n  - {requirement: pull.manifest.get, scenario: \"push::c\", reason: r}\n",
        );
        assert!(compare(&exact, &specs, &results).is_empty());
        // a failure nobody listed
        let missing = baseline("failures:\n  - {requirement: push.chunk.order, reason: r}\n");
        let d = compare(&missing, &specs, &results);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("new failure: pull.manifest.get in push::c"),
            "{d:?}"
        );
        // an entry narrowed to another scenario does not cover it
        let elsewhere = baseline(
            "failures:\n  - {requirement: push.chunk.order, reason: r}\n  - {requirement: pull.manifest.get, scenario: \"pull::b\", reason: r}\n",
        );
        let d = compare(&elsewhere, &specs, &results);
        assert!(d.iter().any(|x| x.starts_with("new failure")), "{d:?}");
        assert!(
            d.iter()
                .any(|x| x.starts_with("now passes: pull.manifest.get in pull::b")),
            "{d:?}"
        );
        // an entry that now passes
        let stale = baseline(
            "failures:\n  - {requirement: push.chunk.order, reason: r}\n  - {requirement: pull.manifest.get, reason: r}\n  - {requirement: tags.order, reason: r}\n",
        );
        let d = compare(&stale, &specs, &results);
        assert_eq!(
            d,
            vec!["not checked in this run: tags.order (expected to fail: r)".to_string()]
        );
        // an intermittent entry covers its failure, and its passing is no difference
        let racy = baseline(
            "failures:\n  - {requirement: push.chunk.order, reason: r}\n  - {requirement: pull.manifest.get, intermittent: true, reason: r}\n",
        );
        assert!(compare(&racy, &specs, &results).is_empty());
        let passing = vec![results[0].clone(), results[1].clone()];
        assert!(compare(&racy, &specs, &passing).is_empty());
        let strict = baseline(
            "failures:\n  - {requirement: push.chunk.order, reason: r}\n  - {requirement: pull.manifest.get, reason: r}\n",
        );
        assert!(
            compare(&strict, &specs, &passing)
                .iter()
                .any(|x| x.starts_with("now passes: pull.manifest.get")),
        );
    }
}
