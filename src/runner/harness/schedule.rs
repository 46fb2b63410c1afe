//! Which scenarios a run selects, and running them on a few threads with one character (or
//! line) of progress each. The run prints its own progress and summary, so every count it
//! shows comes from the scenarios' verdicts: an error is an `E`, never a failure.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use colored::Colorize;

use super::settings::Settings;
use crate::runner::error::RunError;
use crate::runner::exec::{self, RunContext, ScenarioResult, Verdict};
use crate::runner::loader::Specs;
use crate::runner::plan::Scenario;
use crate::runner::report::transcript;

/// How scenarios are picked by name, as libtest picks tests: a scenario runs when its name
/// contains the filter (equals it, with `exact`) and matches none of the skips.
pub(super) struct NameFilter<'a> {
    pub filter: Option<&'a str>,
    pub skip: &'a [String],
    pub exact: bool,
}

impl NameFilter<'_> {
    fn matches(&self, pattern: &str, name: &str) -> bool {
        if self.exact {
            name == pattern
        } else {
            name.contains(pattern)
        }
    }

    pub(super) fn keeps(&self, name: &str) -> bool {
        self.filter.is_none_or(|f| self.matches(f, name))
            && !self.skip.iter().any(|s| self.matches(s, name))
    }
}

/// Refuses a filter or a skip that matches no scenario of the profile: a typo in either
/// would otherwise run nothing, or everything, and the run would still pass.
pub(super) fn check_patterns(
    specs: &Specs,
    settings: &Settings,
    names: &NameFilter<'_>,
) -> Result<(), RunError> {
    let in_profile: Vec<String> = specs
        .scenarios
        .iter()
        .filter(|s| specs.in_profile(s, &settings.profile))
        .map(|s| s.name())
        .collect();
    let flag = if names.exact {
        "--exact filter"
    } else {
        "filter"
    };
    let patterns = names
        .filter
        .map(|f| (flag, f))
        .into_iter()
        .chain(names.skip.iter().map(|s| ("--skip", s.as_str())));
    for (flag, pattern) in patterns {
        if !in_profile.iter().any(|n| names.matches(pattern, n)) {
            return Err(RunError::NoScenarioMatches {
                flag,
                pattern: pattern.to_string(),
                profile: settings.profile.clone(),
            });
        }
    }
    Ok(())
}

/// The scenarios of a run, in corpus order, and how many of the profile were left out.
pub(super) struct Selection<'s> {
    pub scenarios: Vec<&'s Scenario>,
    /// In the profile but left out by the name filter or the workflows chosen.
    pub not_selected: usize,
}

pub(super) fn select<'s>(
    specs: &'s Specs,
    settings: &Settings,
    names: &NameFilter<'_>,
) -> Selection<'s> {
    let mut scenarios = vec![];
    let mut not_selected = 0;
    for s in specs
        .scenarios
        .iter()
        .filter(|s| specs.in_profile(s, &settings.profile))
    {
        let workflow_chosen = settings
            .workflows
            .as_ref()
            .is_none_or(|ws| s.workflows.iter().any(|w| ws.contains(w)));
        if workflow_chosen && names.keeps(&s.name()) {
            scenarios.push(s);
        } else {
            not_selected += 1;
        }
    }
    Selection {
        scenarios,
        not_selected,
    }
}

/// How a run shows its scenarios ending: a mark each, a line each (`--verbose`), or nothing
/// (runs side by side, as `matrix` makes them, each print their summary once done).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Marks,
    Lines,
    Silent,
}

/// The progress mark of a verdict: `.` pass, `F` fail, `E` error, `s` skip.
pub(super) fn mark(v: Verdict) -> char {
    match v {
        Verdict::Pass => '.',
        Verdict::Fail => 'F',
        Verdict::Error => 'E',
        Verdict::Skip => 's',
    }
}

fn coloured_mark(v: Verdict) -> String {
    let m = mark(v).to_string();
    match v {
        Verdict::Pass => m.green().to_string(),
        Verdict::Fail => m.red().to_string(),
        Verdict::Error => m.yellow().to_string(),
        Verdict::Skip => m,
    }
}

fn verbose_line(r: &ScenarioResult) -> String {
    let word = match r.verdict {
        Verdict::Pass => "pass".green().to_string(),
        Verdict::Fail => "FAIL".red().to_string(),
        Verdict::Error => "ERROR".yellow().to_string(),
        Verdict::Skip => format!("skip ({})", r.skip_reason.as_deref().unwrap_or("")),
    };
    format!("scenario {} ... {word}", r.name)
}

/// Runs the scenarios on `threads` threads sharing the runtime; returns their results in
/// the order given, whatever order they finished in.
pub(super) fn run_all(
    scenarios: &[&Scenario],
    ctx: &RunContext,
    rt: &tokio::runtime::Runtime,
    threads: usize,
    progress: Progress,
    debug: bool,
) -> Vec<ScenarioResult> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<ScenarioResult>>> = Mutex::new(vec![None; scenarios.len()]);
    // one lock for the terminal, so marks and debug transcripts never interleave
    let out = Mutex::new(());
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(s) = scenarios.get(i) else { break };
            let r = rt.block_on(exec::run(ctx, s));
            {
                let _held = out.lock().unwrap_or_else(|p| p.into_inner());
                if debug {
                    eprintln!("{}", format!("── {} ({} ms)", r.name, r.millis).bold());
                    eprint!("{}", transcript(&r.exchanges));
                }
                let mut stdout = std::io::stdout().lock();
                match progress {
                    Progress::Lines => {
                        let _ = writeln!(stdout, "{}", verbose_line(&r));
                    }
                    Progress::Marks => {
                        let _ = write!(stdout, "{}", coloured_mark(r.verdict));
                    }
                    Progress::Silent => {}
                }
                let _ = stdout.flush();
            }
            done.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, scenarios.len().max(1)) {
            scope.spawn(worker);
        }
    });
    if progress == Progress::Marks && !scenarios.is_empty() {
        println!();
    }
    done.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_pick_names_as_libtest_does() {
        let skip = vec!["chunk".to_string()];
        let f = NameFilter {
            filter: Some("push::"),
            skip: &skip,
            exact: false,
        };
        assert!(f.keeps("push::monolithic"));
        assert!(!f.keeps("push::chunk-out-of-order"));
        assert!(!f.keeps("pull::blob-get"));
        let exact = NameFilter {
            filter: Some("push::monolithic"),
            skip: &[],
            exact: true,
        };
        assert!(exact.keeps("push::monolithic"));
        assert!(!exact.keeps("push::monolithic-2"));
        let none = NameFilter {
            filter: None,
            skip: &[],
            exact: false,
        };
        assert!(none.keeps("anything"));
    }

    #[test]
    fn an_error_has_its_own_mark() {
        let marks: Vec<char> = [Verdict::Pass, Verdict::Fail, Verdict::Error, Verdict::Skip]
            .into_iter()
            .map(mark)
            .collect();
        assert_eq!(marks, ['.', 'F', 'E', 's']);
    }
}
