//! `diff`: what counts as worse, known races, evidence made up by the run.

use super::*;
use crate::runner::results::{RequirementRecord, ScenarioRecord};

fn run(reqs: &[(&str, Outcome)], scenarios: &[(&str, Verdict)]) -> RunFile {
    RunFile {
        tool: "regverify".into(),
        registry: "http://r/".into(),
        profile: "oci-1.1".into(),
        seed: 1,
        corpus: None,
        scenarios: scenarios
            .iter()
            .map(|(n, v)| ScenarioRecord {
                name: n.to_string(),
                verdict: *v,
                failed_requirement: None,
                message: None,
                requirements: vec![],
                failures: vec![],
                checks: vec![],
            })
            .collect(),
        requirements: reqs
            .iter()
            .map(|(id, o)| RequirementRecord {
                id: id.to_string(),
                level: "MUST".into(),
                summary: String::new(),
                verdict: *o,
            })
            .collect(),
    }
}

fn ids(c: &[RequirementChange]) -> Vec<&str> {
    c.iter().map(|c| c.id.as_str()).collect()
}

#[test]
fn only_moves_towards_fail_or_error_are_worse() {
    use Outcome::*;
    let old = run(
        &[
            ("a", Pass),
            ("b", Fail),
            ("c", Pass),
            ("d", Error),
            ("e", Skip),
        ],
        &[("x::one", Verdict::Pass), ("x::gone", Verdict::Pass)],
    );
    // b fixed, c now a skip (a feature dropped as the spec allows), d judged, e gone
    let better = run(
        &[("a", Pass), ("b", Pass), ("c", Skip), ("d", Pass)],
        &[("x::one", Verdict::Pass), ("x::new", Verdict::Pass)],
    );
    let d = compare("old", &old, "new", &better);
    assert!(!d.worse, "{d:?}");
    assert_eq!(ids(&d.newly_passing), ["b"]);
    assert_eq!(ids(&d.other_changes), ["c", "d", "e"]);
    assert_eq!(d.scenarios_added, ["x::new"]);
    assert_eq!(d.scenarios_removed, ["x::gone"]);
    // a requirement new in the run that fails is newly failing
    let new_failing = run(
        &[
            ("a", Pass),
            ("b", Fail),
            ("c", Pass),
            ("d", Error),
            ("e", Skip),
            ("f", Fail),
        ],
        &[],
    );
    let d = compare("old", &old, "new", &new_failing);
    assert!(d.worse);
    assert_eq!(ids(&d.newly_failing), ["f"]);
    // a pass that became an error is worse, though not a failure
    let erred = run(
        &[
            ("a", Error),
            ("b", Fail),
            ("c", Pass),
            ("d", Error),
            ("e", Skip),
        ],
        &[],
    );
    let d = compare("old", &old, "new", &erred);
    assert!(d.worse && d.newly_failing.is_empty());
    assert_eq!(ids(&d.other_changes), ["a"]);
    // a scenario that erred where it passed is worse on its own
    let old_s = run(&[], &[("x::one", Verdict::Pass)]);
    let new_s = run(&[], &[("x::one", Verdict::Error)]);
    assert!(compare("o", &old_s, "n", &new_s).worse);
    assert!(!compare("n", &new_s, "o", &old_s).worse);
    assert!(compare("o", &old_s, "o", &old_s).is_empty());
}

#[test]
fn values_a_run_makes_up_are_not_evidence() {
    let none = Generated::of("x::unrelated", ["1", "2"]);
    let c = |s: &str| comparable(&Some(s.to_string()), &none).unwrap();
    let a = "4096 bytes (sha256:0984e212cabc20ae), first difference at byte 2048";
    let b = "4096 bytes (sha256:8ad12fcc27ab71c1), first difference at byte 2048";
    assert_eq!(c(a), c(b));
    assert_ne!(c(a), c(&a.replace("2048", "1024")));
    assert_eq!(
        c("/v2/regverify/push-mount-3fa2c1/blobs/uploads/9b2e4d10-aa"),
        c("/v2/regverify/push-mount-77be02/blobs/uploads/0c4d77e2-aa")
    );
    assert_ne!(c("status 404"), c("status 405"));
    assert_eq!(comparable(&None, &none), None);
}

fn race_entry(requirement: &str, scenario: Option<&str>) -> Expected {
    Expected {
        requirement: requirement.into(),
        scenario: scenario.map(String::from),
        intermittent: true,
        reason: "a race".into(),
    }
}

#[test]
fn a_known_race_that_went_the_other_way_is_not_worse() {
    use Outcome::*;
    let passed = run(&[("r", Pass), ("s", Pass)], &[("x::race", Verdict::Pass)]);
    let mut failed = run(&[("r", Fail), ("s", Pass)], &[("x::race", Verdict::Fail)]);
    failed.scenarios[0].failed_requirement = Some("r".into());
    // without the baseline, the gate flaps
    assert!(compare("o", &passed, "n", &failed).worse);
    for known in [
        vec![race_entry("r", None)],
        vec![race_entry("r", Some("x::race"))],
    ] {
        let d = compare_knowing("o", &passed, "n", &failed, &known);
        assert!(!d.worse, "{d:?}");
        assert!(d.newly_failing.is_empty());
        assert_eq!(ids(&d.intermittent), ["r"]);
        assert!(d.scenario_changes[0].intermittent);
        let back = compare_knowing("n", &failed, "o", &passed, &known);
        assert!(!back.worse && back.newly_passing.is_empty());
        assert_eq!(ids(&back.intermittent), ["r"]);
    }
    // an entry of another scenario, or one not marked intermittent, changes nothing
    let mut stale = race_entry("r", Some("x::other"));
    assert!(compare_knowing("o", &passed, "n", &failed, &[stale]).worse);
    stale = race_entry("r", None);
    stale.intermittent = false;
    assert!(compare_knowing("o", &passed, "n", &failed, &[stale]).worse);
    // what the race left unjudged is part of the race, unless another scenario changed
    let with_u = |r: &mut RunFile, o: Outcome| {
        r.requirements.push(RequirementRecord {
            id: "u".into(),
            level: "MUST".into(),
            summary: String::new(),
            verdict: o,
        })
    };
    let (mut p2, mut f2) = (passed.clone(), failed.clone());
    with_u(&mut p2, Pass);
    with_u(&mut f2, NotVerified);
    let d = compare_knowing("o", &p2, "n", &f2, &[race_entry("r", None)]);
    assert!(!d.worse, "{d:?}");
    assert_eq!(ids(&d.intermittent), ["r", "u"]);
    let other = |r: &RunFile, v: Verdict| {
        let mut r = r.clone();
        r.scenarios
            .push(run(&[], &[("x::other", v)]).scenarios.remove(0));
        r
    };
    let d = compare_knowing(
        "o",
        &other(&p2, Verdict::Pass),
        "n",
        &other(&f2, Verdict::Skip),
        &[race_entry("r", None)],
    );
    assert!(d.worse, "{d:?}");
    assert_eq!(ids(&d.intermittent), ["r"]);
    // nor does it excuse an error
    let erred = run(&[("r", Error), ("s", Pass)], &[("x::race", Verdict::Error)]);
    assert!(compare_knowing("o", &passed, "n", &erred, &[race_entry("r", None)]).worse);
}

fn with_evidence(seed: u64, got: &str) -> RunFile {
    let mut r = run(&[("r", Outcome::Pass)], &[("push::mount", Verdict::Pass)]);
    r.seed = seed;
    r.scenarios[0].checks.push(CheckRecord {
        requirement: "r".into(),
        outcome: Outcome::Pass,
        step: "s".into(),
        source: "specs/scenarios/push.yaml:1:1".into(),
        expected: None,
        got: Some(got.into()),
    });
    r
}

#[test]
fn run_tags_and_seeds_of_digits_alone_are_not_evidence() {
    // a run tag is three random bytes in hex: now and then all six are digits
    let a = with_evidence(1, "/v2/regverify/mount-123456/blobs/uploads/");
    let b = with_evidence(1, "/v2/regverify/mount-908172/blobs/uploads/");
    assert!(compare("o", &a, "n", &b).changed_evidence.is_empty());
    let a = with_evidence(1, "no such tag absent-123456");
    let b = with_evidence(1, "no such tag absent-9a8b7c");
    assert!(compare("o", &a, "n", &b).changed_evidence.is_empty());
    let a = with_evidence(482913577, "made by seed 482913577");
    let b = with_evidence(1739, "made by seed 1739");
    assert!(compare("o", &a, "n", &b).changed_evidence.is_empty());
    // what the registry answered still counts, digits and all
    let a = with_evidence(1, "Range: 0-524287");
    let b = with_evidence(1, "Range: 0-524288");
    assert_eq!(compare("o", &a, "n", &b).changed_evidence.len(), 1);
}
