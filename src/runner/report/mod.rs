//! Reports of a run: one data model ([`Report`], which is also the JSON format) and a small
//! writer per format.

mod diff_markdown;
mod diff_text;
mod html;
mod junit;
mod markdown;
mod matrix_html;
mod matrix_markdown;
mod matrix_text;
mod statement;
mod text;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::client::Exchange;
use super::evidence::Evidence;
use super::exec::{CheckResult, Outcome, ScenarioResult, Verdict};
use super::loader::Specs;
use super::model::Category;
use super::redact::redact;
use super::verdict::judge;

pub use diff_markdown::diff_markdown;
pub use diff_text::diff_text;
pub use html::{STYLE as HTML_STYLE, html};
pub use junit::junit;
pub use markdown::markdown;
pub use matrix_html::matrix_html;
pub use matrix_markdown::matrix_markdown;
pub use matrix_text::{cell_word, matrix_text};
pub use statement::{CategoryEntry, CategoryState, Conformance, RunStanding};
pub use text::transcript;

#[derive(Debug, Clone, Serialize, serde::Deserialize, Default)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub skip: usize,
    /// Requirements only: never reached (an earlier failure stopped their scenarios).
    pub not_verified: usize,
    /// Requirements only: of a category the registry does not implement and the run does
    /// not claim.
    pub not_claimed: usize,
}

impl Counts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Error => self.error += 1,
            Verdict::Skip => self.skip += 1,
        }
    }
    fn add_outcome(&mut self, o: Outcome) {
        match o {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Error => self.error += 1,
            Outcome::Skip => self.skip += 1,
            Outcome::NotVerified => self.not_verified += 1,
        }
    }
    /// Every requirement counted: the denominator, the same in every run of a profile
    /// whatever was skipped, not verified or not claimed.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.error + self.not_verified + self.skip + self.not_claimed
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementRef {
    pub id: String,
    pub level: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioEntry {
    pub name: String,
    pub id: String,
    pub title: String,
    pub workflows: Vec<&'static str>,
    pub requirements: Vec<RequirementRef>,
    pub verdict: Verdict,
    /// The requirement a failure broke.
    pub failed_requirement: Option<String>,
    pub step: Option<String>,
    pub source: Option<String>,
    pub message: Option<String>,
    /// Every check that failed, expected and got apart.
    pub failures: Vec<FailureEntry>,
    /// Every check of the scenario with its outcome.
    pub checks: Vec<CheckResult>,
    pub skip_reason: Option<String>,
    /// The category whose absence made this scenario fail, when the run does not claim it:
    /// its failure is not charged to the registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_claimed: Option<Category>,
    pub millis: u64,
    /// Exchanges of the step that failed (or errored).
    pub failing_exchanges: Vec<Exchange>,
    /// Every exchange of the scenario.
    pub exchanges: Vec<Exchange>,
}

/// One check that did not hold, as reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct FailureEntry {
    pub requirement: Option<String>,
    pub level: &'static str,
    /// The optional feature the requirement holds within, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// What was looked at: `status`, `header Location`, `json tags`, `body`, …
    pub query: Evidence,
    pub expected: Evidence,
    pub got: Evidence,
    /// `file:line:col` of the check.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementEntry {
    pub id: String,
    pub level: &'static str,
    /// The optional feature the requirement holds within, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub summary: String,
    pub spec: String,
    pub category: Category,
    pub verdict: Outcome,
    /// False when its category is absent and not claimed: it counts neither way.
    pub claimed: bool,
    /// Its checks in the run, and how many of them were judged (passed or failed): "pass,
    /// 3 of 4 checks judged".
    pub checks: usize,
    pub judged: usize,
    pub scenarios: Vec<String>,
}

impl RequirementEntry {
    /// The verdict in words, with how much was judged when not every check was.
    pub fn verdict_text(&self) -> String {
        let v = self.verdict.as_str();
        if !self.claimed {
            return format!("{v}, not claimed");
        }
        match self.verdict {
            Outcome::Pass | Outcome::Fail if self.judged < self.checks => {
                format!("{v}, {} of {} checks judged", self.judged, self.checks)
            }
            _ => v.to_string(),
        }
    }
}

/// Everything a report shows. Serialised as is by `--json` (schema in docs/providers.md).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub registry: String,
    pub profile: String,
    pub seed: u64,
    /// The corpus that judged the run (null when the scenarios were not read from one).
    pub corpus: Option<crate::runner::corpus::CorpusIdentity>,
    pub duration_ms: u64,
    pub conformance: Conformance,
    pub scenarios_summary: Counts,
    /// Requirement verdicts by level class (MUST, SHOULD, MAY).
    pub levels: BTreeMap<&'static str, Counts>,
    /// Scenario verdicts by workflow.
    pub workflows: BTreeMap<&'static str, Counts>,
    pub scenarios: Vec<ScenarioEntry>,
    pub requirements: Vec<RequirementEntry>,
}

impl Report {
    pub fn build(
        specs: &Specs,
        registry: &str,
        profile: &str,
        seed: u64,
        duration_ms: u64,
        results: &[ScenarioResult],
        claims: &[Category],
    ) -> Report {
        let mut results = results.to_vec();
        results.sort_by(|a, b| a.name.cmp(&b.name));
        let verdicts = judge(specs, &results, claims);
        let mut scenarios_summary = Counts::default();
        let mut workflows: BTreeMap<&'static str, Counts> = BTreeMap::new();
        let scenarios: Vec<ScenarioEntry> = results
            .iter()
            .map(|r| {
                scenarios_summary.add(r.verdict);
                for w in &r.workflows {
                    workflows.entry(w.as_str()).or_default().add(r.verdict);
                }
                let f = r.finding.as_ref();
                ScenarioEntry {
                    name: r.name.clone(),
                    id: r.id.clone(),
                    title: r.title.clone(),
                    workflows: r.workflows.iter().map(|w| w.as_str()).collect(),
                    requirements: r
                        .requirements
                        .iter()
                        .map(|id| RequirementRef {
                            id: id.clone(),
                            level: specs.requirements.get(id).map_or("", |q| q.level.as_str()),
                        })
                        .collect(),
                    verdict: r.verdict,
                    failed_requirement: f.and_then(|f| f.requirement.clone()),
                    step: f.map(|f| f.step.clone()),
                    source: f.map(|f| f.source.clone()),
                    // what the registry answered, in which it may echo a credential
                    message: f.map(|f| redact(&f.message)),
                    failures: f
                        .map(|f| {
                            f.failures
                                .iter()
                                .map(|c| FailureEntry {
                                    level: c
                                        .requirement
                                        .as_ref()
                                        .and_then(|q| specs.requirements.get(q))
                                        .map_or("", |q| q.level.as_str()),
                                    when: c
                                        .requirement
                                        .as_ref()
                                        .and_then(|q| specs.requirements.get(q))
                                        .and_then(|q| q.when.clone()),
                                    requirement: c.requirement.clone(),
                                    query: c.query.clone(),
                                    expected: c.expected.redacted(),
                                    got: c.got.redacted(),
                                    source: c.source.clone(),
                                    because: c.because.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    checks: r
                        .checks
                        .iter()
                        .map(|c| CheckResult {
                            expected: c.expected.as_ref().map(Evidence::redacted),
                            got: c.got.as_ref().map(Evidence::redacted),
                            blocked_by: c.blocked_by.as_deref().map(redact),
                            ..c.clone()
                        })
                        .collect(),
                    skip_reason: r.skip_reason.as_deref().map(redact),
                    not_claimed: verdicts.excused.get(&r.name).copied(),
                    millis: r.millis,
                    failing_exchanges: f.map(|f| f.transcript.clone()).unwrap_or_default(),
                    exchanges: r.exchanges.clone(),
                }
            })
            .collect();
        // every requirement the scenarios of the run name, judged or not: the same set
        // whatever happens, so the denominators are stable
        let named: std::collections::BTreeSet<&str> = results
            .iter()
            .filter_map(|r| specs.scenarios.iter().find(|s| s.name() == r.name))
            .flat_map(crate::runner::verdict::named_requirements)
            .collect();
        let mut levels: BTreeMap<&'static str, Counts> = BTreeMap::new();
        let mut requirements = vec![];
        for q in specs.requirements.values() {
            let j = match verdicts.requirements.get(&q.id) {
                Some(j) => *j,
                None if named.contains(q.id.as_str()) => crate::runner::verdict::Judgement {
                    outcome: Outcome::NotVerified,
                    tally: Default::default(),
                    claimed: !verdicts.absent.contains(&q.category)
                        || verdicts.claimed.contains(&q.category),
                },
                None => continue,
            };
            let counts = levels.entry(q.level.class()).or_default();
            if j.claimed {
                counts.add_outcome(j.outcome);
            } else {
                counts.not_claimed += 1;
            }
            requirements.push(RequirementEntry {
                id: q.id.clone(),
                level: q.level.as_str(),
                when: q.when.clone(),
                summary: q.summary.clone(),
                spec: q.spec_url(),
                category: q.category,
                verdict: j.outcome,
                claimed: j.claimed,
                checks: j.tally.checks(),
                judged: j.tally.judged(),
                scenarios: results
                    .iter()
                    .filter(|r| r.requirements.contains(&q.id))
                    .map(|r| r.name.clone())
                    .collect(),
            });
        }
        let conformance = Conformance::state(
            profile,
            &levels,
            &requirements,
            &verdicts,
            scenarios_summary.error > 0,
        );
        Report {
            tool: "regverify",
            version: env!("CARGO_PKG_VERSION"),
            registry: registry.to_string(),
            profile: profile.to_string(),
            seed,
            corpus: specs.corpus.clone(),
            duration_ms,
            conformance,
            scenarios_summary,
            levels,
            workflows,
            scenarios,
            requirements,
        }
    }

    /// The failures the registry is charged with: a requirement claimed that failed, or a
    /// failed scenario its category's absence does not explain.
    pub fn findings(&self) -> bool {
        self.requirements
            .iter()
            .any(|q| q.claimed && q.verdict == Outcome::Fail)
            || self
                .scenarios
                .iter()
                .any(|s| s.verdict == Verdict::Fail && s.not_claimed.is_none())
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }
}

/// Where `--junit`, `--json`, `--html`, `--markdown` and the report directory ask for.
#[derive(Debug, Default, Clone)]
pub struct Outputs {
    pub junit: Option<std::path::PathBuf>,
    pub json: Option<std::path::PathBuf>,
    pub html: Option<std::path::PathBuf>,
    pub markdown: Option<std::path::PathBuf>,
}

impl Outputs {
    /// The OCI conformance suite's names in a directory.
    pub fn in_dir(mut self, dir: &Path) -> Outputs {
        self.junit.get_or_insert(dir.join("junit.xml"));
        self.json.get_or_insert(dir.join("results.json"));
        self.html.get_or_insert(dir.join("report.html"));
        self
    }

    pub fn any(&self) -> bool {
        self.junit.is_some()
            || self.json.is_some()
            || self.html.is_some()
            || self.markdown.is_some()
    }

    pub fn write(&self, report: &Report) -> std::io::Result<Vec<(std::path::PathBuf, u64)>> {
        let mut written = vec![];
        let mut put = |p: &Option<std::path::PathBuf>, text: String| -> std::io::Result<()> {
            if let Some(p) = p {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(p, &text)?;
                written.push((p.clone(), text.len() as u64));
            }
            Ok(())
        };
        put(&self.junit, junit(report))?;
        put(&self.json, report.json())?;
        put(&self.html, html(report))?;
        put(&self.markdown, markdown(report))?;
        Ok(written)
    }
}
