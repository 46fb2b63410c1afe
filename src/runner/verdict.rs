//! Requirement verdicts, aggregated from every check of every scenario: a requirement
//! fails when any of its checks failed, errs when the run could not judge one, is not
//! verified when one was never reached, passes when every judged check held, and is
//! skipped only where every scenario found the optional feature absent.

use std::collections::{BTreeMap, BTreeSet};

use super::exec::{Outcome, ScenarioResult, Verdict};
use super::loader::Specs;
use super::plan::{Expectation, Scenario, Step, StepKind};

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 4,
        Outcome::Error => 3,
        Outcome::NotVerified => 2,
        Outcome::Pass => 1,
        Outcome::Skip => 0,
    }
}

/// Requirement → outcome over `results`.
pub fn requirement_verdicts(
    specs: &Specs,
    results: &[ScenarioResult],
) -> BTreeMap<String, Outcome> {
    let mut out: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut set = |id: &str, v: Outcome| {
        let e = out.entry(id.to_string()).or_insert(v);
        if rank(v) > rank(*e) {
            *e = v;
        }
    };
    for r in results {
        for c in &r.checks {
            set(&c.requirement, c.outcome);
        }
        let failed = r.finding.as_ref().and_then(|f| f.requirement.as_deref());
        if r.verdict == Verdict::Fail
            && let Some(q) = failed
        {
            set(q, Outcome::Fail);
        }
        // requirements the scenario lists without a check of their own
        for q in &r.requirements {
            if r.checks.iter().any(|c| &c.requirement == q) || failed == Some(q.as_str()) {
                continue;
            }
            set(
                q,
                match r.verdict {
                    Verdict::Pass => Outcome::Pass,
                    Verdict::Skip => Outcome::Skip,
                    Verdict::Error => Outcome::Error,
                    Verdict::Fail => Outcome::NotVerified,
                },
            );
        }
    }
    out.retain(|k, _| specs.requirements.contains_key(k));
    out
}

/// Every requirement a scenario names: in its list or on one of its expectations. The
/// same for a scenario whatever happens in a run, so denominators are stable.
pub fn named_requirements(s: &Scenario) -> BTreeSet<&str> {
    fn walk<'s>(steps: &'s [Step], ids: &mut BTreeSet<&'s str>) {
        for st in steps {
            let exps: &[Expectation] = match &st.kind {
                StepKind::Request(r) => &r.expect,
                StepKind::Check(e) => e,
                StepKind::Concurrently(subs) => {
                    walk(subs, ids);
                    &[]
                }
                StepKind::Push(_) | StepKind::Skip(_) => &[],
            };
            ids.extend(exps.iter().map(|e| e.requirement.as_str()));
        }
    }
    let mut ids: BTreeSet<&str> = s.requirements.iter().map(String::as_str).collect();
    walk(&s.steps, &mut ids);
    ids
}
