//! Several clients side by side, as `regverify matrix` shows registries: requirement × client
//! (grouped by level), then workflow and condition × client, then each client's statement; in
//! text and in Markdown.

use std::fmt::Write;

use super::report::{ClientReport, Verdict};
use crate::runner::sanitize::{line, md_text};

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

/// A requirement's row: its id, its level, a cell per client.
type RequirementRow = (String, String, Vec<&'static str>);
/// A condition's row: workflow and condition, a cell per client.
type ConditionRow = (String, Vec<&'static str>);

/// The requirement rows, MUSTs first (every report lists the same judged requirements).
fn requirement_rows(reports: &[ClientReport]) -> Vec<RequirementRow> {
    let mut rows = Vec::new();
    let Some(first) = reports.first() else {
        return rows;
    };
    for level in ["MUST", "SHOULD", "MAY"] {
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
            rows.push((q.id.clone(), q.level.clone(), cells));
        }
    }
    rows
}

/// The condition rows, by workflow, each in the order the first client to run it ran it.
fn condition_rows(reports: &[ClientReport]) -> Vec<ConditionRow> {
    let mut conditions: Vec<(super::Workflow, &str)> = Vec::new();
    for c in reports {
        for r in &c.runs {
            if !conditions.contains(&(r.workflow, r.condition.as_str())) {
                conditions.push((r.workflow, r.condition.as_str()));
            }
        }
    }
    conditions.sort_by_key(|(w, _)| *w);
    conditions
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
            (format!("{} / {}", w.name(), cond), cells)
        })
        .collect()
}

const REQUIREMENT_KEY: &str =
    "FAIL broken · n/e no run gave the occasion · n/u a permission (MAY) not used · · not judged";
const CONDITION_KEY: &str =
    "ok as required · NO not as required · · the client has no such workflow";

pub fn matrix_text(reports: &[ClientReport]) -> String {
    let mut s = String::new();
    let labels: Vec<String> = reports.iter().map(|c| line(&c.client)).collect();
    let rows: Vec<(String, Vec<&str>)> = requirement_rows(reports)
        .into_iter()
        .map(|(id, level, cells)| (format!("{id:<28} {level}"), cells))
        .collect();
    table(&mut s, "requirement", &labels, &rows);
    let _ = writeln!(s, "({REQUIREMENT_KEY})\n");
    let rows: Vec<(String, Vec<&str>)> = condition_rows(reports)
        .into_iter()
        .map(|(label, cells)| (line(&label), cells))
        .collect();
    table(&mut s, "workflow / condition", &labels, &rows);
    let _ = writeln!(s, "({CONDITION_KEY})\n");
    for (c, label) in reports.iter().zip(&labels) {
        let _ = writeln!(s, "{label}: {}", c.statement.line);
    }
    s
}

/// The same tables in Markdown, for `--markdown` when several clients ran.
pub fn matrix_markdown(reports: &[ClientReport]) -> String {
    let mut s = String::from("\n## Side by side\n\n");
    let labels: Vec<String> = reports.iter().map(|c| md_text(&c.client)).collect();
    let head = |s: &mut String, first: &str| {
        let _ = writeln!(s, "| {first} | {} |", labels.join(" | "));
        let _ = writeln!(s, "| --- |{}", " --- |".repeat(labels.len()));
    };
    head(&mut s, "requirement");
    for (id, level, cells) in requirement_rows(reports) {
        let _ = writeln!(s, "| `{id}` {level} | {} |", cells.join(" | "));
    }
    let _ = writeln!(s, "\n{REQUIREMENT_KEY}\n");
    head(&mut s, "workflow / condition");
    for (label, cells) in condition_rows(reports) {
        let _ = writeln!(s, "| {} | {} |", md_text(&label), cells.join(" | "));
    }
    let _ = writeln!(s, "\n{CONDITION_KEY}\n");
    for (c, label) in reports.iter().zip(&labels) {
        let _ = writeln!(s, "- {label}: {}", c.statement.line);
    }
    s
}
