//! `regverify diff` for a terminal: each kind of change under its heading, worst first.

use std::fmt::Write;

use crate::runner::compare::{Diff, Evidence, RequirementChange};
use crate::runner::exec::Outcome;
use crate::runner::sanitize::{line, terminal};

pub(crate) fn outcome_word(o: Option<Outcome>) -> &'static str {
    o.map_or("absent", Outcome::as_str)
}

pub(crate) fn evidence_text(e: &Evidence) -> String {
    match (&e.expected, &e.got) {
        (Some(x), Some(g)) => format!("{} (expected {x}, got {g})", e.outcome.as_str()),
        (None, Some(g)) => format!("{} (got {g})", e.outcome.as_str()),
        _ => e.outcome.as_str().to_string(),
    }
}

fn requirement_lines(s: &mut String, title: &str, changes: &[RequirementChange]) {
    if changes.is_empty() {
        return;
    }
    let _ = writeln!(s, "{title} ({}):", changes.len());
    for c in changes {
        let _ = writeln!(
            s,
            "  {} [{}] {} → {} — {}",
            c.id,
            c.level,
            outcome_word(c.old),
            outcome_word(c.new),
            c.summary.trim()
        );
        if !c.failing_in.is_empty() {
            let _ = writeln!(s, "      failing in {}", c.failing_in.join(", "));
        }
    }
}

/// The results files compared hold what registries sent: escaped for a terminal.
pub fn diff_text(d: &Diff) -> String {
    terminal(&diff_lines(d))
}

fn diff_lines(d: &Diff) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "old: {} ({}, profile {}, seed {})\nnew: {} ({}, profile {}, seed {})",
        d.old.file,
        d.old.registry,
        d.old.profile,
        d.old.seed,
        d.new.file,
        d.new.registry,
        d.new.profile,
        d.new.seed
    );
    if d.is_empty() {
        let _ = writeln!(s, "no change");
        return s;
    }
    requirement_lines(&mut s, "newly failing", &d.newly_failing);
    requirement_lines(&mut s, "newly passing", &d.newly_passing);
    requirement_lines(&mut s, "other outcome changes", &d.other_changes);
    requirement_lines(
        &mut s,
        "known intermittent in the baseline, not worse",
        &d.intermittent,
    );
    if !d.scenario_changes.is_empty() {
        let _ = writeln!(s, "scenario verdicts ({}):", d.scenario_changes.len());
        for c in &d.scenario_changes {
            let known = if c.intermittent {
                " (known intermittent)"
            } else {
                ""
            };
            let _ = writeln!(s, "  {} {:?} → {:?}{known}", c.name, c.old, c.new);
        }
    }
    if !d.changed_evidence.is_empty() {
        let _ = writeln!(s, "changed evidence ({}):", d.changed_evidence.len());
        for e in &d.changed_evidence {
            let what = e.query.as_deref().unwrap_or("check");
            let _ = writeln!(
                s,
                "  {} · {} · step {:?} · {what} at {}\n      old: {}\n      new: {}",
                e.scenario,
                e.requirement,
                e.step,
                e.new.source,
                line(&evidence_text(&e.old)),
                line(&evidence_text(&e.new))
            );
        }
    }
    for (title, names) in [
        ("scenarios added", &d.scenarios_added),
        ("scenarios removed", &d.scenarios_removed),
    ] {
        if !names.is_empty() {
            let _ = writeln!(s, "{title} ({}): {}", names.len(), names.join(", "));
        }
    }
    let _ = writeln!(
        s,
        "{}",
        if d.worse {
            "verdict: worse"
        } else {
            "verdict: nothing got worse"
        }
    );
    s
}
