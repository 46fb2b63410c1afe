//! The explorer's progress on stderr: a bar on a terminal (operations done of those asked,
//! or time spent of the duration asked, with operations/s), a line every few seconds
//! elsewhere, so a CI log shows the run moving without filling up.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the run stops at; the bar measures against it.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    Ops(u64),
    Time(Duration),
}

/// Lines written when stderr is no terminal: one per this long.
const LINE_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    goal: Goal,
    /// When the last line was written (no terminal).
    shown: Duration,
}

impl Progress {
    pub fn new(goal: Goal) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (len, template) = match goal {
                Goal::Ops(n) => (n, "{bar:32} {pos}/{len} operations, {msg}"),
                Goal::Time(d) => (d.as_secs().max(1), "{bar:32} {msg} ({elapsed} of {len}s)"),
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(style)
        });
        Progress {
            bar,
            goal,
            shown: Duration::ZERO,
        }
    }

    /// `done` operations after `elapsed`.
    pub fn update(&mut self, done: u64, elapsed: Duration) {
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
        match &self.bar {
            Some(bar) => {
                bar.set_position(match self.goal {
                    Goal::Ops(_) => done,
                    Goal::Time(_) => elapsed.as_secs(),
                });
                bar.set_message(match self.goal {
                    Goal::Ops(_) => format!("{rate:.0} ops/s"),
                    Goal::Time(_) => format!("{done} operations, {rate:.0} ops/s"),
                });
            }
            None if elapsed >= self.shown + LINE_EVERY => {
                self.shown = elapsed;
                eprintln!("{done} operations, {rate:.0} ops/s");
            }
            None => {}
        }
    }

    /// Clears the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
