//! Requirement verdicts, aggregated from every check of every scenario, and the standing of
//! each of the spec's workflow categories.
//!
//! The rule for one requirement: it fails when any of its checks failed; otherwise it
//! passes when at least one check passed (reports say how many of its checks were judged);
//! an error is the run's, not the registry's, so it is the verdict only when no check was
//! judged; not verified when none was judged and one was stopped before it ran; skipped
//! only when every scenario found the optional feature it belongs to absent.
//!
//! A category other than Pull whose entry points answer as absent (only 405, or 404 without
//! an error envelope of the API, never a success) fails its `presence:` requirement, a
//! SHOULD; unless the run claims it, its other requirements are "not claimed" and the
//! failures its absent answers caused elsewhere are not charged.

use std::collections::{BTreeMap, BTreeSet};

use super::client::Exchange;
use super::exec::{Outcome, ScenarioResult, Verdict};
use super::loader::Specs;
use super::model::{Category, Requirement};
use super::plan::{Expectation, Scenario, Step, StepKind};

/// How many checks of a requirement ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub not_verified: usize,
    pub skip: usize,
}

impl Tally {
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Error => self.error += 1,
            Outcome::NotVerified => self.not_verified += 1,
            Outcome::Skip => self.skip += 1,
        }
    }

    /// Every check counted.
    pub fn checks(&self) -> usize {
        self.pass + self.fail + self.error + self.not_verified + self.skip
    }

    /// Checks that reached a verdict on the registry: passed or failed.
    pub fn judged(&self) -> usize {
        self.pass + self.fail
    }

    /// The aggregation rule (see the module's documentation).
    pub fn outcome(&self) -> Outcome {
        if self.fail > 0 {
            Outcome::Fail
        } else if self.pass > 0 {
            Outcome::Pass
        } else if self.error > 0 {
            Outcome::Error
        } else if self.not_verified > 0 {
            Outcome::NotVerified
        } else {
            Outcome::Skip
        }
    }
}

/// One requirement over a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub outcome: Outcome,
    pub tally: Tally,
    /// False when its category is absent and the run does not claim it: its checks are
    /// shown, but it counts neither way.
    pub claimed: bool,
}

/// Every requirement of a run judged, and what the run found of each category.
#[derive(Clone, Debug, Default)]
pub struct Verdicts {
    pub requirements: BTreeMap<String, Judgement>,
    /// Categories whose entry points answered as absent.
    pub absent: BTreeSet<Category>,
    /// Categories the run holds the registry to: Pull, and those claimed.
    pub claimed: BTreeSet<Category>,
    /// Scenarios whose failure came from an answer of an absent category not claimed, with
    /// that category: not charged to the registry.
    pub excused: BTreeMap<String, Category>,
}

/// What the answers of a category's entry points said.
#[derive(Clone, Copy, Debug, Default)]
struct Presence {
    /// An answer a registry without the API gives.
    absent: usize,
    /// A success.
    present: usize,
}

/// Judges every requirement the results touch, holding the registry to Pull and to the
/// categories in `claims`.
pub fn judge(specs: &Specs, results: &[ScenarioResult], claims: &[Category]) -> Verdicts {
    let claimed: BTreeSet<Category> = Category::ALL
        .into_iter()
        .filter(|c| c.always_claimed() || claims.contains(c))
        .collect();
    let markers: Vec<&Requirement> = specs.requirements.values().filter(|q| q.presence).collect();
    let mut presence: BTreeMap<&str, Presence> = BTreeMap::new();
    for q in &markers {
        let p = presence.entry(q.id.as_str()).or_default();
        for x in results.iter().flat_map(|r| &r.exchanges) {
            if reaches(q, x) {
                if x.status.is_some_and(|s| (200..300).contains(&s)) {
                    p.present += 1;
                } else if answers_absent(x) {
                    p.absent += 1;
                }
            }
        }
    }
    let absent: BTreeSet<Category> = markers
        .iter()
        .filter(|q| {
            let p = presence[q.id.as_str()];
            p.absent > 0 && p.present == 0
        })
        .map(|q| q.category)
        .collect();
    // the markers of absent categories not claimed: their absent answers explain failures
    let unclaimed_absent: Vec<&Requirement> = markers
        .iter()
        .copied()
        .filter(|q| absent.contains(&q.category) && !claimed.contains(&q.category))
        .collect();
    let excused: BTreeMap<String, Category> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .filter_map(|r| {
            let f = r.finding.as_ref()?;
            let absent_answer = f.transcript.iter().filter(|x| answers_absent(x));
            let category = absent_answer
                .flat_map(|x| unclaimed_absent.iter().filter(move |q| reaches(q, x)))
                .map(|q| q.category)
                .next()?;
            Some((r.name.clone(), category))
        })
        .collect();

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for r in results {
        let excuse = excused.contains_key(&r.name);
        // an excused failure judged nothing of the requirement: the answer it met was the
        // absence of another category's API
        let seen = |o: Outcome| {
            if excuse && o == Outcome::Fail {
                Outcome::NotVerified
            } else {
                o
            }
        };
        for c in &r.checks {
            tallies
                .entry(c.requirement.clone())
                .or_default()
                .add(seen(c.outcome));
        }
        let failed = r.finding.as_ref().and_then(|f| f.requirement.as_deref());
        if r.verdict == Verdict::Fail
            && let Some(q) = failed
            && !r.checks.iter().any(|c| c.requirement == q)
        {
            tallies
                .entry(q.to_string())
                .or_default()
                .add(seen(Outcome::Fail));
        }
        // requirements the scenario lists without a check of their own: one check each,
        // judged by the scenario's verdict
        for q in &r.requirements {
            if r.checks.iter().any(|c| &c.requirement == q) || failed == Some(q.as_str()) {
                continue;
            }
            tallies.entry(q.clone()).or_default().add(match r.verdict {
                Verdict::Pass => Outcome::Pass,
                Verdict::Skip => Outcome::Skip,
                Verdict::Error => Outcome::Error,
                Verdict::Fail => Outcome::NotVerified,
            });
        }
    }
    // a category's presence, judged once over every answer of its entry points; shown not
    // verified when the run judged requirements of the category but never reached them
    let touched: BTreeSet<Category> = tallies
        .keys()
        .filter_map(|id| specs.requirements.get(id))
        .map(|q| q.category)
        .collect();
    for q in &markers {
        let p = presence[q.id.as_str()];
        let mut t = Tally::default();
        if absent.contains(&q.category) {
            t.fail = 1;
        } else if p.present > 0 {
            t.pass = 1;
        } else if touched.contains(&q.category) {
            t.not_verified = 1;
        } else {
            continue;
        }
        tallies.insert(q.id.clone(), t);
    }

    let requirements = tallies
        .into_iter()
        .filter_map(|(id, tally)| {
            let q = specs.requirements.get(&id)?;
            let claimed =
                q.presence || !absent.contains(&q.category) || claimed.contains(&q.category);
            Some((
                id,
                Judgement {
                    outcome: tally.outcome(),
                    tally,
                    claimed,
                },
            ))
        })
        .collect();
    Verdicts {
        requirements,
        absent,
        claimed,
        excused,
    }
}

/// Requirement → outcome over `results`, holding the registry to Pull only (as a run
/// without `--claim`): requirements of an absent category are left out, not claimed.
pub fn requirement_verdicts(
    specs: &Specs,
    results: &[ScenarioResult],
) -> BTreeMap<String, Outcome> {
    judge(specs, results, &[])
        .requirements
        .into_iter()
        .filter(|(_, j)| j.claimed)
        .map(|(id, j)| (id, j.outcome))
        .collect()
}

/// Whether an exchange went to one of `q`'s endpoints.
fn reaches(q: &Requirement, x: &Exchange) -> bool {
    let Ok(url) = reqwest::Url::parse(&x.url) else {
        return false;
    };
    let Some(target) = crate::oci::api::Target::parse(url.path()) else {
        return false;
    };
    crate::oci::api::route_for(target.resource(), &x.method).is_some_and(|route| {
        route
            .spec_ids
            .iter()
            .any(|id| q.endpoints.iter().any(|e| e == id))
    })
}

/// The answer of a registry that does not have the API at all: 405, or a 404 that is no
/// error envelope of the API (a 404 of the API says what is unknown, in an envelope).
fn answers_absent(x: &Exchange) -> bool {
    match x.status {
        Some(405) => true,
        Some(404) => {
            let b = &x.response_body;
            // a body cut for the transcript cannot be read: not taken as absence
            if b.truncated {
                return false;
            }
            !b.text
                .as_deref()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .is_some_and(|v| v.get("errors").is_some_and(|e| e.is_array()))
        }
        _ => false,
    }
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

/// Results made by hand, for the tests of the verdicts and of the statement built on them.
#[cfg(test)]
pub(crate) mod made {
    use super::*;
    use crate::runner::client::BodyView;
    use crate::runner::exec::{CheckFailure, CheckResult, Finding};

    pub fn specs() -> Specs {
        let corpus = crate::runner::corpus::Corpus::open(
            None,
            crate::runner::corpus::SpecsMode::Overlay,
            None,
        )
        .unwrap();
        crate::runner::loader::load_corpus(&corpus).unwrap()
    }

    pub fn exchange(method: &str, path: &str, status: u16, body: &str) -> Exchange {
        Exchange {
            method: method.into(),
            url: format!("http://127.0.0.1:5000{path}"),
            request_headers: vec![],
            request_body: BodyView::of(b""),
            status: Some(status),
            response_headers: vec![],
            response_body: BodyView::of(body.as_bytes()),
            error: None,
            framing: None,
            millis: 0,
        }
    }

    pub fn check(requirement: &str, outcome: Outcome) -> CheckResult {
        CheckResult {
            requirement: requirement.into(),
            outcome,
            step: "s".into(),
            source: "x.yaml:1:1".into(),
            expected: None,
            got: None,
            blocked_by: None,
        }
    }

    /// A scenario with these checks; failing on the first failed check, whose step's
    /// exchanges are `exchanges`.
    pub fn scenario(
        name: &str,
        checks: Vec<CheckResult>,
        exchanges: Vec<Exchange>,
    ) -> ScenarioResult {
        let failed = checks.iter().find(|c| c.outcome == Outcome::Fail);
        let finding = failed.map(|c| Finding {
            requirement: Some(c.requirement.clone()),
            step: c.step.clone(),
            source: c.source.clone(),
            message: "failed".into(),
            failures: vec![CheckFailure {
                requirement: Some(c.requirement.clone()),
                query: "status".into(),
                expected: "200".into(),
                got: "404".into(),
                source: c.source.clone(),
                because: None,
            }],
            transcript: exchanges.clone(),
            lead: exchanges.len(),
        });
        ScenarioResult {
            name: name.into(),
            id: name.into(),
            title: name.into(),
            workflows: vec![],
            requirements: vec![],
            verdict: if finding.is_some() {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            finding,
            skip_reason: None,
            millis: 0,
            checks,
            exchanges,
        }
    }

    /// A registry without tag listing: the tags list answers a router's bare 404.
    pub fn without_tag_listing() -> Vec<ScenarioResult> {
        let tags = exchange("GET", "/v2/r/a/tags/list", 404, "404 page not found\n");
        vec![
            scenario(
                "discovery::tags-list",
                vec![
                    check("tags.list", Outcome::Fail),
                    check("tags.order", Outcome::NotVerified),
                ],
                vec![tags.clone()],
            ),
            // the absent listing fails a check of another category in passing
            scenario(
                "management::delete-tag",
                vec![
                    check("delete.tag", Outcome::Pass),
                    check("errors.envelope", Outcome::Fail),
                ],
                vec![tags],
            ),
            scenario(
                "pull::blob",
                vec![check("pull.blob.get", Outcome::Pass)],
                vec![exchange("GET", "/v2/r/a/blobs/sha256:00", 200, "x")],
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::made::*;
    use super::*;

    fn tally(outcomes: &[Outcome]) -> Tally {
        let mut t = Tally::default();
        outcomes.iter().for_each(|o| t.add(*o));
        t
    }

    #[test]
    fn a_failed_check_fails_and_one_pass_is_enough_to_pass() {
        use Outcome::*;
        assert_eq!(tally(&[Pass, Fail, NotVerified]).outcome(), Fail);
        let t = tally(&[Pass, Pass, Pass, NotVerified]);
        assert_eq!((t.outcome(), t.judged(), t.checks()), (Pass, 3, 4));
        // an error is the run's: the checks judged still decide
        assert_eq!(tally(&[Pass, Error]).outcome(), Pass);
        assert_eq!(tally(&[Error, NotVerified]).outcome(), Error);
        assert_eq!(tally(&[NotVerified, Skip]).outcome(), NotVerified);
        assert_eq!(tally(&[Skip, Skip]).outcome(), Skip);
        assert_eq!(tally(&[Skip, Pass]).outcome(), Pass);
    }

    #[test]
    fn an_absent_category_is_one_should_failure_and_its_requirements_are_not_claimed() {
        let specs = specs();
        let results = without_tag_listing();
        let v = judge(&specs, &results, &[]);
        assert_eq!(v.absent, [Category::ContentDiscovery].into());
        let presence = v.requirements["category.content-discovery"];
        assert_eq!((presence.outcome, presence.claimed), (Outcome::Fail, true));
        assert!(!v.requirements["tags.list"].claimed);
        // the other scenario's failure came from the absent listing: not charged
        assert_eq!(
            v.excused.get("management::delete-tag"),
            Some(&Category::ContentDiscovery)
        );
        assert_eq!(
            v.requirements["errors.envelope"].outcome,
            Outcome::NotVerified
        );
        let flat = requirement_verdicts(&specs, &results);
        let failed: Vec<&str> = flat
            .iter()
            .filter(|(_, o)| **o == Outcome::Fail)
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(failed, ["category.content-discovery"]);
        assert!(!flat.contains_key("tags.list"));
        // Pull and Push were not absent
        assert!(!v.requirements.contains_key("category.push"));
    }

    #[test]
    fn a_claimed_category_counts_in_full() {
        let specs = specs();
        let v = judge(
            &specs,
            &without_tag_listing(),
            &[Category::ContentDiscovery],
        );
        let tags = v.requirements["tags.list"];
        assert_eq!((tags.outcome, tags.claimed), (Outcome::Fail, true));
        assert!(v.excused.is_empty());
        assert_eq!(v.requirements["errors.envelope"].outcome, Outcome::Fail);
        assert_eq!(
            v.requirements["category.content-discovery"].outcome,
            Outcome::Fail
        );
    }

    #[test]
    fn a_success_or_an_error_envelope_is_presence() {
        let specs = specs();
        let bare = exchange("GET", "/v2/r/a/tags/list", 404, "");
        let ok = exchange(
            "GET",
            "/v2/r/b/tags/list",
            200,
            r#"{"name":"r/b","tags":[]}"#,
        );
        let enveloped = exchange(
            "GET",
            "/v2/r/c/tags/list",
            404,
            r#"{"errors":[{"code":"NAME_UNKNOWN","message":"x"}]}"#,
        );
        let run = |xs: Vec<Exchange>| {
            judge(
                &specs,
                &[scenario(
                    "d::t",
                    vec![check("tags.list", Outcome::Pass)],
                    xs,
                )],
                &[],
            )
        };
        let v = run(vec![bare.clone(), ok]);
        assert!(v.absent.is_empty());
        assert_eq!(
            v.requirements["category.content-discovery"].outcome,
            Outcome::Pass
        );
        let v = run(vec![enveloped]);
        assert!(v.absent.is_empty());
        let v = run(vec![exchange("DELETE", "/v2/r/a/tags/list", 405, "")]);
        // a DELETE of a tags list is no entry point of the API
        assert!(v.absent.is_empty());
        let v = run(vec![bare]);
        assert_eq!(v.absent, [Category::ContentDiscovery].into());
    }
}
