//! `regverify coverage`: the requirements × scenarios matrix. Every requirement with the
//! scenarios that verify it, and those without, with the reason a client cannot test them.

use std::collections::{BTreeMap, BTreeSet};

use super::loader::Specs;

pub struct Row<'a> {
    pub id: &'a str,
    pub level: &'static str,
    pub source: &'a str,
    pub scenarios: BTreeSet<String>,
    pub untestable: Option<&'a str>,
    /// A category's presence: judged from every answer of these endpoints in a run, not by
    /// a scenario's check.
    pub presence: Option<&'a [String]>,
    /// A client's duty: judged by `regverify clients` on what clients send, not by scenarios.
    pub client: bool,
}

/// The scenarios naming each requirement: in their list, or an expectation's `req`.
pub fn matrix(specs: &Specs) -> Vec<Row<'_>> {
    let mut by: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for s in &specs.scenarios {
        for id in super::verdict::named_requirements(s) {
            by.entry(id).or_default().insert(s.name());
        }
    }
    specs
        .requirements
        .values()
        .map(|r| Row {
            id: &r.id,
            level: r.level.as_str(),
            source: &r.source,
            scenarios: by.remove(r.id.as_str()).unwrap_or_default(),
            untestable: r.untestable.as_deref(),
            presence: r.presence.then_some(r.endpoints.as_slice()),
            client: r.party == super::model::Party::Client,
        })
        .collect()
}

/// Testable requirements no scenario verifies.
pub fn gaps<'a>(rows: &'a [Row<'a>]) -> Vec<&'a Row<'a>> {
    rows.iter()
        .filter(|r| {
            r.untestable.is_none() && r.presence.is_none() && !r.client && r.scenarios.is_empty()
        })
        .collect()
}

pub fn print(specs: &Specs) -> bool {
    let rows = matrix(specs);
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for r in &rows {
        let e = counts.entry(r.level).or_default();
        e.0 += 1;
        if r.untestable.is_some() {
            e.2 += 1;
        } else if !r.scenarios.is_empty() || r.presence.is_some() || r.client {
            e.1 += 1;
        }
    }
    for r in &rows {
        let what = match (r.untestable, r.scenarios.is_empty()) {
            (Some(why), _) => format!("untestable: {why}"),
            (None, true) if let Some(ends) = r.presence => {
                format!("presence: every answer of {} in the run", ends.join(", "))
            }
            (None, true) if r.client => "client duty: judged by `regverify clients`".to_string(),
            (None, true) => "NOT COVERED".to_string(),
            (None, false) => r.scenarios.iter().cloned().collect::<Vec<_>>().join(", "),
        };
        println!("{:<36} {:<10} {:<12} {what}", r.id, r.level, r.source);
    }
    println!();
    for (level, (all, covered, untestable)) in &counts {
        println!(
            "{level:<10} {all:>3} requirements: {covered:>3} covered, {untestable:>2} untestable"
        );
    }
    println!(
        "{} scenarios; {} requirements in all",
        specs.scenarios.len(),
        rows.len()
    );
    let g = gaps(&rows);
    for r in &g {
        println!("not covered: {} ({})", r.id, r.level);
    }
    g.is_empty()
}
