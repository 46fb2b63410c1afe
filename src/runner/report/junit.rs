//! JUnit XML: one test case per scenario, class name = its workflow; failures and errors
//! kept apart; the failing step's transcript in the case's output.

use crate::runner::model::level_text;
use quick_junit::{
    NonSuccessKind, Property, Report as JReport, TestCase, TestCaseStatus, TestSuite,
};

use super::Report;
use super::transcript;
use crate::runner::exec::Verdict;
use crate::runner::sanitize::xml;

/// Every text goes through [`xml`]: the writer escapes markup but keeps characters XML 1.0
/// forbids, and one of them from a registry would make the whole file unreadable.
pub fn junit(r: &Report) -> String {
    let mut suite = TestSuite::new(format!("regverify {}", r.profile));
    for s in &r.scenarios {
        let mut status = match s.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Skip => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(xml(s.skip_reason.as_deref().unwrap_or_default()));
                st
            }
            Verdict::Fail | Verdict::Error => {
                let kind = if s.verdict == Verdict::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut st = TestCaseStatus::non_success(kind);
                let first = s
                    .message
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("");
                let head = match &s.failed_requirement {
                    Some(q) => format!("[{q}] {first}"),
                    None => first.to_string(),
                };
                st.set_message(xml(&head));
                let mut text = format!(
                    "step {:?} at {}\n",
                    s.step.as_deref().unwrap_or(""),
                    s.source.as_deref().unwrap_or("")
                );
                if s.failures.is_empty() {
                    text.push_str(s.message.as_deref().unwrap_or(""));
                }
                for c in &s.failures {
                    text.push_str(&format!(
                        "requirement: {} [{}]\ncheck: {} at {}\nexpected: {}\ngot: {}\n",
                        c.requirement.as_deref().unwrap_or(""),
                        level_text(c.level, c.when.as_deref()),
                        c.query,
                        c.source,
                        c.expected,
                        c.got
                    ));
                }
                st.set_description(xml(&text));
                st
            }
        };
        if let TestCaseStatus::NonSuccess { .. } = status {
            status.set_type(if s.verdict == Verdict::Fail {
                "fail"
            } else {
                "error"
            });
        }
        let mut case = TestCase::new(xml(&s.name), status);
        case.set_classname(s.workflows.first().copied().unwrap_or("scenario"));
        case.set_time(std::time::Duration::from_millis(s.millis));
        if !s.failing_exchanges.is_empty() {
            case.set_system_out(xml(&transcript(&s.failing_exchanges)));
        }
        suite.add_test_case(case);
    }
    suite.set_system_out(xml(&format!(
        "{}\n{}\nregistry {} · seed {}",
        r.conformance.statement, r.conformance.by_category, r.registry, r.seed
    )));
    // the statement per category, for CI tools that read a suite's properties
    suite.add_property(Property::new(
        "conformance",
        r.conformance.standing.as_str(),
    ));
    for c in &r.conformance.categories {
        suite.add_property(Property::new(format!("category.{}", c.title), xml(&c.text)));
    }
    let mut report = JReport::new("regverify");
    report.set_time(std::time::Duration::from_millis(r.duration_ms));
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}
