//! What became of each check of a scenario once its steps ran: judged (pass or fail), not
//! verified (a step it relies on did not take effect — named, at its place in the file),
//! skipped (the scenario found an optional feature absent), or an error (the run could not
//! judge it).

use std::collections::HashMap;

use super::{CheckFailure, CheckResult, Outcome, Stop};
use crate::runner::plan::{Check, Expectation, Scenario, Step, StepKind};

/// What happened to a step of the scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum StepState {
    /// Not run: the scenario ended before it (a skip or an error).
    NotReached,
    /// Ran and took effect (its failures, if any, are reported): steps relying on it go on.
    TookEffect,
    /// Ran and did not take effect (no success, or a capture came back empty), with why.
    NoEffect(String),
    /// Ran into an error: the run could not judge it.
    Errored(String),
    /// Not run: the step it relies on (this index, the first that did not take effect).
    Blocked(usize),
}

/// How the scenario ended early, if it did.
#[derive(Clone, Debug)]
pub(super) enum End {
    Skip(String),
    /// The run could not go on after this step (an error).
    Error(usize),
}

/// What the run made of the checks, by position: whether each judged one held, and why
/// each unread one could not be judged.
pub(super) struct Judgements<'j> {
    pub held: &'j HashMap<String, bool>,
    pub unread: &'j HashMap<String, String>,
}

/// Why a step is not verified, naming the step that did not take effect with its place.
pub(super) fn blocked_by(steps: &[Step], states: &[StepState], j: usize) -> String {
    let st = &steps[j];
    match &states[j] {
        StepState::NoEffect(why) => format!(
            "step {:?} at {} did not take effect: {why}",
            st.name, st.source
        ),
        StepState::Errored(why) => format!(
            "step {:?} at {} ran into an error: {why}",
            st.name, st.source
        ),
        _ => format!("step {:?} at {} was not run", st.name, st.source),
    }
}

/// Every check of the scenario with its outcome, in the order written. Checks judged keep
/// their outcome whatever came later; checks of a step that was not run are not verified
/// (naming the step relied on), skipped (when the scenario ended skipped) or errors (the
/// step the run could not judge). Checks of a step that ran without judging them sit in
/// branches not taken and are left out. Failures outside the written checks (a push, a
/// capture, the error envelope) are listed too.
pub(super) fn check_results(
    s: &Scenario,
    Judgements {
        held: judged,
        unread: unjudged,
    }: Judgements<'_>,
    states: &[StepState],
    end: Option<&End>,
    failures: &[(String, CheckFailure)],
) -> Vec<CheckResult> {
    fn walk<'s>(
        steps: &'s [Step],
        top: Option<usize>,
        out: &mut Vec<(usize, &'s Step, &'s Expectation, &'s Check)>,
    ) {
        for (i, st) in steps.iter().enumerate() {
            let idx = top.unwrap_or(i);
            let exps: &[Expectation] = match &st.kind {
                StepKind::Request(r) => &r.expect,
                StepKind::Check(e) => e,
                StepKind::Concurrently(subs) => {
                    walk(subs, Some(idx), out);
                    &[]
                }
                StepKind::Push(_) | StepKind::Skip(_) => &[],
            };
            for e in exps {
                for c in &e.checks {
                    out.push((idx, st, e, c));
                }
            }
        }
    }
    let mut all = vec![];
    walk(&s.steps, None, &mut all);
    let mut out = vec![];
    for (idx, st, e, c) in all {
        let at = c.source.to_string();
        let (outcome, blocked) = match judged.get(&at) {
            Some(true) => (Outcome::Pass, None),
            Some(false) => (Outcome::Fail, None),
            None if unjudged.contains_key(&at) => {
                (Outcome::NotVerified, unjudged.get(&at).cloned())
            }
            None => match &states[idx] {
                // ran without judging it: a branch not taken, or a check after the
                // failure that stopped the step
                StepState::TookEffect | StepState::NoEffect(_) => continue,
                StepState::Errored(why) => (Outcome::Error, Some(why.clone())),
                StepState::Blocked(j) => {
                    (Outcome::NotVerified, Some(blocked_by(&s.steps, states, *j)))
                }
                StepState::NotReached => match end {
                    Some(End::Skip(reason)) => (Outcome::Skip, Some(reason.clone())),
                    Some(End::Error(j)) => {
                        (Outcome::NotVerified, Some(blocked_by(&s.steps, states, *j)))
                    }
                    None => (Outcome::NotVerified, None),
                },
            },
        };
        let mismatch = failures.iter().find(|(_, f)| f.source == at).map(|x| &x.1);
        out.push(CheckResult {
            requirement: e.requirement.clone(),
            outcome,
            step: st.name.clone(),
            source: at.clone(),
            expected: mismatch.map(|m| m.expected.clone()),
            got: mismatch.map(|m| m.got.clone()),
            blocked_by: blocked,
        });
    }
    // failures that are no written check: a push, a capture, the envelope of an answer
    for (step, f) in failures {
        let written = out.iter().any(|c| {
            c.source == f.source
                && c.outcome == Outcome::Fail
                && c.requirement == f.requirement.clone().unwrap_or_default()
        });
        if !written {
            out.push(CheckResult {
                requirement: f.requirement.clone().unwrap_or_default(),
                outcome: Outcome::Fail,
                step: step.clone(),
                source: f.source.clone(),
                expected: Some(f.expected.clone()),
                got: Some(f.got.clone()),
                blocked_by: None,
            });
        }
    }
    out
}

/// The text of a stop (a failure's first line, an error, a skip's reason).
pub(super) fn stop_text(s: &Stop) -> String {
    match s {
        Stop::Error(m) => m.to_string(),
        Stop::Skip(m) => m.clone(),
        Stop::Fail(f) => f
            .iter()
            .map(CheckFailure::line)
            .collect::<Vec<_>>()
            .join("; "),
    }
}
