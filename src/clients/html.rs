//! `regverify clients --html FILE`: one self-contained page (the style of `run`'s report, no
//! remote asset) with, per client, its statement, each workflow's, every condition it ran
//! under and every requirement's verdict. Markup is escaped by maud; controls in what a
//! client named or printed are shown escaped (`sanitize::terminal`), as in the other reports.

use maud::{DOCTYPE, PreEscaped, html as h};

use super::report::{ClientReport, Verdict};
use crate::runner::report::{HTML_STYLE, RunStanding};
use crate::runner::sanitize::{line, terminal};

fn verdict_class(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Pass => ("pass", "pass"),
        Verdict::Fail => ("fail", "fail"),
        Verdict::NotExercised => ("skip", "not exercised"),
        Verdict::NotUsed => ("skip", "not used"),
    }
}

pub fn html(reports: &[ClientReport]) -> String {
    let page = h! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "regverify clients" }
                style { (PreEscaped(HTML_STYLE)) }
            }
            body {
                h1 { "Clients judged by regverify" }
                @for c in reports {
                    @let ok = c.statement.standing == RunStanding::Conformant;
                    h2 { "client " code { (line(&c.client)) } }
                    p.statement.ok[ok].bad[!ok] { (c.statement.line) }
                    table.workflows {
                        @for w in &c.workflows {
                            tr { th { (w.workflow.name()) } td { (w.statement.line) } }
                        }
                    }
                    h3 { "Conditions" }
                    table.runs {
                        tr { th { "workflow" } th { "condition" } th { "must" } th { "exit" } th { "as required" } }
                        @for r in &c.runs {
                            tr {
                                td { (r.workflow.name()) }
                                td { (line(&r.condition)) }
                                td { (r.must) }
                                td { (r.exit_code.map_or("none".into(), |c| c.to_string())) }
                                @if r.as_required {
                                    td.pass { "yes" }
                                } @else {
                                    td.fail {
                                        "no"
                                        @if let Some(p) = &r.problem { " — " (line(p)) }
                                        @if let Some(e) = &r.stderr { pre { (terminal(e)) } }
                                    }
                                }
                            }
                        }
                    }
                    h3 { "Requirements" }
                    table.requirements {
                        tr { th { "requirement" } th { "level" } th { "verdict" } th { "judged" } th { "summary" } }
                        @for q in &c.requirements {
                            @let (class, word) = verdict_class(q.verdict);
                            tr {
                                td { code { (q.id) } }
                                td { (q.level) }
                                td class=(class) { (word) }
                                td { (q.checked) }
                                td {
                                    (q.summary)
                                    @for e in &q.failures {
                                        br; small { (e.workflow.name()) " / " (line(&e.condition)) ": " (line(&e.detail)) }
                                    }
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
