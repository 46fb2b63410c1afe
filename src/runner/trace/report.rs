//! The reports of `trace`: text for a terminal, Markdown for a pull request's comment, JSON
//! for tools. Every text that comes from a spec file or a spec text was made safe for one
//! line when the report was built; Markdown escapes it again for its own syntax.

use std::fmt::Write;

use super::against::{AffectedList, AgainstReport, CiteFate, Fate};
use super::check::{Stale, TraceReport};
use crate::runner::model::Keyword;
use crate::runner::sanitize::md_text;

fn keyword_list(k: &[Keyword]) -> String {
    if k.is_empty() {
        return "none".into();
    }
    k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `trace --spec`, as text.
pub fn trace_text(r: &TraceReport) -> String {
    let d = r.doc.as_str();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "trace of {d}: {} citing it, {}, {}",
        plural(r.requirements, "requirement", "requirements"),
        plural(r.cites, "cite", "cites"),
        plural(
            r.normative_sentences,
            "normative sentence",
            "normative sentences"
        ),
    );
    if !r.rfc2119 {
        let _ = writeln!(
            s,
            "{d} does not invoke RFC 2119: its lower-case must, should and may are what cites record, and its uncited sentences are not listed"
        );
    }
    if !r.findings.is_empty() {
        let _ = writeln!(s, "\nrequirements:");
        for f in &r.findings {
            let _ = writeln!(s, "  {}: {}: {}", f.place, f.requirement, f.message);
        }
    }
    if !r.uncited.is_empty() {
        let _ = writeln!(s, "\nnormative sentences no requirement cites:");
        for u in &r.uncited {
            let _ = writeln!(
                s,
                "  {d}:{} [{}] {}",
                u.line,
                keyword_list(&u.keywords),
                u.text
            );
        }
    }
    if !r.stale.is_empty() {
        let _ = writeln!(s, "\nuncited.yaml entries that excuse nothing in {d}:");
        for e in &r.stale {
            let why = match e.stale {
                Stale::MatchesNothing => "matches no normative sentence",
                Stale::Cited => "every sentence it matches is cited: the entry goes",
            };
            let _ = writeln!(
                s,
                "  {}: ({}) \"{}\": {why}",
                e.place,
                e.reason.as_str(),
                e.quote
            );
        }
    }
    if !r.gaps.is_empty() {
        let _ = writeln!(
            s,
            "\nnot yet a requirement (uncited.yaml's not-yet, the catalogue's gaps):"
        );
        for g in &r.gaps {
            let note = g
                .note
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default();
            let _ = writeln!(s, "  {d}:{} {}{note}", g.line, g.quote);
        }
    }
    let _ = writeln!(
        s,
        "\n{}: {}, {} ({} excused by uncited.yaml), {}; {} not yet a requirement",
        if r.clean() { "clean" } else { "mismatch" },
        plural(
            r.findings.len(),
            "problem in requirements",
            "problems in requirements"
        ),
        plural(
            r.uncited.len(),
            "uncited normative sentence",
            "uncited normative sentences"
        ),
        r.excused,
        plural(r.stale.len(), "stale entry", "stale entries"),
        r.gaps.len(),
    );
    s
}

fn fate_line(c: &CiteFate) -> String {
    match &c.fate {
        Fate::Unchanged => String::new(),
        Fate::Changed {
            similar,
            line,
            similarity,
            keywords_after,
            keyword_changed,
        } => {
            let kw = if *keyword_changed {
                format!(
                    "; keyword {} → {}",
                    c.keyword.as_str(),
                    keyword_list(keywords_after)
                )
            } else {
                String::new()
            };
            format!(
                "now (line {line}, {:.0}% of its words{kw}): \"{similar}\"",
                similarity * 100.0
            )
        }
        Fate::Vanished => "no similar sentence".into(),
    }
}

/// Whether the requirement cites the new text already, said after what became of a cite.
fn already(c: &CiteFate, r: &AgainstReport) -> String {
    if c.cites_new {
        format!(" (it cites {} already)", r.new_doc.as_str())
    } else {
        String::new()
    }
}

fn summary(r: &AgainstReport) -> String {
    format!(
        "{} against {}: {} unchanged, {} changed, {} vanished; {} of {} no requirement cites; {} affected",
        r.new_doc.as_str(),
        r.old_doc.as_str(),
        plural(r.unchanged, "cite", "cites"),
        r.changed.len(),
        r.vanished.len(),
        plural(
            r.new_uncited.len(),
            "new normative sentence",
            "new normative sentences"
        ),
        r.new_doc.as_str(),
        plural(r.affected.len(), "requirement", "requirements"),
    )
}

/// `trace --against`, as text.
pub fn against_text(r: &AgainstReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", summary(r));
    for (title, list) in [("changed", &r.changed), ("vanished", &r.vanished)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{title}:");
        for c in list {
            let _ = writeln!(
                s,
                "  {}: {} ({}): \"{}\"\n    {}{}",
                c.place,
                c.requirement,
                c.keyword.as_str(),
                c.quote,
                fate_line(c),
                already(c, r)
            );
        }
    }
    if !r.new_uncited.is_empty() {
        let _ = writeln!(
            s,
            "\nnew in {}, cited by no requirement:",
            r.new_doc.as_str()
        );
        for n in &r.new_uncited {
            let _ = writeln!(
                s,
                "  {}:{} [{}] {}",
                r.new_doc.as_str(),
                n.line,
                keyword_list(&n.keywords),
                n.text
            );
        }
    }
    if !r.affected.is_empty() {
        let _ = writeln!(s, "\naffected requirements:");
        for a in &r.affected {
            let _ = writeln!(
                s,
                "  {}: scenarios {}; defects {}",
                a.requirement,
                AffectedList(&a.scenarios),
                AffectedList(&a.defects)
            );
        }
    }
    s
}

/// `trace --against`, as Markdown for a pull request's comment: the summary, then tables.
pub fn against_markdown(r: &AgainstReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### Spec text {} against {}\n",
        r.new_doc.as_str(),
        r.old_doc.as_str()
    );
    let _ = writeln!(s, "{}", md_text(&summary(r)));
    for (title, list) in [("Changed", &r.changed), ("Vanished", &r.vanished)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n#### {title} cites\n");
        let _ = writeln!(s, "| Requirement | Keyword | Quote | Now |");
        let _ = writeln!(s, "| --- | --- | --- | --- |");
        for c in list {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                md_text(&c.requirement),
                c.keyword.as_str(),
                md_text(&c.quote),
                md_text(&format!("{}{}", fate_line(c), already(c, r)))
            );
        }
    }
    if !r.new_uncited.is_empty() {
        let _ = writeln!(s, "\n#### New normative sentences no requirement cites\n");
        let _ = writeln!(s, "| Line | Keywords | Sentence |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for n in &r.new_uncited {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                n.line,
                keyword_list(&n.keywords),
                md_text(&n.text)
            );
        }
    }
    if !r.affected.is_empty() {
        let _ = writeln!(s, "\n#### Affected requirements\n");
        let _ = writeln!(s, "| Requirement | Scenarios | Defects |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for a in &r.affected {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                md_text(&a.requirement),
                md_text(&AffectedList(&a.scenarios).to_string()),
                md_text(&AffectedList(&a.defects).to_string())
            );
        }
    }
    s
}
