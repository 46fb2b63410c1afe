//! What a run prints: the failure of a scenario with its exchanges, and the closing
//! summary with the conformance statement.

use std::time::Duration;

use colored::Colorize;

use crate::runner::exec::{ScenarioResult, Verdict};
use crate::runner::loader::Specs;
use crate::runner::redact::redact;
use crate::runner::report::transcript;
use crate::runner::report::{CategoryState, Report, RunStanding};
use crate::runner::sanitize::terminal;

/// The message of a failed or errored scenario: what broke, where, and the exchange; the
/// registry's text in it escaped for a terminal, credentials hidden.
pub fn failure_text(specs: &Specs, r: &ScenarioResult) -> String {
    terminal(&redact(&failure_lines(specs, r)))
}

fn failure_lines(specs: &Specs, r: &ScenarioResult) -> String {
    let Some(f) = &r.finding else {
        return String::new();
    };
    let mut s = String::new();
    match r.verdict {
        Verdict::Fail => {
            let req = f.requirement.as_deref().unwrap_or("?");
            let detail = specs
                .requirements
                .get(req)
                .map(|q| {
                    format!(
                        "{} [{}] {} — {}",
                        req,
                        q.level_text(),
                        q.summary.trim(),
                        q.spec_url()
                    )
                })
                .unwrap_or_else(|| req.to_string());
            s.push_str(&format!("FAIL {}\n  requirement: {detail}\n", r.title));
        }
        _ => s.push_str(&format!(
            "ERROR {} (the run could not complete; not a verdict on the registry)\n",
            r.title
        )),
    }
    s.push_str(&format!("  step: {:?} at {}\n", f.step, f.source));
    for line in f.message.lines() {
        s.push_str(&format!("  {line}\n"));
    }
    let lead = f.lead.min(f.transcript.len());
    s.push_str(&transcript(&f.transcript[..lead]));
    let others = f.transcript.len() - lead;
    if others > 0 {
        s.push_str(&format!(
            "  … {others} other exchange(s) of the step ran beside it, not shown \
             (the JSON report and --debug have them)\n"
        ));
    }
    if let (Verdict::Fail, Some(req)) = (r.verdict, f.requirement.as_deref()) {
        s.push_str(&format!("  explain: regverify explain {req}\n"));
    }
    s
}

/// The run's one summary: the scenarios' verdicts, then the conformance statement.
pub(super) fn print_summary(report: &Report, not_selected: usize, took: Duration) {
    println!(
        "\n{}",
        scenario_line(report, not_selected, took.as_secs_f64())
    );
    let k = &report.conformance;
    let word = k.standing.as_str();
    let coloured_word = match k.standing {
        RunStanding::Conformant => word.green(),
        RunStanding::Incomplete | RunStanding::NothingJudged => word.yellow(),
        RunStanding::NotConformant => word.red(),
    };
    let said = k
        .statement
        .strip_suffix(word)
        .map(|head| format!("{head}{coloured_word}"))
        .unwrap_or_else(|| k.statement.clone());
    println!("conformance: {said}");
    let categories: Vec<String> = k
        .categories
        .iter()
        .map(|c| {
            let text = match c.state {
                CategoryState::Conformant => c.text.green(),
                CategoryState::Failing => c.text.red(),
                CategoryState::NotImplemented | CategoryState::Incomplete => c.text.yellow(),
                CategoryState::NotJudged => c.text.normal(),
            };
            format!("{}: {text}", c.title)
        })
        .collect();
    println!("categories: {}", categories.join(" · "));
}

/// `scenarios: 3 passed, 1 failed, 1 errors, 2 skipped in 1.0s (seed 7)`, with the scenarios
/// of the profile that the filters left out when there are any.
fn scenario_line(report: &Report, not_selected: usize, secs: f64) -> String {
    let c = &report.scenarios_summary;
    let left_out = if not_selected > 0 {
        format!(", {not_selected} not selected")
    } else {
        String::new()
    };
    format!(
        "scenarios: {} passed, {} failed, {} errors, {} skipped{left_out} in {secs:.1}s (seed {})",
        c.pass, c.fail, c.error, c.skip, report.seed
    )
}
