//! The conformance statement of a run: requirements passed per level (every requirement
//! the run's scenarios name counted, so the denominators are the same in every run of a
//! profile), the standing of each of the spec's categories, and the run's standing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Counts, RequirementEntry};
use crate::runner::exec::Outcome;
use crate::runner::model::Category;
use crate::runner::verdict::Verdicts;

/// What a run says of the registry as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStanding {
    /// Every requirement held to passed, and something was judged.
    Conformant,
    /// A requirement held to failed or was never reached.
    NotConformant,
    /// A scenario errored: the run could not judge everything.
    Incomplete,
    /// No requirement reached a verdict (nothing selected, everything skipped): the run
    /// proves nothing, and says so.
    NothingJudged,
}

impl RunStanding {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStanding::Conformant => "conformant",
            RunStanding::NotConformant => "not conformant",
            RunStanding::Incomplete => "incomplete (errors)",
            RunStanding::NothingJudged => "nothing judged",
        }
    }
}

/// What a run says of one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CategoryState {
    Conformant,
    /// A MUST of the category failed.
    Failing,
    /// Its entry points answer as absent and the run does not claim it: one SHOULD failure,
    /// its MUSTs not claimed.
    NotImplemented,
    /// A MUST errored or was never reached.
    Incomplete,
    /// No requirement of the category reached a verdict in this run.
    NotJudged,
}

/// Read back from a results file by `matrix --results`; the title is the category's own
/// (see [`Conformance::titled`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategoryEntry {
    pub category: Category,
    #[serde(skip_deserializing)]
    pub title: &'static str,
    /// Held to its MUSTs whatever it answers: Pull always, the others with `--claim`.
    pub claimed: bool,
    /// Its entry points did not answer as absent.
    pub implemented: bool,
    pub state: CategoryState,
    pub must_failures: usize,
    pub must_not_verified: usize,
    pub must_errors: usize,
    /// `conformant`, `2 MUST failures`, `not implemented (SHOULD)`, …
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conformance {
    /// Every requirement held to passed, nothing errored, and something was judged.
    pub conformant: bool,
    pub standing: RunStanding,
    /// Per level: `profile oci-1.1: MUST 50/55 (3 skipped) · … — conformant`.
    pub statement: String,
    pub categories: Vec<CategoryEntry>,
    /// Per category: `Pull: conformant · Push: 2 MUST failures · …`.
    pub by_category: String,
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

impl Conformance {
    /// A statement read back from a results file, its categories titled as when it was made.
    pub fn titled(mut self) -> Conformance {
        for c in &mut self.categories {
            c.title = c.category.title();
        }
        self
    }

    pub(super) fn state(
        profile: &str,
        levels: &BTreeMap<&'static str, Counts>,
        requirements: &[RequirementEntry],
        verdicts: &Verdicts,
        errors: bool,
    ) -> Conformance {
        let categories: Vec<CategoryEntry> = Category::ALL
            .into_iter()
            .map(|c| category_entry(c, requirements, verdicts))
            .collect();
        let judged = requirements
            .iter()
            .any(|q| q.claimed && matches!(q.verdict, Outcome::Pass | Outcome::Fail));
        let must = levels.get("MUST").cloned().unwrap_or_default();
        let standing = if !judged {
            RunStanding::NothingJudged
        } else if errors {
            RunStanding::Incomplete
        } else if must.fail == 0 && must.error == 0 && must.not_verified == 0 {
            RunStanding::Conformant
        } else {
            RunStanding::NotConformant
        };
        let part = |k: &str, label: &str| {
            let c = levels.get(k).cloned().unwrap_or_default();
            let mut p = format!("{label} {}/{}", c.pass, c.total());
            let notes: Vec<String> = [
                (c.not_verified, "not verified"),
                (c.skip, "skipped"),
                (c.not_claimed, "not claimed"),
            ]
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            if !notes.is_empty() {
                p.push_str(&format!(" ({})", notes.join(", ")));
            }
            p
        };
        let statement = format!(
            "profile {profile}: {} · {} · {} — {}",
            part("MUST", "MUST"),
            part("SHOULD", "SHOULD"),
            part("MAY", "MAY supported"),
            standing.as_str()
        );
        let by_category = categories
            .iter()
            .map(|c| format!("{}: {}", c.title, c.text))
            .collect::<Vec<_>>()
            .join(" · ");
        Conformance {
            conformant: standing == RunStanding::Conformant,
            standing,
            statement,
            categories,
            by_category,
        }
    }
}

fn category_entry(
    c: Category,
    requirements: &[RequirementEntry],
    verdicts: &Verdicts,
) -> CategoryEntry {
    let claimed = verdicts.claimed.contains(&c);
    let implemented = !verdicts.absent.contains(&c);
    let held: Vec<&RequirementEntry> = requirements
        .iter()
        .filter(|q| q.category == c && q.claimed)
        .collect();
    let musts = || held.iter().filter(|q| q.level.starts_with("MUST"));
    let count = |o: Outcome| musts().filter(|q| q.verdict == o).count();
    let (must_failures, must_not_verified, must_errors) = (
        count(Outcome::Fail),
        count(Outcome::NotVerified),
        count(Outcome::Error),
    );
    let judged = held
        .iter()
        .any(|q| matches!(q.verdict, Outcome::Pass | Outcome::Fail));
    let (state, text) = if !implemented && !claimed {
        (
            CategoryState::NotImplemented,
            "not implemented (SHOULD)".to_string(),
        )
    } else if must_failures > 0 {
        let failures = plural(must_failures, "MUST failure");
        let text = if implemented {
            failures
        } else {
            format!("claimed, not implemented: {failures}")
        };
        (CategoryState::Failing, text)
    } else if must_errors > 0 {
        (CategoryState::Incomplete, "incomplete (errors)".to_string())
    } else if must_not_verified > 0 {
        (
            CategoryState::Incomplete,
            format!("{must_not_verified} MUST not verified"),
        )
    } else if !judged {
        (CategoryState::NotJudged, "not judged".to_string())
    } else {
        (CategoryState::Conformant, "conformant".to_string())
    };
    CategoryEntry {
        category: c,
        title: c.title(),
        claimed,
        implemented,
        state,
        must_failures,
        must_not_verified,
        must_errors,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::report::Report;
    use crate::runner::verdict::made::*;

    fn report(results: &[crate::runner::exec::ScenarioResult], claims: &[Category]) -> Report {
        Report::build(
            &specs(),
            "http://127.0.0.1:5000",
            "oci-1.1",
            1,
            0,
            results,
            claims,
        )
    }

    #[test]
    fn an_absent_category_is_stated_not_implemented_and_not_charged() {
        let r = report(&without_tag_listing(), &[]);
        let k = &r.conformance;
        assert!(
            k.by_category
                .contains("Content Discovery: not implemented (SHOULD)"),
            "{}",
            k.by_category
        );
        assert!(k.by_category.starts_with("Pull: "), "{}", k.by_category);
        assert!(k.by_category.contains("Content Management: conformant"));
        assert!(k.by_category.contains("Push: not judged"));
        let tags = r.requirements.iter().find(|q| q.id == "tags.list").unwrap();
        assert_eq!(tags.verdict_text(), "not verified, not claimed");
        assert_eq!(r.levels["MUST"].not_claimed, 2, "tags.list and tags.order");
        // the SHOULD failure is the registry's: a finding
        assert!(r.findings());
        let presence = r
            .requirements
            .iter()
            .find(|q| q.id == "category.content-discovery")
            .unwrap();
        assert_eq!((presence.verdict, presence.claimed), (Outcome::Fail, true));
    }

    #[test]
    fn a_claimed_category_states_its_must_failures() {
        let r = report(&without_tag_listing(), &[Category::ContentDiscovery]);
        let c = &r.conformance.categories[2];
        assert_eq!(c.category, Category::ContentDiscovery);
        assert_eq!(c.state, CategoryState::Failing);
        assert_eq!(c.text, "claimed, not implemented: 1 MUST failure");
        assert_eq!(r.conformance.standing, RunStanding::NotConformant);
    }

    #[test]
    fn a_run_that_judged_nothing_never_says_conformant() {
        let r = report(&[], &[]);
        assert_eq!(r.conformance.standing, RunStanding::NothingJudged);
        assert!(!r.conformance.conformant);
        assert!(r.conformance.statement.ends_with("— nothing judged"));
        let mut skipped = scenario(
            "pull::x",
            vec![check("pull.blob.get", Outcome::Skip)],
            vec![],
        );
        skipped.verdict = crate::runner::exec::Verdict::Skip;
        let r = report(&[skipped], &[]);
        assert_eq!(r.conformance.standing, RunStanding::NothingJudged);
    }

    #[test]
    fn skips_stay_in_the_denominator_and_partial_passes_say_so() {
        let mut skipped = scenario(
            "push::mount",
            vec![check("push.mount.201", Outcome::Skip)],
            vec![],
        );
        skipped.verdict = crate::runner::exec::Verdict::Skip;
        let passed = scenario(
            "pull::blob",
            vec![
                check("pull.blob.get", Outcome::Pass),
                check("pull.blob.get", Outcome::NotVerified),
            ],
            vec![],
        );
        let r = report(&[skipped, passed], &[]);
        assert!(
            r.conformance
                .statement
                .starts_with("profile oci-1.1: MUST 1/2 (1 skipped)"),
            "{}",
            r.conformance.statement
        );
        let q = r
            .requirements
            .iter()
            .find(|q| q.id == "pull.blob.get")
            .unwrap();
        assert_eq!(q.verdict_text(), "pass, 1 of 2 checks judged");
        assert_eq!(r.conformance.standing, RunStanding::Conformant);
    }
}
