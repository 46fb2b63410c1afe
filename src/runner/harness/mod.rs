//! `regverify run`: settings, the scenarios selected and run on a few threads, and the
//! closing summary with the conformance statement. The registry is given as a URL: the CLI starts the
//! embedded reference when the user names none.

mod outcome;
mod positional;
mod schedule;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;

use super::client::{Client, display_url};
use super::corpus::Corpus;
use super::error::RunError;
use super::exec::{RunContext, Verdict};
use super::foreign::ForeignUrls;
use super::loader::{self, Specs};

pub use super::report::transcript;
pub use outcome::failure_text;
pub use positional::refuse_bare_host;
use schedule::Progress;
pub use settings::{ConnectionArgs, RunArgs, take_credentials};

/// A registry started for this run by the caller (the embedded reference), as opposed to
/// one the user named.
pub struct Embedded {
    pub url: Url,
}

/// Runs the scenarios. `embedded`: the registry the caller started because the user named
/// none (see [`RunArgs::wants_embedded_registry`]). Exit code 0 when nothing failed or
/// errored (or the run matches its baseline), 1 otherwise, 2 when nothing was judged; what
/// stops the run before any verdict (spec files, settings, an unreachable registry) is the error, for the caller to
/// report.
pub fn run(mut args: RunArgs, embedded: Option<Embedded>) -> Result<ExitCode, RunError> {
    args.normalize()?;
    let (corpus, specs) = load_specs(
        args.specs.as_deref(),
        args.specs_mode,
        args.fixtures.as_deref(),
        ForeignUrls::from_flag(args.allow_foreign_urls),
    )?;
    if args.check {
        let testable = specs
            .requirements
            .values()
            .filter(|r| r.untestable.is_none())
            .count();
        println!(
            "spec files OK: {} requirements ({testable} testable), {} profiles, {} scenarios",
            specs.requirements.len(),
            specs.profiles.len(),
            specs.scenarios.len()
        );
        if let Some(changes) = super::overlay::changes(&corpus) {
            println!("{changes}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    run_checked(&args, &specs, embedded)
}

fn run_checked(
    args: &RunArgs,
    specs: &Arc<Specs>,
    embedded: Option<Embedded>,
) -> Result<ExitCode, RunError> {
    let expectations = match &args.expect {
        None => None,
        Some(p) => Some(super::expect::load(p, specs)?),
    };
    let settings = settings::settings(args, specs)?;
    schedule::check_patterns(specs, &settings, &name_filter(args))?;
    let is_embedded = settings.url.is_none() && embedded.is_some();
    let base = match (&settings.url, embedded) {
        (Some(u), _) => u.clone(),
        (None, Some(e)) => e.url,
        // listing needs no registry
        (None, None) => Url::parse("http://127.0.0.1/").expect("static URL"),
    };
    if args.list {
        let names = name_filter(args);
        // the listing format of libtest, which tools that drive test binaries read
        for s in &schedule::select(specs, &settings, &names).scenarios {
            println!("{}: test", s.name());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let progress = if args.verbose {
        Progress::Lines
    } else {
        Progress::Marks
    };
    let judged = judge(args, specs, &settings, &base, is_embedded, progress)?;
    let (report, results) = (&judged.report, &judged.results);
    for r in results {
        if matches!(r.verdict, Verdict::Fail | Verdict::Error) {
            println!("\n{}", failure_text(specs, r));
            let entry = report.scenarios.iter().find(|s| s.name == r.name);
            if let Some(c) = entry.and_then(|s| s.not_claimed) {
                println!(
                    "  not charged: {} answers as absent and is not claimed (--claim {})",
                    c.title(),
                    c.slug()
                );
            }
        }
    }
    outcome::print_summary(report, judged.not_selected, judged.took);
    let mut outputs = super::report::Outputs {
        junit: args.junit.clone(),
        json: args.json.clone(),
        html: args.html.clone(),
        markdown: args.markdown.clone(),
    };
    if let Some(dir) = args
        .report_dir
        .clone()
        .or_else(|| settings::env("OCI_REPORT_DIR").map(PathBuf::from))
        .or_else(|| settings::env("OCI_RESULTS_DIR").map(PathBuf::from))
    {
        outputs = outputs.in_dir(&dir);
    }
    if outputs.any() {
        for (p, n) in outputs.write(report)? {
            println!("report: {} ({n} bytes)", p.display());
        }
    }
    if let (Some(e), Some(path)) = (&expectations, &args.expect) {
        let diff = super::expect::compare(e, specs, results);
        let to_fill = e
            .failures
            .iter()
            .map(|x| &x.reason)
            .chain(e.errors.iter().map(|x| &x.reason))
            .filter(|r| r.starts_with(super::baseline::TO_FILL))
            .count();
        if to_fill > 0 {
            println!(
                "expectations: {to_fill} reason(s) in {} still to fill in (marked {})",
                path.display(),
                super::baseline::TO_FILL
            );
        }
        if diff.is_empty() {
            println!(
                "expectations: the run matches {} ({} known failures, {} known errors)",
                path.display(),
                e.failures.len(),
                e.errors.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        println!("expectations: the run differs from the baseline:");
        for d in diff {
            // names and reasons of the baseline, with what the registry sent in them
            println!("  {}", super::sanitize::line(&d.to_string()));
        }
        println!("{}", refresh_hint(path, outputs.json.as_deref()));
        return Ok(ExitCode::from(1));
    }
    // a run that judged nothing proves nothing: never a success, whatever caused it
    if report.conformance.standing == super::report::RunStanding::NothingJudged {
        return Ok(ExitCode::from(2));
    }
    Ok(if report.findings() || report.scenarios_summary.error > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The command that makes the baseline match this run (its stale entries dropped, its new
/// failures listed with reasons to fill in), from the results file the run wrote if any.
fn refresh_hint(expect: &std::path::Path, json: Option<&std::path::Path>) -> String {
    match json {
        Some(j) => format!(
            "to accept this run as the baseline (reasons kept, new ones to fill in): \
             regverify baseline {} --update {}",
            j.display(),
            expect.display()
        ),
        None => format!(
            "to accept this run as the baseline (reasons kept, new ones to fill in): rerun \
             with --json results.json, then regverify baseline results.json --update {}",
            expect.display()
        ),
    }
}

fn name_filter(args: &RunArgs) -> schedule::NameFilter<'_> {
    schedule::NameFilter {
        filter: args.filter.as_deref(),
        skip: &args.skip,
        exact: args.exact,
    }
}

/// The corpus (embedded, with the directories given laid over it or replacing it) checked
/// and planned.
pub(crate) fn load_specs(
    specs: Option<&std::path::Path>,
    mode: super::corpus::SpecsMode,
    fixtures: Option<&std::path::Path>,
    foreign_urls: ForeignUrls,
) -> Result<(Corpus, Arc<Specs>), RunError> {
    let corpus = Corpus::open(specs, mode, fixtures)?.with_foreign_urls(foreign_urls);
    let mut specs = loader::load_corpus(&corpus).map_err(RunError::SpecFiles)?;
    specs.corpus = Some(corpus.identity()?);
    Ok((corpus, Arc::new(specs)))
}

/// A run judged: its report, the scenarios' results, how long it took.
pub(crate) struct Judged {
    pub report: super::report::Report,
    pub results: Vec<super::exec::ScenarioResult>,
    /// Scenarios of the profile the filters left out.
    pub not_selected: usize,
    pub took: Duration,
}

/// Checks the registry answers (preflight), runs the selected scenarios and builds the
/// report. Prints the run's first line and progress unless `progress` is silent.
fn judge(
    args: &RunArgs,
    specs: &Arc<Specs>,
    settings: &settings::Settings,
    base: &Url,
    is_embedded: bool,
    progress: Progress,
) -> Result<Judged, RunError> {
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );
    let client = Client::new(
        args.connection
            .client_config(base, settings.credentials.clone()),
    )?;
    rt.block_on(client.preflight(base))?;
    let mut tag = [0u8; 3];
    getrandom::fill(&mut tag).map_err(|e| RunError::Random(e.to_string()))?;
    let ctx = Arc::new(RunContext {
        client,
        base: base.clone(),
        namespace: settings.namespace.clone(),
        crossmount: settings.crossmount.clone(),
        seed: settings.seed,
        run_tag: crate::oci::digest::hex(&tag),
        fixtures: specs.fixtures.clone(),
        // Warning headers are v1.1.1 text: every profile from oci-1.1 on judges them
        check_warnings: specs.profile_closure(&settings.profile).contains("oci-1.1"),
        judge_main: specs
            .profile_closure(&settings.profile)
            .contains("oci-next"),
        error_codes: specs.code_table(&settings.profile),
        cleanup: !args.no_cleanup,
        foreign_urls: specs.foreign_urls,
    });
    if progress != Progress::Silent {
        println!(
            "regverify {} · registry {}{} · profile {} · seed {}",
            env!("CARGO_PKG_VERSION"),
            display_url(base),
            if is_embedded {
                " (embedded reference)"
            } else {
                ""
            },
            settings.profile,
            settings.seed
        );
    }
    let names = name_filter(args);
    let selection = schedule::select(specs, settings, &names);
    let started = Instant::now();
    let results = schedule::run_all(
        &selection.scenarios,
        &ctx,
        &rt,
        args.test_threads,
        progress,
        settings.debug,
    );
    let took = started.elapsed();
    let report = super::report::Report::build(
        specs,
        &display_url(base),
        &settings.profile,
        settings.seed,
        took.as_millis() as u64,
        &results,
        &settings.claims,
    );
    Ok(Judged {
        report,
        results,
        not_selected: selection.not_selected,
        took,
    })
}

/// One run without output, as `matrix` makes them side by side: `args.url` names the
/// registry (credentials in it are used and never shown).
pub(crate) fn judge_silently(args: &RunArgs, specs: &Arc<Specs>) -> Result<Judged, RunError> {
    let settings = settings::settings(args, specs)?;
    let Some(base) = settings.url.clone() else {
        return Err(RunError::Url {
            url: String::new(),
            reason: "a registry URL is needed".into(),
        });
    };
    judge(args, specs, &settings, &base, false, Progress::Silent)
}
