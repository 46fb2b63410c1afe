//! `regverify matrix --html`: one self-contained page. The table links every cell to the
//! evidence below it: the checks of that requirement in that registry's run (scenario, step,
//! outcome, expected and got, place) and, where a check failed, the exchanges of the
//! failing step. Everything from a registry is escaped by maud.

use maud::{DOCTYPE, Markup, PreEscaped, html as h};

use super::{Report, transcript};
use crate::runner::exec::Outcome;
use crate::runner::matrix::{CLASSES, Column, ColumnReport, Matrix, Row};

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:90em;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th.group{background:#eef;font-size:1.05em}
td.cell a{text-decoration:none;display:block;color:inherit}
.pass{color:#17692b}.fail{color:#b3261e;font-weight:600}.error{color:#9a5b00;font-weight:600}.skip,.not-verified,.absent{color:#777}
.statement.ok{color:#17692b}.statement.bad{color:#b3261e}
pre{background:#f6f6f6;padding:.7em;overflow-x:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
details{margin:.3em 0} details:target{outline:2px solid #88f}
small{color:#666}
"#;

/// Opens the evidence a cell links to (a closed `<details>` hides its content).
const SCRIPT: &str = r#"
function openTarget(){const t=location.hash&&document.getElementById(decodeURIComponent(location.hash.slice(1)));if(t&&t.tagName==='DETAILS')t.open=true;}
addEventListener('hashchange',openTarget);addEventListener('DOMContentLoaded',openTarget);
"#;

fn class_of(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::NotVerified) => "not-verified",
        Some(o) => o.as_str(),
        None => "absent",
    }
}

/// The anchor of a cell's evidence.
fn anchor(column: usize, requirement: &str) -> String {
    format!("e{column}-{requirement}")
}

fn statement(c: &Column) -> Markup {
    h! {
        @if let Some(k) = &c.conformance {
            span.statement.ok[k.conformant].bad[!k.conformant] { (k.statement) }
            br;
            span.categories { (k.by_category) }
        } @else if let Some(e) = &c.error {
            span.error { "could not run: " (e) }
        }
    }
}

fn table(m: &Matrix) -> Markup {
    h! {
        table id="matrix" {
            tr {
                th { "requirement" } th { "level" }
                @for c in &m.columns { th { (c.label) } }
                th { "summary" }
            }
            @for class in CLASSES {
                @let rows: Vec<&Row> = m.group(class).collect();
                @if !rows.is_empty() {
                    tr { th.group colspan=(m.columns.len() + 3) { (class) } }
                    @for r in rows {
                        tr.row {
                            td { a href=(r.spec) { code { (r.id) } } }
                            td { (crate::runner::model::level_text(r.level, r.when.as_deref())) }
                            @for (i, o) in r.cells.iter().enumerate() {
                                td class=(format!("cell {}", class_of(*o))) {
                                    @if o.is_some() {
                                        a href=(format!("#{}", anchor(i, &r.id))) { (r.word(i)) }
                                    } @else {
                                        (r.word(i))
                                    }
                                }
                            }
                            td { small { (r.summary) } }
                        }
                    }
                }
            }
        }
    }
}

/// A requirement's evidence in one run: its checks, and the failing exchanges.
fn evidence(i: usize, r: &Report, row: &Row, outcome: Outcome) -> Markup {
    let checks: Vec<_> = r
        .scenarios
        .iter()
        .flat_map(|s| {
            s.checks
                .iter()
                .filter(|c| c.requirement == row.id)
                .map(move |c| (s, c))
        })
        .collect();
    // scenarios whose failure this requirement is: their failing step's exchanges
    let failing: Vec<_> = r
        .scenarios
        .iter()
        .filter(|s| {
            s.failed_requirement.as_deref() == Some(row.id.as_str())
                || checks
                    .iter()
                    .any(|(x, c)| x.name == s.name && c.outcome == Outcome::Fail)
        })
        .collect();
    h! {
        details id=(anchor(i, &row.id)) class="evidence" {
            summary { code { (row.id) } " — " span class=(class_of(Some(outcome))) { (outcome.as_str()) } }
            @if checks.is_empty() {
                p { small { "judged from its scenarios' verdicts: "
                    (r.requirements.iter().find(|q| q.id == row.id).map(|q| q.scenarios.join(", ")).unwrap_or_default()) } }
            } @else {
                table class="checks" {
                    tr { th { "scenario" } th { "step" } th { "outcome" } th { "expected" } th { "got" } th { "at" } }
                    @for (s, c) in &checks {
                        tr {
                            td { code { (s.name) } }
                            td { (c.step) }
                            td class=(class_of(Some(c.outcome))) { (c.outcome.as_str()) }
                            td class="expected" { code { (c.expected.as_deref().unwrap_or("")) } }
                            td class="got" { code { (c.got.as_deref().unwrap_or(c.blocked_by.as_deref().unwrap_or(""))) } }
                            td { small { (c.source) } }
                        }
                    }
                }
            }
            @for s in failing {
                p { small { code { (s.name) } ": " (s.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("")) } }
                pre class="transcript" { (transcript(&s.failing_exchanges)) }
            }
        }
    }
}

pub fn matrix_html(m: &Matrix) -> String {
    let page = h! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "regverify matrix — " (m.profile) }
                style { (PreEscaped(STYLE)) }
                script { (PreEscaped(SCRIPT)) }
            }
            body {
                h1 { "regverify matrix" }
                p { small { "profile " (m.profile) " · seed " (m.seed) " · "
                    (format!("{:.1}", m.duration_ms as f64 / 1000.0)) " s · regverify " (m.version) } }
                h2 { "Registries" }
                table id="registries" {
                    @for (i, c) in m.columns.iter().enumerate() {
                        tr {
                            th { a href=(format!("#r{i}")) { (c.label) } }
                            td { (statement(c)) }
                        }
                    }
                }
                h2 { "Requirements × registries" }
                (table(m))
                p { small { "FAIL failed · error could not judge · n/v not verified · skip optional feature absent · n/c category absent, not claimed · · not in the run. Each cell links to its evidence." } }
                @for (i, c) in m.columns.iter().enumerate() {
                    section id=(format!("r{i}")) {
                        h2 { "Evidence: " (c.label) }
                        p { (statement(c)) }
                        @if let Some(ColumnReport::Saved(r)) = &c.report {
                            p { small { "registry " code { (r.registry) } " · the evidence is in the results file " code { (r.path.display()) } } }
                        }
                        @if let Some(ColumnReport::Run(r)) = &c.report {
                            p { small { "registry " code { (r.registry) } " · " (format!("{:.1}", c.duration_ms as f64 / 1000.0)) " s" } }
                            @for row in &m.rows {
                                @if let Some(o) = row.cells[i] {
                                    (evidence(i, r, row, o))
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}
