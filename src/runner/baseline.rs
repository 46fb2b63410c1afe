//! `regverify baseline RESULTS.json`: the `--expect` file that a run matches exactly, so
//! adopting the gate is one command. Each failure is one entry per requirement and scenario
//! (the pair `--expect` matches), each errored scenario one entry; reasons the run cannot
//! know start with [`TO_FILL`] and say what the run saw. Refreshing an existing file
//! (`--update FILE`) keeps its reasons, its `intermittent` marks and its entries that cover a
//! requirement in every scenario.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::exec::{Outcome, Verdict};
use super::expect::{Expectations, Expected};
use super::results::{RunFile, ScenarioRecord};
use super::sanitize::{line, yaml_quoted};

/// The start of a reason still to be written by a person.
pub const TO_FILL: &str = "FILL IN:";

/// A YAML scalar that reads back as `s` whatever it holds, a registry's text included
/// (characters YAML cannot hold raw are written as escapes).
fn quoted(s: &str) -> String {
    yaml_quoted(s)
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
    // ids are plain words; anything else in a results file is quoted so it reads back
    let plain = !requirement.is_empty()
        && requirement
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        let _ = writeln!(out, "  - requirement: {requirement}");
    } else {
        let _ = writeln!(out, "  - requirement: {}", quoted(requirement));
    }
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
        line(&run.registry),
        line(&run.profile),
        run.seed
    );
    // every requirement a check of a failed scenario broke (as `--expect` compares them)
    let failed: Vec<(&str, &ScenarioRecord)> = run
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
        .flat_map(|s| {
            let checks = s
                .checks
                .iter()
                .filter(|c| c.outcome == Outcome::Fail)
                .map(|c| c.requirement.as_str());
            let mut reqs: Vec<&str> = s
                .failed_requirement
                .as_deref()
                .into_iter()
                .chain(checks)
                .collect();
            reqs.sort_unstable();
            reqs.dedup();
            reqs.into_iter().map(move |q| (q, s))
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::results::FailureRecord;

    fn scenario(name: &str, verdict: Verdict, req: Option<&str>, got: &str) -> ScenarioRecord {
        ScenarioRecord {
            name: name.into(),
            verdict,
            failed_requirement: req.map(String::from),
            message: Some(format!("{got}\nsecond line")),
            requirements: vec![],
            failures: req
                .map(|r| FailureRecord {
                    requirement: Some(r.into()),
                    query: "header Location".into(),
                    expected: "present".into(),
                    got: got.into(),
                    source: "f:1:1".into(),
                })
                .into_iter()
                .collect(),
            checks: vec![],
        }
    }

    #[test]
    fn what_a_registry_sent_reads_back_unchanged() {
        // a registry's text in a reason: quotes, a comment sign, a colon, a newline
        let hostile = "\"x\": # not a comment\n- [y]";
        let run = RunFile {
            tool: "regverify".into(),
            registry: "http://r/".into(),
            profile: "oci-1.1".into(),
            seed: 3,
            corpus: None,
            scenarios: vec![
                scenario("push::a", Verdict::Fail, Some("push.post.202"), hostile),
                scenario("pull::b", Verdict::Error, None, hostile),
                scenario("pull::c", Verdict::Pass, None, ""),
            ],
            requirements: vec![],
        };
        let text = make(&run, "r.json", None);
        let back: Expectations = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back.failures.len(), 1);
        let f = &back.failures[0];
        assert_eq!(f.requirement, "push.post.202");
        assert_eq!(f.scenario.as_deref(), Some("push::a"));
        assert_eq!(
            f.reason,
            format!("{TO_FILL} why? the run saw header Location: expected present, got {hostile}")
        );
        assert_eq!(back.errors.len(), 1);
        assert_eq!(back.errors[0].scenario, "pull::b");
        assert_eq!(
            back.errors[0].reason,
            format!("{TO_FILL} why? the run saw \"x\": # not a comment")
        );
        // refreshed: the reason a person wrote stays, a requirement-wide entry stays one
        let kept: Expectations = serde_saphyr::from_str(
            "failures:\n  - {requirement: push.post.202, reason: \"known\"}\nerrors:\n  - {scenario: \"pull::b\", reason: flaky}\n",
        )
        .unwrap();
        let again: Expectations =
            serde_saphyr::from_str(&make(&run, "r.json", Some(&kept))).unwrap();
        assert_eq!(again.failures[0].reason, "known");
        assert_eq!(again.failures[0].scenario, None);
        assert_eq!(again.errors[0].reason, "flaky");
    }
}
