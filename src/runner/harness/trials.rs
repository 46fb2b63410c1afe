//! One libtest-mimic trial per scenario of the profile.

use std::sync::{Arc, Mutex};

use colored::Colorize;
use libtest_mimic::{Completion, Failed, Trial};

use super::outcome::failure_text;
use super::settings::Settings;
use crate::runner::exec::{self, RunContext, ScenarioResult, Verdict};
use crate::runner::loader::Specs;
use crate::runner::report::transcript;

pub(super) fn trials(
    specs: &Arc<Specs>,
    settings: &Settings,
    ctx: &Arc<RunContext>,
    rt: &Arc<tokio::runtime::Runtime>,
    results: &Arc<Mutex<Vec<ScenarioResult>>>,
) -> Vec<Trial> {
    let mut out = vec![];
    for (i, ls) in specs.scenarios.iter().enumerate() {
        if !specs.in_profile(ls, &settings.profile) {
            continue;
        }
        let selected = settings
            .workflows
            .as_ref()
            .is_none_or(|ws| ls.workflows.iter().any(|w| ws.contains(w)));
        let name = ls.name();
        if !selected {
            out.push(
                Trial::test(name, || Ok(()))
                    .with_ignored_flag(true)
                    .with_kind("not selected"),
            );
            continue;
        }
        let (specs, ctx, rt, results) = (specs.clone(), ctx.clone(), rt.clone(), results.clone());
        let debug = settings.debug;
        out.push(Trial::ignorable_test(name, move || {
            let ls = &specs.scenarios[i];
            let r = rt.block_on(exec::run(&ctx, ls));
            if debug {
                eprintln!("{}", format!("── {} ({} ms)", r.name, r.millis).bold());
                eprint!("{}", transcript(&r.exchanges));
            }
            let outcome = match r.verdict {
                Verdict::Pass => Ok(Completion::Completed),
                Verdict::Skip => Ok(Completion::ignored_with(
                    r.skip_reason.clone().unwrap_or_default(),
                )),
                Verdict::Fail | Verdict::Error => Err(Failed::from(failure_text(&specs, &r))),
            };
            results.lock().unwrap().push(r);
            outcome
        }));
    }
    out
}
