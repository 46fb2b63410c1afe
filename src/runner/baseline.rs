//! `regverify baseline RESULTS.json`: the `--expect` file that a run matches exactly, so
//! adopting the gate is one command. Each failure is one entry per requirement and scenario
//! (the pair `--expect` matches), each errored scenario one entry; reasons the run cannot
//! know start with [`TO_FILL`] and say what the run saw. Refreshing an existing file
//! (`--update FILE`) keeps its reasons, its `intermittent` marks and its entries that cover a
//! requirement in every scenario.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::exec::Verdict;
use super::expect::{Expectations, Expected};
use super::results::{RunFile, ScenarioRecord};

/// The start of a reason still to be written by a person.
pub const TO_FILL: &str = "FILL IN:";

/// A YAML scalar that reads back as `s` whatever it holds (a JSON string is a YAML
/// double-quoted scalar).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// What the run saw of a scenario's failure, as the reason to replace.
fn seen(s: &ScenarioRecord, requirement: &str) -> String {
    let saw = s
        .failures
        .iter()
        .find(|f| f.requirement.as_deref() == Some(requirement))
        .map(|f| format!("{}: expected {}, got {}", f.query, f.expected, f.got))
        .or_else(|| {
            s.message
                .as_deref()
                .and_then(|m| m.lines().next())
                .map(str::to_string)
        })
        .unwrap_or_default();
    format!("{TO_FILL} why? the run saw {saw}")
}

fn entry(out: &mut String, requirement: &str, scenario: Option<&str>, x: Option<&Expected>) {
    let _ = writeln!(out, "  - requirement: {requirement}");
    if let Some(s) = scenario {
        let _ = writeln!(out, "    scenario: {}", quoted(s));
    }
    if x.is_some_and(|x| x.intermittent) {
        let _ = writeln!(out, "    intermittent: true");
    }
}

/// The expectations file reproducing `run`'s failures and errors. `source` names the
/// results file in the header; `keep` is the file being refreshed, if any.
pub fn make(run: &RunFile, source: &str, keep: Option<&Expectations>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Known deviations for `regverify run --expect`, made by `regverify baseline {source}`\n\
         # from a run against {} (profile {}, seed {}).\n\
         # Reasons starting with \"{TO_FILL}\" say only what the run saw: replace each with why\n\
         # the registry behaves so. Refresh with `regverify baseline RESULTS.json --update THIS_FILE`.",
        run.registry, run.profile, run.seed
    );
    let failed: Vec<(&str, &ScenarioRecord)> = run
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
        .filter_map(|s| Some((s.failed_requirement.as_deref()?, s)))
        .collect();
    let kept = keep.map(|k| k.failures.as_slice()).unwrap_or_default();
    let covers = |x: &Expected, req: &str, scenario: &str| {
        x.requirement == req && x.scenario.as_deref().is_none_or(|s| s == scenario)
    };
    let mut written_wide: BTreeSet<&str> = BTreeSet::new();
    let mut body = String::new();
    for &(req, s) in &failed {
        match kept.iter().find(|x| covers(x, req, &s.name)) {
            // an entry for every scenario stays one entry
            Some(x) if x.scenario.is_none() => {
                if written_wide.insert(req) {
                    entry(&mut body, req, None, Some(x));
                    let _ = writeln!(body, "    reason: {}", quoted(&x.reason));
                }
            }
            Some(x) => {
                entry(&mut body, req, Some(&s.name), Some(x));
                let _ = writeln!(body, "    reason: {}", quoted(&x.reason));
            }
            None => {
                entry(&mut body, req, Some(&s.name), None);
                let _ = writeln!(body, "    reason: {}", quoted(&seen(s, req)));
            }
        }
    }
    // a race the registry happened to win this time stays listed
    for x in kept.iter().filter(|x| x.intermittent) {
        let failed_now = failed.iter().any(|&(req, s)| covers(x, req, &s.name));
        if !failed_now {
            entry(&mut body, &x.requirement, x.scenario.as_deref(), Some(x));
            let _ = writeln!(body, "    reason: {}", quoted(&x.reason));
        }
    }
    if body.is_empty() {
        out.push_str("failures: []\n");
    } else {
        out.push_str("failures:\n");
        out.push_str(&body);
    }
    let errored: Vec<&ScenarioRecord> = run
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Error)
        .collect();
    if errored.is_empty() {
        out.push_str("errors: []\n");
    } else {
        out.push_str("errors:\n");
        for s in errored {
            let reason = keep
                .and_then(|k| k.errors.iter().find(|e| e.scenario == s.name))
                .map(|e| e.reason.clone())
                .unwrap_or_else(|| {
                    let first = s.message.as_deref().and_then(|m| m.lines().next());
                    format!("{TO_FILL} why? the run saw {}", first.unwrap_or(""))
                });
            let _ = writeln!(
                out,
                "  - scenario: {}\n    reason: {}",
                quoted(&s.name),
                quoted(&reason)
            );
        }
    }
    out
}
