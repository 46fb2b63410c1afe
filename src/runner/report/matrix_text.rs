//! `regverify matrix` for a terminal: requirement × registry, grouped by level, then each
//! registry's conformance statement.

use std::fmt::Write;

use colored::Colorize;

use crate::runner::exec::Outcome;
use crate::runner::matrix::{CLASSES, Matrix};
use crate::runner::sanitize::line;

/// A cell's word: short, so a few registries fit a terminal.
pub fn cell_word(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Pass) => "pass",
        Some(Outcome::Fail) => "FAIL",
        Some(Outcome::Error) => "error",
        Some(Outcome::NotVerified) => "n/v",
        Some(Outcome::Skip) => "skip",
        None => "·",
    }
}

fn coloured(word: &str, o: Option<Outcome>) -> String {
    match o {
        Some(Outcome::Pass) => word.green().to_string(),
        Some(Outcome::Fail) => word.red().to_string(),
        Some(Outcome::Error) => word.yellow().to_string(),
        _ => word.to_string(),
    }
}

pub fn matrix_text(m: &Matrix) -> String {
    let mut s = String::new();
    let id_width = m
        .rows
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or(11)
        .max(11);
    // labels as given by the user (a URL that did not parse among them), one line each
    let labels: Vec<String> = m.columns.iter().map(|c| line(&c.label)).collect();
    let widths: Vec<usize> = labels.iter().map(|l| l.chars().count().max(5)).collect();
    let _ = write!(s, "{:<id_width$}  {:<10}", "requirement", "level");
    for (l, &w) in labels.iter().zip(&widths) {
        let _ = write!(s, "  {l:<w$}");
    }
    s.truncate(s.trim_end_matches(' ').len());
    s.push('\n');
    for class in CLASSES {
        let mut rows = m.group(class).peekable();
        if rows.peek().is_none() {
            continue;
        }
        let _ = writeln!(s, "── {class}");
        for r in rows {
            // `*`: a duty within an optional feature (the long form is in the other formats)
            let level = format!("{}{}", r.level, if r.when.is_some() { "*" } else { "" });
            let _ = write!(s, "{:<id_width$}  {:<10}", r.id, level);
            for (i, (o, &w)) in r.cells.iter().zip(&widths).enumerate() {
                // coloured alone, padded after: escape codes have no width
                let word = r.word(i);
                let pad = w - word.chars().count();
                let _ = write!(s, "  {}{:pad$}", coloured(word, *o), "");
            }
            // the last column's padding
            s.truncate(s.trim_end_matches(' ').len());
            s.push('\n');
        }
    }
    let _ = writeln!(
        s,
        "(FAIL failed · error could not judge · n/v not verified · skip optional feature absent · n/c category absent, not claimed · · not in the run;\n * a duty within an optional feature: `regverify explain ID` names it)\n"
    );
    for (c, label) in m.columns.iter().zip(&labels) {
        match (&c.conformance, &c.error) {
            (Some(k), _) => {
                let _ = writeln!(s, "{label}: {}\n  {}", k.statement, k.by_category);
            }
            (None, Some(e)) => {
                // why a registry could not be run may quote what it answered
                let _ = writeln!(s, "{label}: could not run: {}", line(e));
            }
            (None, None) => {}
        }
    }
    let _ = writeln!(
        s,
        "matrix: {} registries, profile {}, seed {}, in {:.1}s",
        m.columns.len(),
        m.profile,
        m.seed,
        m.duration_ms as f64 / 1000.0
    );
    s
}
