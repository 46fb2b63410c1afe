//! `regverify diff --markdown`: a pull-request comment.

use std::fmt::Write;

use super::diff_text::{evidence_text, outcome_word};
use super::markdown::{cell, code};
use crate::runner::compare::{Diff, RequirementChange};

fn requirement_table(s: &mut String, title: &str, changes: &[RequirementChange]) {
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n### {title} ({})\n\n| requirement | level | old | new | summary | failing in |\n|---|---|---|---|---|---|",
        changes.len()
    );
    for c in changes {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            code(&c.id),
            cell(&c.level),
            outcome_word(c.old),
            outcome_word(c.new),
            cell(c.summary.trim()),
            cell(&c.failing_in.join(", "))
        );
    }
}

pub fn diff_markdown(d: &Diff) -> String {
    let mut s = String::new();
    let mark = if d.worse {
        "❌ worse"
    } else {
        "✅ nothing got worse"
    };
    let _ = writeln!(
        s,
        "## regverify diff: {mark}\n\nOld {} ({}) · new {} ({})",
        code(&d.old.file),
        code(&d.old.registry),
        code(&d.new.file),
        code(&d.new.registry)
    );
    if d.is_empty() {
        let _ = writeln!(s, "\nNo change.");
        return s;
    }
    requirement_table(&mut s, "Newly failing", &d.newly_failing);
    requirement_table(&mut s, "Newly passing", &d.newly_passing);
    requirement_table(&mut s, "Other outcome changes", &d.other_changes);
    requirement_table(
        &mut s,
        "Known intermittent in the baseline (not worse)",
        &d.intermittent,
    );
    if !d.scenario_changes.is_empty() {
        let _ = writeln!(
            s,
            "\n### Scenario verdicts\n\n| scenario | old | new |\n|---|---|---|"
        );
        for c in &d.scenario_changes {
            let known = if c.intermittent {
                " (known intermittent)"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "| {} | {:?} | {:?}{known} |",
                code(&c.name),
                c.old,
                c.new
            );
        }
    }
    if !d.changed_evidence.is_empty() {
        let _ = writeln!(
            s,
            "\n### Changed evidence\n\n| scenario | requirement | step | check | old | new |\n|---|---|---|---|---|---|"
        );
        for e in &d.changed_evidence {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                code(&e.scenario),
                code(&e.requirement),
                code(&e.step),
                cell(e.query.as_deref().unwrap_or("")),
                code(&evidence_text(&e.old)),
                code(&evidence_text(&e.new))
            );
        }
    }
    for (title, names) in [
        ("Scenarios added", &d.scenarios_added),
        ("Scenarios removed", &d.scenarios_removed),
    ] {
        if !names.is_empty() {
            let list: Vec<String> = names.iter().map(|n| code(n)).collect();
            let _ = writeln!(s, "\n**{title}:** {}", list.join(", "));
        }
    }
    s
}
