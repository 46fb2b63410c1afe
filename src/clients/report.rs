//! What `regverify clients` reports for each client: every workflow under every condition
//! (did the client do what the condition requires) and every client requirement (passed,
//! failed with evidence, or not exercised), as text, JSON, JUnit XML or Markdown.

use std::collections::BTreeMap;

use serde::Serialize;

use super::judge::{self, Finding};
use super::statement::Statement;
use super::{Outcome, Workflow};
use crate::runner::model::Requirement;
use crate::runner::sanitize;

/// Evidence kept per failed requirement.
const EVIDENCE: usize = 5;

#[derive(Clone, Debug, Serialize)]
pub struct ClientReport {
    pub client: String,
    /// The client's conformance statement, over every workflow.
    pub statement: Statement,
    /// Each workflow's, judged on that workflow's runs alone.
    pub workflows: Vec<WorkflowStatement>,
    pub runs: Vec<RunRecord>,
    pub requirements: Vec<RequirementRecord>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WorkflowStatement {
    pub workflow: Workflow,
    pub statement: Statement,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub workflow: Workflow,
    pub condition: String,
    /// `succeed` or `fail`: what the client must do under the condition.
    pub must: &'static str,
    pub exit_code: Option<i32>,
    /// Why the result was not what the workflow should give, or the command did not end.
    pub problem: Option<String>,
    pub as_required: bool,
    pub requests: usize,
    /// The end of what the client printed on stderr, when it was not as required.
    pub stderr: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Judged and never broken; for a permission (MAY), used.
    Pass,
    Fail,
    NotExercised,
    /// A permission (MAY) the client had occasion for and did not use: never a failure.
    NotUsed,
}

#[derive(Clone, Debug, Serialize)]
pub struct RequirementRecord {
    pub id: String,
    pub level: String,
    pub summary: String,
    pub verdict: Verdict,
    /// How many times it was judged.
    pub checked: usize,
    pub failures: Vec<Evidence>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub workflow: Workflow,
    pub condition: String,
    pub detail: String,
}

impl ClientReport {
    pub fn new(
        client: &str,
        outcomes: &[Outcome],
        catalogue: &BTreeMap<String, Requirement>,
    ) -> ClientReport {
        let requirements = requirement_records(outcomes, catalogue);
        let runs: Vec<RunRecord> = outcomes.iter().map(run_record).collect();
        let mut workflows: Vec<Workflow> = outcomes.iter().map(|o| o.workflow).collect();
        workflows.sort();
        workflows.dedup();
        let workflows = workflows
            .into_iter()
            .map(|w| {
                let own: Vec<Outcome> = outcomes
                    .iter()
                    .filter(|o| o.workflow == w)
                    .cloned()
                    .collect();
                let runs: Vec<RunRecord> = own.iter().map(run_record).collect();
                WorkflowStatement {
                    workflow: w,
                    statement: Statement::new(&requirement_records(&own, catalogue), &runs),
                }
            })
            .collect();
        ClientReport {
            client: client.to_string(),
            statement: Statement::new(&requirements, &runs),
            workflows,
            runs,
            requirements,
        }
    }

    /// Whether everything went as required and no requirement failed.
    pub fn clean(&self) -> bool {
        self.runs.iter().all(|r| r.as_required)
            && self.requirements.iter().all(|r| r.verdict != Verdict::Fail)
    }

    /// The text report, safe for a terminal.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "client {}: {}",
            sanitize::line(&self.client),
            self.statement.line
        );
        let mut by_workflow: BTreeMap<Workflow, Vec<&RunRecord>> = BTreeMap::new();
        for r in &self.runs {
            by_workflow.entry(r.workflow).or_default().push(r);
        }
        for (w, runs) in by_workflow {
            let line = self
                .workflows
                .iter()
                .find(|x| x.workflow == w)
                .map_or("", |x| x.statement.line.as_str());
            let _ = writeln!(s, "  workflow {}: {line}", w.name());
            for r in runs.iter().filter(|r| !r.as_required) {
                let _ = writeln!(
                    s,
                    "    FAIL {}: must {}, exit {}{}",
                    r.condition,
                    r.must,
                    r.exit_code.map_or("none".into(), |c| c.to_string()),
                    r.problem
                        .as_deref()
                        .map_or(String::new(), |p| format!(" ({})", sanitize::line(p)))
                );
                if let Some(e) = &r.stderr {
                    for l in e
                        .lines()
                        .rev()
                        .take(3)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                    {
                        let _ = writeln!(s, "      | {}", sanitize::line(l));
                    }
                }
            }
        }
        for r in &self.requirements {
            let v = match r.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::NotExercised => "----",
                Verdict::NotUsed => "n/u ",
            };
            let _ = writeln!(
                s,
                "  {v} {:<28} {:<6} judged {:>3}x  {}",
                r.id,
                r.level,
                r.checked,
                sanitize::line(&r.summary)
            );
            for e in &r.failures {
                let _ = writeln!(
                    s,
                    "       {} / {}: {}",
                    e.workflow.name(),
                    e.condition,
                    sanitize::line(&e.detail)
                );
            }
        }
        s
    }
}

/// Each judged requirement's verdict on `outcomes`.
fn requirement_records(
    outcomes: &[Outcome],
    catalogue: &BTreeMap<String, Requirement>,
) -> Vec<RequirementRecord> {
    let mut found: BTreeMap<&str, Vec<(&Outcome, Finding)>> = BTreeMap::new();
    for o in outcomes {
        for f in judge::judge(o) {
            found.entry(f.requirement).or_default().push((o, f));
        }
    }
    judge::JUDGED
        .iter()
        .map(|id| {
            let fs = found.get(id).map(Vec::as_slice).unwrap_or_default();
            let r = catalogue.get(*id);
            let level = r.map_or("", |r| r.level.as_str());
            if level == "MAY" {
                // a permission is used or not, never broken
                let verdict = if fs.is_empty() {
                    Verdict::NotExercised
                } else if fs.iter().any(|(_, f)| f.passed) {
                    Verdict::Pass
                } else {
                    Verdict::NotUsed
                };
                return RequirementRecord {
                    id: id.to_string(),
                    level: level.to_string(),
                    summary: r.map_or(String::new(), |r| r.summary.clone()),
                    verdict,
                    checked: fs.len(),
                    failures: vec![],
                };
            }
            let failures: Vec<Evidence> = fs
                .iter()
                .filter(|(_, f)| !f.passed)
                .take(EVIDENCE)
                .map(|(o, f)| Evidence {
                    workflow: o.workflow,
                    condition: o.condition.name(),
                    detail: f.detail.clone(),
                })
                .collect();
            let verdict = match (fs.is_empty(), failures.is_empty()) {
                (true, _) => Verdict::NotExercised,
                (false, true) => Verdict::Pass,
                (false, false) => Verdict::Fail,
            };
            RequirementRecord {
                id: id.to_string(),
                level: level.to_string(),
                summary: r.map_or(String::new(), |r| r.summary.clone()),
                verdict,
                checked: fs.len(),
                failures,
            }
        })
        .collect()
}

/// What became of one run.
fn run_record(o: &Outcome) -> RunRecord {
    let as_required = o.as_required();
    let problem = o.ran.trouble.clone().or_else(|| match &o.result {
        Some(Err(e)) => Some(e.clone()),
        _ => None,
    });
    let tail: String = {
        let s = o.ran.stderr.trim_end();
        let from = s.char_indices().rev().nth(400).map_or(0, |(i, _)| i);
        s[from..].to_string()
    };
    RunRecord {
        workflow: o.workflow,
        condition: o.condition.name(),
        must: if o.condition.must_succeed() {
            "succeed"
        } else {
            "fail"
        },
        exit_code: o.ran.code,
        problem,
        as_required,
        requests: o.exchanges.len(),
        stderr: (!as_required && !tail.is_empty()).then_some(tail),
    }
}

/// JUnit XML: a suite per client, a case per run and per judged requirement.
pub fn junit(reports: &[ClientReport]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("regverify clients");
    for c in reports {
        let mut suite = TestSuite::new(sanitize::xml(&c.client));
        for r in &c.runs {
            let status = if r.as_required {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(sanitize::xml(&format!(
                    "must {}, exit {:?}{}",
                    r.must,
                    r.exit_code,
                    r.problem
                        .as_deref()
                        .map_or(String::new(), |p| format!(": {p}"))
                )));
                s
            };
            suite.add_test_case(TestCase::new(
                sanitize::xml(&format!("{} / {}", r.workflow.name(), r.condition)),
                status,
            ));
        }
        for r in c
            .requirements
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Pass | Verdict::Fail))
        {
            let status = if r.verdict == Verdict::Pass {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let msg: Vec<String> = r.failures.iter().map(|e| e.detail.clone()).collect();
                s.set_message(sanitize::xml(&msg.join("; ")));
                s
            };
            suite.add_test_case(TestCase::new(sanitize::xml(&r.id), status));
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_default()
}

/// Markdown: per client, the workflows' conditions and the requirements' verdicts; several
/// clients then side by side.
pub fn markdown(reports: &[ClientReport]) -> String {
    use std::fmt::Write as _;
    let mut s = String::from("# Clients judged by regverify\n");
    for c in reports {
        let _ = writeln!(s, "\n## {}\n", sanitize::md_text(&c.client));
        let _ = writeln!(s, "**{}**\n", c.statement.line);
        for w in &c.workflows {
            let _ = writeln!(s, "- {}: {}", w.workflow.name(), w.statement.line);
        }
        s.push('\n');
        let _ = writeln!(s, "| workflow | condition | must | exit | as required |");
        let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
        for r in &c.runs {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.workflow.name(),
                sanitize::md_text(&r.condition),
                r.must,
                r.exit_code.map_or("none".into(), |c| c.to_string()),
                if r.as_required {
                    "yes".to_string()
                } else {
                    format!(
                        "**no** {}",
                        sanitize::md_code(r.problem.as_deref().unwrap_or_default())
                    )
                }
            );
        }
        let _ = writeln!(s, "\n| requirement | level | verdict | judged | evidence |");
        let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
        for r in &c.requirements {
            let evidence: Vec<String> = r
                .failures
                .iter()
                .map(|e| {
                    format!(
                        "{} / {}: {}",
                        e.workflow.name(),
                        sanitize::md_text(&e.condition),
                        sanitize::md_code(&e.detail)
                    )
                })
                .collect();
            let verdict = match r.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "**fail**",
                Verdict::NotExercised => "not exercised",
                Verdict::NotUsed => "not used",
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {verdict} | {} | {} |",
                r.id,
                r.level,
                r.checked,
                evidence.join("<br>")
            );
        }
    }
    if reports.len() > 1 {
        s.push_str(&super::matrix::matrix_markdown(reports));
    }
    s
}
