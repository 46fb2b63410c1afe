//! One self-contained HTML page: no remote assets, works from disk. Everything from a
//! registry is escaped by maud.

use crate::runner::model::level_text;
use maud::{DOCTYPE, Markup, PreEscaped, html as h};

use super::transcript;
use super::{CategoryState, Counts, Report};
use crate::runner::exec::{Outcome, Verdict};

pub const STYLE: &str = r#"
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em}
.statement{font-size:1.1em;padding:.6em .9em;border-radius:6px;background:#eef}
.statement.ok{background:#e3f6e3} .statement.bad{background:#fbe5e5}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.pass{color:#17692b}.fail{color:#b3261e;font-weight:600}.error{color:#9a5b00;font-weight:600}.skip{color:#777}
pre{background:#f6f6f6;padding:.7em;overflow-x:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
nav button{margin-right:.4em;padding:.3em .8em;border:1px solid #aaa;border-radius:4px;background:#fff;cursor:pointer}
nav button.on{background:#333;color:#fff}
body.only-fail tr.row:not(.v-fail), body.only-error tr.row:not(.v-error), body.only-skip tr.row:not(.v-skip), body.only-pass tr.row:not(.v-pass){display:none}
small{color:#666}
"#;

const SCRIPT: &str = r#"
function only(v){document.body.className=v?'only-'+v:'';for(const b of document.querySelectorAll('nav button'))b.classList.toggle('on',b.dataset.v===v);}
"#;

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Skip => "skip",
    }
}

/// A requirement's outcome as a class name and a word.
fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::NotVerified => "not-verified",
        o => o.as_str(),
    }
}

/// A category's state as a class name, coloured like the outcomes.
fn category_class(s: CategoryState) -> &'static str {
    match s {
        CategoryState::Conformant => "pass",
        CategoryState::Failing => "fail",
        CategoryState::Incomplete => "error",
        CategoryState::NotImplemented | CategoryState::NotJudged => "skip",
    }
}

fn counts_row(label: &str, c: &Counts) -> Markup {
    h! {
        tr {
            th { (label) }
            td.pass { (c.pass) " passed" }
            td.fail { (c.fail) " failed" }
            td.error { (c.error) " errors" }
            td.skip { (c.not_verified) " not verified" }
            td.skip { (c.skip) " skipped" }
            td.skip { (c.not_claimed) " not claimed" }
        }
    }
}

pub fn html(r: &Report) -> String {
    let ok = r.conformance.conformant;
    let page = h! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "regverify report — " (r.registry) }
                style { (PreEscaped(STYLE)) }
                script { (PreEscaped(SCRIPT)) }
            }
            body {
                h1 { "regverify report" }
                p { small { "registry " code { (r.registry) } " · profile " (r.profile) " · seed " (r.seed)
                    " · " (format!("{:.1}", r.duration_ms as f64 / 1000.0)) " s · regverify " (r.version) } }
                p.statement.ok[ok].bad[!ok] id="statement" { (r.conformance.statement) }
                h2 { "By category" }
                table id="categories" {
                    @for c in &r.conformance.categories {
                        tr {
                            th { (c.title) }
                            td class=(category_class(c.state)) { (c.text) }
                            td { small { @if c.claimed { "claimed" } @else { "not claimed" } } }
                        }
                    }
                }
                h2 { "By level" }
                table id="levels" {
                    @for level in ["MUST", "SHOULD", "MAY"] {
                        @if let Some(c) = r.levels.get(level) {
                            @let label = if level == "MAY" { "MAY (supported)" } else { level };
                            (counts_row(label, c))
                        }
                    }
                }
                h2 { "By workflow" }
                table {
                    @for (w, c) in &r.workflows { (counts_row(w, c)) }
                }
                h2 { "Requirements" }
                nav {
                    button.on data-v="" onclick="only('')" { "all" }
                    button data-v="fail" onclick="only('fail')" { "failed" }
                    button data-v="error" onclick="only('error')" { "errors" }
                    button data-v="skip" onclick="only('skip')" { "not run" }
                    button data-v="pass" onclick="only('pass')" { "passed" }
                }
                table id="requirements" {
                    tr { th { "requirement" } th { "level" } th { "category" } th { "outcome" } th { "summary" } th { "scenarios" } }
                    @for q in &r.requirements {
                        @let class = if q.claimed { outcome_class(q.verdict) } else { "not-claimed" };
                        tr class=(format!("row v-{class}")) {
                            td { a href=(q.spec) { code { (q.id) } } }
                            td { (level_text(q.level, q.when.as_deref())) }
                            td { (q.category.title()) }
                            td class=(class) { (q.verdict_text()) }
                            td { (q.summary) }
                            td { small { (q.scenarios.join(", ")) } }
                        }
                    }
                }
                h2 { "Scenarios" }
                table id="scenarios" {
                    tr { th { "scenario" } th { "outcome" } th { "details" } }
                    @for s in &r.scenarios {
                        tr class=(format!("row v-{}", verdict_word(s.verdict))) {
                            td { code { (s.name) } br; small { (s.title) } }
                            td class=(verdict_word(s.verdict)) { (verdict_word(s.verdict)) }
                            td {
                                @if let Some(reason) = &s.skip_reason { small { (reason) } }
                                @if let Some(msg) = &s.message {
                                    details class="failure" {
                                        summary {
                                            @if let Some(q) = &s.failed_requirement { code { (q) } ": " }
                                            (msg.lines().next().unwrap_or(""))
                                        }
                                        p { small { "step " (s.step.as_deref().unwrap_or("")) " at " (s.source.as_deref().unwrap_or("")) } }
                                        @if s.failures.is_empty() {
                                            pre { (msg) }
                                        } @else {
                                            table class="checks" {
                                                tr { th { "requirement" } th { "check" } th { "expected" } th { "got" } th { "at" } }
                                                @for c in &s.failures {
                                                    tr {
                                                        td { code { (c.requirement.as_deref().unwrap_or("")) } " " small { (level_text(c.level, c.when.as_deref())) } }
                                                        td { (c.query) }
                                                        td class="expected" { code { (c.expected) } }
                                                        td class="got" { code { (c.got) } }
                                                        td { small { (c.source) } }
                                                    }
                                                }
                                            }
                                        }
                                        pre class="transcript" { (transcript(&s.failing_exchanges)) }
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
