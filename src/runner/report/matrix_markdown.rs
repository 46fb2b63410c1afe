//! `regverify matrix --markdown`: one table per level group, then each registry's statement.

use std::fmt::Write;

use super::markdown::{cell, code};
use crate::runner::matrix::{CLASSES, Matrix};

pub fn matrix_markdown(m: &Matrix) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## regverify matrix: profile {}, {} registries\n",
        cell(&m.profile),
        m.columns.len()
    );
    for c in &m.columns {
        let said = match (&c.conformance, &c.error) {
            (Some(k), _) => {
                let mark = if k.conformant { "✅" } else { "❌" };
                format!("{mark} {}<br>{}", cell(&k.statement), cell(&k.by_category))
            }
            (None, Some(e)) => format!("⚠️ could not run: {}", code(e)),
            (None, None) => String::new(),
        };
        let _ = writeln!(s, "- {}: {said}", code(&c.label));
    }
    let header: Vec<String> = m.columns.iter().map(|c| code(&c.label)).collect();
    for class in CLASSES {
        let mut rows = m.group(class).peekable();
        if rows.peek().is_none() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n### {class}\n\n| requirement | level | {} |\n|---|---|{}",
            header.join(" | "),
            "---|".repeat(header.len())
        );
        for r in rows {
            let cells: Vec<&str> = (0..r.cells.len()).map(|i| r.word(i)).collect();
            let _ = writeln!(
                s,
                "| [{}]({}) | {} | {} |",
                code(&r.id),
                r.spec,
                crate::runner::model::level_text(r.level, r.when.as_deref()),
                cells.join(" | ")
            );
        }
    }
    let _ = writeln!(
        s,
        "\nFAIL failed · error could not judge · n/v not verified · skip optional feature absent · n/c category absent, not claimed · · not in the run. Seed {}.",
        m.seed
    );
    s
}
