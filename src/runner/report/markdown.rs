//! A short Markdown summary, for CI step summaries (`$GITHUB_STEP_SUMMARY`).

use crate::runner::model::level_text;
use std::fmt::Write;

use super::Report;
use crate::runner::exec::Verdict;
pub(crate) use crate::runner::sanitize::md_code as code;
/// Text of the run's own making (names, statements): no markup, nothing breaking the table.
/// What a registry sent goes in [`code`] spans, where nothing renders at all (not even a
/// bare URL, which GitHub would make a link of in text).
pub(crate) use crate::runner::sanitize::md_text as cell;

pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let mark = if r.conformance.conformant {
        "✅"
    } else {
        "❌"
    };
    let _ = writeln!(
        s,
        "## regverify: {mark} {}\n",
        cell(&r.conformance.statement)
    );
    let _ = writeln!(s, "{}\n", cell(&r.conformance.by_category));
    let _ = writeln!(
        s,
        "Registry {} · seed {} · {:.1}s\n",
        code(&r.registry),
        r.seed,
        r.duration_ms as f64 / 1000.0
    );
    let _ = writeln!(
        s,
        "| level | passed | failed | errors | not verified | skipped | not claimed |\n|---|---|---|---|---|---|---|"
    );
    for level in ["MUST", "SHOULD", "MAY"] {
        if let Some(c) = r.levels.get(level) {
            let _ = writeln!(
                s,
                "| {level} | {} | {} | {} | {} | {} | {} |",
                c.pass, c.fail, c.error, c.not_verified, c.skip, c.not_claimed
            );
        }
    }
    let c = &r.scenarios_summary;
    let _ = writeln!(
        s,
        "\nScenarios: {} passed, {} failed, {} errors, {} skipped.\n",
        c.pass, c.fail, c.error, c.skip
    );
    let bad: Vec<_> = r
        .scenarios
        .iter()
        .filter(|x| matches!(x.verdict, Verdict::Fail | Verdict::Error))
        .collect();
    if !bad.is_empty() {
        let _ = writeln!(
            s,
            "| scenario | outcome | requirement | check | expected | got |\n|---|---|---|---|---|---|"
        );
        for x in bad {
            let outcome = if x.verdict == Verdict::Fail {
                "fail"
            } else {
                "error"
            };
            if x.failures.is_empty() {
                let first = x
                    .message
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("");
                let _ = writeln!(
                    s,
                    "| {} | {outcome} | {} | {} | | |",
                    code(&x.name),
                    x.failed_requirement
                        .as_deref()
                        .map(cell)
                        .unwrap_or_default(),
                    code(first)
                );
            }
            for c in &x.failures {
                let _ = writeln!(
                    s,
                    "| {} | {outcome} | {} | {} | {} | {} |",
                    code(&x.name),
                    cell(&match &c.requirement {
                        Some(q) => format!("{q} ({})", level_text(c.level, c.when.as_deref())),
                        None => String::new(),
                    }),
                    cell(&c.query),
                    code(&c.expected),
                    code(&c.got)
                );
            }
        }
    }
    s
}
