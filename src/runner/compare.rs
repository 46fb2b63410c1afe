//! `regverify diff`: what changed between two results files — two releases of a registry,
//! two corpus versions, two registries. Requirements are matched by id and scenarios by
//! name (the public interface of results files); a check is matched within its scenario by
//! requirement, step and its rank among the checks sharing both, so moving a check to
//! another line of its file is no change.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::exec::{Outcome, Verdict};
use super::expect::Expected;
use super::results::{CheckRecord, RunFile, ScenarioRecord};

/// Which run a side of the comparison is.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub file: String,
    pub registry: String,
    pub profile: String,
    pub seed: u64,
}

/// A requirement whose outcome differs; `None` where a run did not have it.
#[derive(Debug, Clone, Serialize)]
pub struct RequirementChange {
    pub id: String,
    pub level: String,
    pub summary: String,
    pub old: Option<Outcome>,
    pub new: Option<Outcome>,
    /// Scenarios of the new run that failed on it.
    pub failing_in: Vec<String>,
}

/// A scenario whose verdict differs.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioChange {
    pub name: String,
    pub old: Verdict,
    pub new: Verdict,
    /// It failed, in whichever run it failed, on a requirement the baseline marks
    /// `intermittent`: a known race that went the other way, never "worse".
    pub intermittent: bool,
}

/// The same check, judged on different evidence: what it looked at (a status, a header, a
/// body) came back otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceChange {
    pub scenario: String,
    pub requirement: String,
    pub step: String,
    /// What the check looks at (`status`, `header Location`, …) when the run says.
    pub query: Option<String>,
    pub old: Evidence,
    pub new: Evidence,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Evidence {
    pub outcome: Outcome,
    pub expected: Option<String>,
    pub got: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub old: Side,
    pub new: Side,
    /// Something got worse: a requirement newly failing or erring, a scenario newly
    /// failing or erring (exit code 1).
    pub worse: bool,
    pub newly_failing: Vec<RequirementChange>,
    pub newly_passing: Vec<RequirementChange>,
    /// Every other change of a requirement's outcome (to or from skip, not verified,
    /// error, or absent).
    pub other_changes: Vec<RequirementChange>,
    /// Changes of requirements the baseline (`diff --expect`) marks `intermittent`, in
    /// every scenario where they failed: known races, listed but never "worse".
    pub intermittent: Vec<RequirementChange>,
    pub scenario_changes: Vec<ScenarioChange>,
    pub changed_evidence: Vec<EvidenceChange>,
    pub scenarios_added: Vec<String>,
    pub scenarios_removed: Vec<String>,
}

impl Diff {
    /// Nothing changed at all.
    pub fn is_empty(&self) -> bool {
        self.newly_failing.is_empty()
            && self.newly_passing.is_empty()
            && self.other_changes.is_empty()
            && self.intermittent.is_empty()
            && self.scenario_changes.is_empty()
            && self.changed_evidence.is_empty()
            && self.scenarios_added.is_empty()
            && self.scenarios_removed.is_empty()
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a diff serialises")
    }
}

/// How bad an outcome is for the gate: only a move up this scale is "worse".
fn badness(o: Option<Outcome>) -> u8 {
    match o {
        Some(Outcome::Fail) => 3,
        Some(Outcome::Error) => 2,
        Some(Outcome::NotVerified) => 1,
        Some(Outcome::Pass | Outcome::Skip) | None => 0,
    }
}

fn verdict_badness(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 2,
        Verdict::Error => 1,
        Verdict::Pass | Verdict::Skip => 0,
    }
}

fn side(file: &str, r: &RunFile) -> Side {
    Side {
        file: file.to_string(),
        registry: r.registry.clone(),
        profile: r.profile.clone(),
        seed: r.seed,
    }
}

/// Checks of a scenario keyed by (requirement, step, rank among those sharing both).
fn keyed_checks(s: &ScenarioRecord) -> BTreeMap<(&str, &str, usize), &CheckRecord> {
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for c in &s.checks {
        let n = seen
            .entry((c.requirement.as_str(), c.step.as_str()))
            .or_default();
        out.insert((c.requirement.as_str(), c.step.as_str(), *n), c);
        *n += 1;
    }
    out
}

fn evidence(c: &CheckRecord) -> Evidence {
    Evidence {
        outcome: c.outcome,
        expected: c.expected.clone(),
        got: c.got.clone(),
        source: c.source.clone(),
    }
}

/// What a failed check looked at, from the scenario's failures (matched by place).
fn query_of(s: &ScenarioRecord, c: &CheckRecord) -> Option<String> {
    s.failures
        .iter()
        .find(|f| f.source == c.source && f.requirement.as_deref() == Some(&c.requirement))
        .map(|f| f.query.clone())
}

/// What each run of a scenario makes up for itself and names in its evidence.
struct Generated<'a> {
    /// The prefixes the run tag follows: `<scenario id>-` in the scenario's repositories,
    /// `absent-` in names made to be absent.
    tag_after: [String; 2],
    /// Each run's seed, as it may appear in generated names.
    seeds: [&'a str; 2],
}

impl Generated<'_> {
    fn of<'a>(scenario: &str, seeds: [&'a str; 2]) -> Generated<'a> {
        let id = scenario.rsplit("::").next().unwrap_or(scenario);
        Generated {
            tag_after: [format!("{id}-"), "absent-".to_string()],
            seeds,
        }
    }
}

/// Evidence as compared: what each run makes up for itself — digests of its seeded content,
/// the run tag in its repository names, upload ids, its seed — is left out, so two runs of
/// the same registry differ only where its answers do. Such values are runs of hex digits
/// with a letter among them, and the run tag and seed even when they happen to be digits
/// alone (other sizes, statuses and offsets are digits alone and stay).
fn comparable(text: &Option<String>, generated: &Generated<'_>) -> Option<String> {
    let text = text.as_deref()?;
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let made_up = run.len() >= 4 && run.chars().any(|c| c.is_ascii_alphabetic());
        let run_tag = !run.is_empty() && generated.tag_after.iter().any(|p| out.ends_with(p));
        let seed = run.len() >= 4 && generated.seeds.contains(&run.as_str());
        out.push_str(if made_up || run_tag || seed {
            "…"
        } else {
            run
        });
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    Some(out)
}

/// Compares two runs; `old_file` and `new_file` only name them in the output.
pub fn compare(old_file: &str, old: &RunFile, new_file: &str, new: &RunFile) -> Diff {
    compare_knowing(old_file, old, new_file, new, &[])
}

/// Whether a failure of `requirement` in `scenario` is a race a baseline entry marks
/// `intermittent`.
fn flaky(known: &[Expected], requirement: &str, scenario: &str) -> bool {
    known.iter().any(|x| {
        x.intermittent
            && x.requirement == requirement
            && x.scenario.as_deref().is_none_or(|s| s == scenario)
    })
}

/// Scenarios of a run that failed on `id`.
fn failing_in(run: &RunFile, id: &str) -> Vec<String> {
    run.scenarios
        .iter()
        .filter(|s| {
            s.checks
                .iter()
                .any(|c| c.requirement == id && c.outcome == Outcome::Fail)
                || s.failed_requirement.as_deref() == Some(id)
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Scenarios of a run that left `id` unjudged where the results file shows it: a check of
/// it not verified, or, failed, it lists `id` without a check of its own.
fn unjudged_in(run: &RunFile, id: &str) -> Vec<String> {
    run.scenarios
        .iter()
        .filter(|s| {
            let checked = s.checks.iter().any(|c| c.requirement == id);
            s.checks
                .iter()
                .any(|c| c.requirement == id && c.outcome == Outcome::NotVerified)
                || (s.verdict == Verdict::Fail
                    && !checked
                    && s.requirements.iter().any(|q| q.id == id))
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Scenarios in both runs whose verdicts differ only by a known race: one run failed on a
/// requirement the baseline marks `intermittent`, and neither erred.
fn raced_scenarios(old: &RunFile, new: &RunFile, known: &[Expected]) -> BTreeSet<String> {
    let race_side = |r: &ScenarioRecord| match r.verdict {
        Verdict::Fail => r
            .failed_requirement
            .as_deref()
            .is_some_and(|req| flaky(known, req, &r.name)),
        Verdict::Pass | Verdict::Skip => true,
        Verdict::Error => false,
    };
    old.scenarios
        .iter()
        .filter_map(|o| {
            let n = new.scenarios.iter().find(|n| n.name == o.name)?;
            let one_failed = o.verdict == Verdict::Fail || n.verdict == Verdict::Fail;
            (o.verdict != n.verdict && one_failed && race_side(o) && race_side(n))
                .then(|| o.name.clone())
        })
        .collect()
}

/// [`compare`], knowing a baseline's entries (`--expect`): a change of a requirement that
/// failed only where the baseline marks it `intermittent` is a known race, listed apart and
/// never "worse".
pub fn compare_knowing(
    old_file: &str,
    old: &RunFile,
    new_file: &str,
    new: &RunFile,
    known: &[Expected],
) -> Diff {
    let old_reqs: BTreeMap<&str, _> = old.requirements.iter().map(|r| (&*r.id, r)).collect();
    let new_reqs: BTreeMap<&str, _> = new.requirements.iter().map(|r| (&*r.id, r)).collect();
    let ids: BTreeSet<&str> = old_reqs.keys().chain(new_reqs.keys()).copied().collect();
    let mut worse = false;
    let (mut newly_failing, mut newly_passing, mut other_changes) = (vec![], vec![], vec![]);
    let mut intermittent = vec![];
    let raced = raced_scenarios(old, new, known);
    // every scenario whose verdict changed did so by a known race: a requirement that only
    // went unjudged (checks on steps a race stopped before) changed by those races
    let changed_verdicts = old
        .scenarios
        .iter()
        .filter(|o| {
            new.scenarios
                .iter()
                .any(|n| n.name == o.name && n.verdict != o.verdict)
        })
        .count();
    let races_explain_all = !raced.is_empty() && changed_verdicts == raced.len();
    for id in ids {
        let (o, n) = (old_reqs.get(id), new_reqs.get(id));
        let (ov, nv) = (o.map(|r| r.verdict), n.map(|r| r.verdict));
        if ov == nv {
            continue;
        }
        let about = n.or(o).expect("in one of the runs");
        let change = RequirementChange {
            id: id.to_string(),
            level: about.level.clone(),
            summary: about.summary.clone(),
            old: ov,
            new: nv,
            failing_in: failing_in(new, id),
        };
        // where it failed, in either run, the baseline knows it for a race; where it went
        // unjudged, a known race stopped the scenario first
        let failed: Vec<String> = [failing_in(old, id), change.failing_in.clone()].concat();
        let unjudged: Vec<String> = [unjudged_in(old, id), unjudged_in(new, id)].concat();
        let erred = ov == Some(Outcome::Error) || nv == Some(Outcome::Error);
        let only_unjudged = failed.is_empty()
            && matches!(
                (ov, nv),
                (Some(Outcome::Pass), Some(Outcome::NotVerified))
                    | (Some(Outcome::NotVerified), Some(Outcome::Pass))
            );
        if !erred
            && failed.iter().all(|s| flaky(known, id, s))
            && unjudged.iter().all(|s| raced.contains(s))
            && (!failed.is_empty() || (only_unjudged && races_explain_all))
        {
            intermittent.push(change);
            continue;
        }
        worse |= badness(nv) > badness(ov);
        match (ov, nv) {
            (_, Some(Outcome::Fail)) => newly_failing.push(change),
            (Some(Outcome::Fail), Some(Outcome::Pass)) => newly_passing.push(change),
            _ => other_changes.push(change),
        }
    }
    let old_sc: BTreeMap<&str, &ScenarioRecord> =
        old.scenarios.iter().map(|s| (&*s.name, s)).collect();
    let new_sc: BTreeMap<&str, &ScenarioRecord> =
        new.scenarios.iter().map(|s| (&*s.name, s)).collect();
    let scenarios_added: Vec<String> = new_sc
        .keys()
        .filter(|n| !old_sc.contains_key(*n))
        .map(|n| n.to_string())
        .collect();
    let scenarios_removed: Vec<String> = old_sc
        .keys()
        .filter(|n| !new_sc.contains_key(*n))
        .map(|n| n.to_string())
        .collect();
    let mut scenario_changes = vec![];
    let mut changed_evidence = vec![];
    let (old_seed, new_seed) = (old.seed.to_string(), new.seed.to_string());
    for (name, o) in &old_sc {
        let Some(n) = new_sc.get(name) else { continue };
        if o.verdict != n.verdict {
            let raced = raced.contains(*name);
            if !raced {
                worse |= verdict_badness(n.verdict) > verdict_badness(o.verdict);
            }
            scenario_changes.push(ScenarioChange {
                name: name.to_string(),
                old: o.verdict,
                new: n.verdict,
                intermittent: raced,
            });
        }
        let (oc, nc) = (keyed_checks(o), keyed_checks(n));
        let generated = Generated::of(name, [old_seed.as_str(), new_seed.as_str()]);
        for (key, c_old) in &oc {
            let Some(c_new) = nc.get(key) else { continue };
            // a check judged in both whose evidence differs: what came back changed (a
            // status, a header, a body), or what was expected of it
            let judged = |c: &CheckRecord| matches!(c.outcome, Outcome::Pass | Outcome::Fail);
            let (eo, en) = (evidence(c_old), evidence(c_new));
            let differs = eo.outcome != en.outcome
                || comparable(&eo.got, &generated) != comparable(&en.got, &generated)
                || comparable(&eo.expected, &generated) != comparable(&en.expected, &generated);
            if judged(c_old) && judged(c_new) && differs {
                changed_evidence.push(EvidenceChange {
                    scenario: name.to_string(),
                    requirement: key.0.to_string(),
                    step: key.1.to_string(),
                    query: query_of(n, c_new).or_else(|| query_of(o, c_old)),
                    old: eo,
                    new: en,
                });
            }
        }
    }
    Diff {
        old: side(old_file, old),
        new: side(new_file, new),
        worse,
        newly_failing,
        newly_passing,
        other_changes,
        intermittent,
        scenario_changes,
        changed_evidence,
        scenarios_added,
        scenarios_removed,
    }
}

#[cfg(test)]
mod tests;
