//! An explanation as text for a terminal.

use std::fmt::Write;

use crate::runner::model::Party;

use super::{CheckRef, DefectRef, RequirementView, ScenarioView, VariationRef};

pub(super) fn requirement(r: &RequirementView) -> String {
    let mut s = String::new();
    if let Some(old) = &r.renamed_from {
        let _ = writeln!(s, "({old} is an old name of {})", r.id);
    }
    let _ = writeln!(
        s,
        "{} — {} (the sentence's keyword: {})",
        r.id,
        r.level.as_str(),
        r.keyword
    );
    let _ = writeln!(s, "  {}", r.summary);
    let _ = writeln!(s, "  spec: {} ({})", r.spec, r.source);
    // a client's duty no client run can observe is said here; one judged, further down
    if r.party == Party::Client && r.untestable.is_some() {
        let _ = writeln!(s, "  a duty of clients");
    }
    // the quotes are the evidence a reader checks the summary against; an overlay's text
    // is shown on one line, its controls escaped
    for c in &r.cites {
        let _ = writeln!(
            s,
            "  cites {} ({}): \"{}\"",
            c.doc.as_str(),
            c.keyword.as_str(),
            crate::runner::sanitize::line(c.quote.trim())
        );
    }
    if let Some(d) = &r.derived_from {
        let _ = writeln!(s, "  derived from: {d}");
    }
    if let Some(u) = &r.untestable {
        let _ = writeln!(s, "  untestable: {u}");
    }
    list(&mut s, "endpoints", &r.endpoints);
    list(&mut s, "error codes", &r.codes);
    list(&mut s, "old names", &r.aliases);
    list(&mut s, "profiles", &r.profiles);
    if r.party == Party::Client && r.untestable.is_none() {
        let _ = writeln!(
            s,
            "\na client's duty: `regverify clients` judges it on the requests clients send"
        );
    } else if r.scenarios.is_empty() {
        let _ = writeln!(s, "\nno scenario verifies it");
    } else {
        let _ = writeln!(s, "\nverified by {}:", count(r.scenarios.len(), "scenario"));
    }
    for v in &r.scenarios {
        let _ = writeln!(s, "  {} — {} ({})", v.name, v.title, v.source);
        if v.checks.is_empty() {
            let _ = writeln!(
                s,
                "    listed, with no check of its own: the scenario's verdict counts for it"
            );
        }
        checks(&mut s, &v.checks);
    }
    overlaid(&mut s, r.overlay.as_deref());
    // of a requirement nothing verifies, there is nothing to prove failable
    if !r.scenarios.is_empty() || !r.defects.is_empty() {
        defects(&mut s, &r.defects, "it");
    }
    if r.needs_credentials {
        let _ = writeln!(
            s,
            "\nquiet: the reference with authentication on (serve --auth basic|token) passes it; \
             its scenarios run only with credentials, so the variations, run without, do not \
             bear on it"
        );
    } else if !r.scenarios.is_empty() {
        variations(&mut s, &r.variations, r.variations_total, "its section");
    }
    s
}

/// An entry an overlay added or replaced was not part of the runs that prove the corpus.
fn overlaid(s: &mut String, file: Option<&str>) {
    if let Some(f) = file {
        let _ = writeln!(
            s,
            "
from the overlay {f}: the proofs below were made with the embedded corpus; \
             run this one against the reference, a defect and the variations to prove it"
        );
    }
}

pub(super) fn scenario(v: &ScenarioView) -> String {
    let mut s = String::new();
    if let Some(old) = &v.renamed_from {
        let _ = writeln!(s, "({old} is an old name of {})", v.name);
    }
    let _ = writeln!(s, "{} — {}", v.name, v.title);
    let _ = writeln!(s, "  defined at {}", v.source);
    let _ = writeln!(s, "  workflows: {}", v.workflows.join(", "));
    list(&mut s, "profiles", &v.profiles);
    if v.needs_credentials {
        let _ = writeln!(s, "  runs only with credentials (skipped otherwise)");
    }
    list(&mut s, "old names", &v.aliases);
    let _ = writeln!(
        s,
        "\nverifies {}:",
        count(v.requirements.len(), "requirement")
    );
    for r in &v.requirements {
        let _ = writeln!(
            s,
            "  {} [{}] {} — {}",
            r.id,
            r.level.as_str(),
            r.summary,
            r.spec
        );
        if r.checks.is_empty() {
            let _ = writeln!(s, "    listed, with no check of its own");
        }
        checks(&mut s, &r.checks);
    }
    overlaid(&mut s, v.overlay.as_deref());
    defects(&mut s, &v.defects, "requirements it checks");
    variations(
        &mut s,
        &v.variations,
        v.variations_total,
        "its requirements' sections",
    );
    s
}

fn list(s: &mut String, label: &str, items: &[String]) {
    if !items.is_empty() {
        let _ = writeln!(s, "  {label}: {}", items.join(", "));
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn checks(s: &mut String, checks: &[CheckRef]) {
    for c in checks {
        let _ = writeln!(s, "    {}  {} in step {:?}", c.source, c.what, c.step);
    }
}

fn defects(s: &mut String, defects: &[DefectRef], what: &str) {
    if defects.is_empty() {
        let _ = writeln!(s, "\nfailable: no defect of the reference breaks {what}");
        return;
    }
    let _ = writeln!(
        s,
        "\nfailable: the reference fails {what} with {} (regverify serve --defect NAME):",
        count(defects.len(), "defect")
    );
    let width = defects.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in defects {
        let mut notes = vec![];
        if d.at_times {
            notes.push("at times: when a race happens".to_string());
        }
        if d.needs_auth {
            notes.push("with --auth".to_string());
        }
        if what != "it" {
            notes.push(d.breaks.join(", "));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        let _ = writeln!(s, "  {:<width$}  {}{notes}", d.name, d.summary);
    }
}

fn variations(s: &mut String, variations: &[VariationRef], total: usize, of: &str) {
    let _ = writeln!(
        s,
        "\nquiet: the reference passes it, and so does the reference with each of the {total} \
         variations the spec allows (regverify serve --variation NAME); those of {of}:"
    );
    if variations.is_empty() {
        let _ = writeln!(s, "  none");
    }
    let width = variations.iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in variations {
        let _ = writeln!(s, "  {:<width$}  {}", v.name, v.summary);
    }
}
