//! The conformance statement of a client, and of each of its workflows, in the words `run`
//! uses for a registry: requirements passed per level out of those judged here (each
//! `client.*` duty `regverify clients` judges, so the denominators are the same for every
//! client), the ones no run gave occasion to named, and the standing. A client's standing
//! rests on its MUSTs as a registry's does; how many conditions went as required is stated
//! beside it, since a client failing where the spec lets a registry differ is told apart
//! from one breaking a duty.

use serde::Serialize;

use super::report::{RequirementRecord, RunRecord, Verdict};
use crate::runner::report::RunStanding;

/// Per level: passed (for MAY: used), failed, not exercised, not used (MAY only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LevelCounts {
    pub pass: usize,
    pub fail: usize,
    pub not_exercised: usize,
    pub not_used: usize,
}

impl LevelCounts {
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.not_exercised + self.not_used
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub standing: RunStanding,
    pub must: LevelCounts,
    pub should: LevelCounts,
    pub may: LevelCounts,
    /// Conditions the client went through as required, of all it ran under.
    pub as_required: usize,
    pub conditions: usize,
    /// `MUST 2/4 (2 not exercised) · SHOULD 6/7 (1 not exercised) · MAY used 0/1 (1 not
    /// used) · conditions 25/25 as required — conformant`.
    pub line: String,
}

impl Statement {
    pub fn new(requirements: &[RequirementRecord], runs: &[RunRecord]) -> Statement {
        let count = |level: &str| {
            let mut c = LevelCounts::default();
            for r in requirements.iter().filter(|r| r.level == level) {
                match r.verdict {
                    Verdict::Pass => c.pass += 1,
                    Verdict::Fail => c.fail += 1,
                    Verdict::NotExercised => c.not_exercised += 1,
                    Verdict::NotUsed => c.not_used += 1,
                }
            }
            c
        };
        let (must, should, may) = (count("MUST"), count("SHOULD"), count("MAY"));
        let judged = requirements
            .iter()
            .any(|r| matches!(r.verdict, Verdict::Pass | Verdict::Fail));
        let standing = if !judged {
            RunStanding::NothingJudged
        } else if must.fail > 0 {
            RunStanding::NotConformant
        } else {
            RunStanding::Conformant
        };
        let part = |label: &str, c: LevelCounts| {
            let mut p = format!("{label} {}/{}", c.pass, c.total());
            let notes: Vec<String> = [(c.not_exercised, "not exercised"), (c.not_used, "not used")]
                .into_iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, what)| format!("{n} {what}"))
                .collect();
            if !notes.is_empty() {
                p.push_str(&format!(" ({})", notes.join(", ")));
            }
            p
        };
        let as_required = runs.iter().filter(|r| r.as_required).count();
        let line = format!(
            "{} · {} · {} · conditions {as_required}/{} as required — {}",
            part("MUST", must),
            part("SHOULD", should),
            part("MAY used", may),
            runs.len(),
            standing.as_str()
        );
        Statement {
            standing,
            must,
            should,
            may,
            as_required,
            conditions: runs.len(),
            line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(level: &str, verdict: Verdict) -> RequirementRecord {
        RequirementRecord {
            id: "client.x".into(),
            level: level.into(),
            summary: String::new(),
            verdict,
            checked: usize::from(verdict != Verdict::NotExercised),
            failures: vec![],
        }
    }

    #[test]
    fn a_failed_must_makes_the_client_not_conformant_and_a_failed_should_does_not() {
        let s = Statement::new(
            &[
                req("MUST", Verdict::Pass),
                req("MUST", Verdict::NotExercised),
                req("SHOULD", Verdict::Fail),
                req("MAY", Verdict::NotUsed),
            ],
            &[],
        );
        assert_eq!(
            s.line,
            "MUST 1/2 (1 not exercised) · SHOULD 0/1 · MAY used 0/1 (1 not used) · conditions 0/0 as required — conformant"
        );
        let s = Statement::new(
            &[req("MUST", Verdict::Fail), req("SHOULD", Verdict::Pass)],
            &[],
        );
        assert_eq!(s.standing, RunStanding::NotConformant);
        let s = Statement::new(&[req("MUST", Verdict::NotExercised)], &[]);
        assert_eq!(s.standing, RunStanding::NothingJudged);
        assert!(s.line.ends_with("— nothing judged"), "{}", s.line);
    }
}
