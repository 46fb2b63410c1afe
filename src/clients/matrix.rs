//! Several clients side by side, as `regverify matrix` shows registries: requirement × client
//! (grouped by level), then workflow and condition × client, then each client's statement.

use std::fmt::Write;

use super::report::{ClientReport, Verdict};
use crate::runner::sanitize::line;

/// A requirement's cell.
fn verdict_word(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Pass) => "pass",
        Some(Verdict::Fail) => "FAIL",
        Some(Verdict::NotExercised) => "n/e",
        Some(Verdict::NotUsed) => "n/u",
        None => "·",
    }
}

/// A condition's cell: whether the client went through it as required.
fn run_word(as_required: Option<bool>) -> &'static str {
    match as_required {
        Some(true) => "ok",
        Some(false) => "NO",
        None => "·",
    }
}

/// One table: a header row, then rows of a label and a cell per client.
fn table(s: &mut String, head: &str, labels: &[String], rows: &[(String, Vec<&str>)]) {
    let first = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .chain([head.len()])
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = labels.iter().map(|l| l.chars().count().max(4)).collect();
    let mut row = |label: &str, cells: &mut dyn Iterator<Item = &str>| {
        let mut r = format!("{label:<first$}");
        for (c, &w) in cells.zip(&widths) {
            let _ = write!(r, "  {c:<w$}");
        }
        let _ = writeln!(s, "{}", r.trim_end());
    };
    row(head, &mut labels.iter().map(String::as_str));
    for (label, cells) in rows {
        row(label, &mut cells.iter().copied());
    }
}

pub fn matrix_text(reports: &[ClientReport]) -> String {
    let mut s = String::new();
    let labels: Vec<String> = reports.iter().map(|c| line(&c.client)).collect();
    // every report lists the same judged requirements, in the same order
    let mut rows: Vec<(String, Vec<&str>)> = Vec::new();
    for level in ["MUST", "SHOULD", "MAY"] {
        let Some(first) = reports.first() else { break };
        for q in first.requirements.iter().filter(|q| q.level == level) {
            let cells = reports
                .iter()
                .map(|c| {
                    verdict_word(
                        c.requirements
                            .iter()
                            .find(|r| r.id == q.id)
                            .map(|r| r.verdict),
                    )
                })
                .collect();
            rows.push((format!("{:<28} {}", q.id, q.level), cells));
        }
    }
    table(&mut s, "requirement", &labels, &rows);
    let _ = writeln!(
        s,
        "(FAIL broken · n/e no run gave the occasion · n/u a permission (MAY) not used · · not judged)\n"
    );
    // the conditions in the order the first client to run them ran them
    let mut conditions: Vec<(super::Workflow, &str)> = Vec::new();
    for c in reports {
        for r in &c.runs {
            if !conditions.contains(&(r.workflow, r.condition.as_str())) {
                conditions.push((r.workflow, r.condition.as_str()));
            }
        }
    }
    conditions.sort_by_key(|(w, _)| *w);
    let rows: Vec<(String, Vec<&str>)> = conditions
        .iter()
        .map(|(w, cond)| {
            let cells = reports
                .iter()
                .map(|c| {
                    run_word(
                        c.runs
                            .iter()
                            .find(|r| r.workflow == *w && r.condition == *cond)
                            .map(|r| r.as_required),
                    )
                })
                .collect();
            (format!("{} / {}", w.name(), line(cond)), cells)
        })
        .collect();
    table(&mut s, "workflow / condition", &labels, &rows);
    let _ = writeln!(
        s,
        "(ok as required · NO not as required · · the client has no such workflow)\n"
    );
    for (c, label) in reports.iter().zip(&labels) {
        let _ = writeln!(s, "{label}: {}", c.statement.line);
    }
    s
}
