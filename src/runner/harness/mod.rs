//! `regverify run`: settings, the scenarios selected and run on a few threads, and the
//! closing summary with the conformance statement. The registry is given as a URL: the CLI starts the
//! embedded reference when the user names none.

mod outcome;
mod schedule;
mod settings;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;

use super::client::{Client, ClientConfig, display_url};
use super::corpus::Corpus;
use super::error::RunError;
use super::exec::{RunContext, Verdict};
use super::loader::{self, Specs};

pub use super::report::transcript;
pub use outcome::failure_text;
pub use settings::RunArgs;

/// A registry started for this run by the caller (the embedded reference), as opposed to
/// one the user named.
pub struct Embedded {
    pub url: Url,
}

/// Runs the scenarios. `embedded`: the registry the caller started because the user named
/// none (see [`RunArgs::wants_embedded_registry`]). Exit code 0 when nothing failed or
/// errored (or the run matches its baseline), 1 otherwise; what stops the run before any
/// verdict (spec files, settings, an unreachable registry) is the error, for the caller to
/// report.
pub fn run(mut args: RunArgs, embedded: Option<Embedded>) -> Result<ExitCode, RunError> {
    args.normalize();
    let corpus = Corpus::open(
        args.specs.as_deref(),
        args.specs_mode,
        args.fixtures.as_deref(),
    )?;
    let specs = Arc::new(loader::load_corpus(&corpus).map_err(RunError::SpecFiles)?);
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
    let is_embedded = settings.url.is_none() && embedded.is_some();
    let base = match (&settings.url, embedded) {
        (Some(u), _) => u.clone(),
        (None, Some(e)) => e.url,
        // listing needs no registry
        (None, None) => Url::parse("http://127.0.0.1/").expect("static URL"),
    };
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );
    let client = Client::new(ClientConfig {
        timeout: Duration::from_secs(args.timeout.max(1)),
        insecure: args.insecure,
        ca_file: args.ca_file.clone(),
        credentials: settings.credentials.clone(),
        ..ClientConfig::default()
    })?;
    if !args.list {
        rt.block_on(client.preflight(&base))?;
    }
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
        check_warnings: specs
            .profile_closure(&settings.profile)
            .contains("oci-next"),
        cleanup: !args.no_cleanup,
    });
    if !args.list {
        println!(
            "regverify {} · registry {}{} · profile {} · seed {}",
            env!("CARGO_PKG_VERSION"),
            display_url(&base),
            if is_embedded {
                " (embedded reference)"
            } else {
                ""
            },
            settings.profile,
            settings.seed
        );
    }
    let names = schedule::NameFilter {
        filter: args.filter.as_deref(),
        skip: &args.skip,
        exact: args.exact,
    };
    let selection = schedule::select(specs, &settings, &names);
    if args.list {
        // the listing format of libtest, which tools that drive test binaries read
        for s in &selection.scenarios {
            println!("{}: test", s.name());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let results = schedule::run_all(
        &selection.scenarios,
        &ctx,
        &rt,
        args.test_threads,
        args.verbose,
        settings.debug,
    );
    for r in &results {
        if matches!(r.verdict, Verdict::Fail | Verdict::Error) {
            println!("\n{}", failure_text(specs, r));
        }
    }
    let took = started.elapsed();
    let report = super::report::Report::build(
        specs,
        &display_url(&base),
        &settings.profile,
        settings.seed,
        took.as_millis() as u64,
        &results,
    );
    outcome::print_summary(&report, selection.not_selected, took);
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
        for (p, n) in outputs.write(&report)? {
            println!("report: {} ({n} bytes)", p.display());
        }
    }
    if let Some(e) = &expectations {
        let diff = super::expect::compare(e, specs, &results);
        if diff.is_empty() {
            println!(
                "expectations: the run matches {} ({} known failures, {} known errors)",
                args.expect
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                e.failures.len(),
                e.errors.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        println!("expectations: the run differs from the baseline:");
        for d in diff {
            println!("  {d}");
        }
        return Ok(ExitCode::from(1));
    }
    let found = results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error));
    Ok(if found {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
