//! `explore`: random operation sequences against a registry (the embedded reference when no
//! URL is given), judged against a model; a discrepancy is shrunk and written as a scenario
//! `run --specs DIR` replays. Exit 1 on a discrepancy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use regverify::runner::client::{Client, Credentials};
use regverify::runner::explore::{self, Outcome, Settings, scenario};
use reqwest::Url;

use super::error::{CliError, Outcome as Exit};
use super::progress::{Goal, Progress};
use super::reference::Reference;

#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// Registry base URL (credentials from the URL or OCI_USERNAME / OCI_PASSWORD); the
    /// embedded reference when absent.
    pub url: Option<String>,
    /// Seed of the operation sequence: the same seed sends the same operations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Operations to send [default: 1000, unless --duration is given].
    #[arg(long)]
    pub ops: Option<u64>,
    /// Stop after this long (seconds, or with units: 90s, 5m, 1h 30m); with --ops, at
    /// whichever comes first.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Operations in flight at once; answers are judged by linearizability.
    #[arg(long, default_value_t = 1)]
    pub clients: usize,
    /// Namespace of the repositories explored.
    #[arg(long, default_value = "explore")]
    pub namespace: String,
    /// Where a discrepancy's scenario is written (a directory `run --specs` takes).
    #[arg(long, default_value = "explore-found")]
    pub out: PathBuf,
    /// Replays of a concurrent sequence: while shrinking, a candidate counts when it shows
    /// in one of them; the result says in how many of them it showed.
    #[arg(long, default_value_t = 5)]
    pub tries: usize,
    /// A requirement whose discrepancies are known: each is counted and stepped over when a
    /// read showed it (repeatable).
    #[arg(long, value_name = "REQUIREMENT")]
    pub tolerate: Vec<String>,
    /// Report a discrepancy as found, without shrinking it.
    #[arg(long)]
    pub no_shrink: bool,
    #[command(flatten)]
    pub connection: regverify::runner::harness::ConnectionArgs,
    /// Write the result as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the result as JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExploreCliError {
    #[error("bad URL {0}: {1}")]
    Url(String, url::ParseError),
    #[error(transparent)]
    Positional(#[from] regverify::runner::error::RunError),
    #[error("client: {0}")]
    Client(#[from] regverify::runner::client::ClientError),
    #[error(transparent)]
    Explore(#[from] explore::ExploreError),
    #[error(transparent)]
    Write(#[from] scenario::WriteError),
    #[error("writing {0}: {1}")]
    Report(PathBuf, std::io::Error),
}

/// Bare digits are seconds; anything else as `humantime` reads it (`90s`, `5m`, `1h 30m`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| format!("not a duration: {s:?} ({e})"))
}

/// Operations asked for: `--ops`, else as many as `--duration` allows, else 1,000.
fn ops_asked(args: &ExploreArgs) -> u64 {
    match (args.ops, args.duration) {
        (Some(n), _) => n,
        (None, Some(_)) => u64::MAX,
        (None, None) => 1000,
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn explore(args: ExploreArgs) -> Result<ExitCode, CliError> {
    // the embedded reference runs on its own runtime, stopped when dropped
    let reference = match &args.url {
        Some(_) => None,
        None => Some(Reference::start()?),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let result = rt.block_on(run(&args, reference.as_ref().map(|r| r.url().clone())));
    drop(reference);
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

async fn run(args: &ExploreArgs, embedded: Option<Url>) -> Result<ExitCode, ExploreCliError> {
    let mut credentials = env("OCI_USERNAME").map(|u| Credentials {
        username: u,
        password: env("OCI_PASSWORD").unwrap_or_default(),
    });
    let base = match (&args.url, embedded) {
        (_, Some(u)) => u,
        (Some(raw), None) => {
            regverify::runner::harness::refuse_bare_host(raw)?;
            let mut u = Url::parse(raw).map_err(|e| {
                ExploreCliError::Url(regverify::runner::redact::userinfo_cut(raw), e)
            })?;
            if let Some(c) = regverify::runner::harness::take_credentials(&mut u) {
                credentials = Some(c);
            }
            if !u.path().ends_with('/') {
                let p = format!("{}/", u.path());
                u.set_path(&p);
            }
            u
        }
        (None, None) => unreachable!("the embedded reference stands in for a missing URL"),
    };
    let client = Client::new(args.connection.client_config(&base, credentials))?;
    let settings = Settings {
        seed: args.seed,
        ops: ops_asked(args),
        duration: args.duration,
        clients: args.clients.max(1),
        namespace: args.namespace.clone(),
        tries: args.tries,
        shrink: !args.no_shrink,
        tolerate: args.tolerate.clone(),
        ..Settings::default()
    };
    eprintln!(
        "exploring {} (seed {}, {} client{})",
        regverify::runner::client::display_url(&base),
        settings.seed,
        settings.clients,
        if settings.clients == 1 { "" } else { "s" }
    );
    let mut progress = Progress::new(match (args.ops, args.duration) {
        (None, Some(d)) => Goal::Time(d),
        _ => Goal::Ops(settings.ops),
    });
    let outcome = explore::explore(&client, &base, &settings, &mut |done, elapsed| {
        progress.update(done, elapsed)
    })
    .await;
    progress.finish();
    let outcome = outcome?;
    let written = match &outcome.finding {
        Some(f) => Some(scenario::write(&args.out, f, args.seed)?),
        None => None,
    };
    print_outcome(args, &outcome, written.as_ref());
    if let Some(path) = &args.json {
        std::fs::write(path, json(args, &outcome, written.as_ref()))
            .map_err(|e| ExploreCliError::Report(path.clone(), e))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(args, &outcome))
            .map_err(|e| ExploreCliError::Report(path.clone(), e))?;
    }
    Ok(if outcome.finding.is_some() {
        Exit::Findings
    } else {
        Exit::Ok
    }
    .into())
}

fn print_outcome(args: &ExploreArgs, o: &Outcome, written: Option<&scenario::Written>) {
    println!(
        "{} operations in {:.1}s ({:.0} ops/s)",
        o.ops,
        o.elapsed.as_secs_f64(),
        o.ops_per_second()
    );
    let shown: Vec<String> = o
        .behaviours
        .iter()
        .map(|(what, seen)| format!("{what}: {seen}"))
        .collect();
    println!("behaviours the spec leaves open: {}", shown.join(", "));
    for (d, n) in &o.tolerated {
        println!(
            "known [{}] stepped over {n} time(s), first: {}",
            d.requirement, d.message
        );
    }
    let Some(f) = &o.finding else {
        println!("no discrepancy");
        return;
    };
    println!(
        "DISCREPANCY after {} operations [{}]: {}",
        f.after_ops, f.discrepancy.requirement, f.discrepancy.message
    );
    println!("shortest sequence found ({} operations):", f.op_count());
    let steps = f.steps();
    // an unshrunk sequence can be long: its start and its end tell the story
    for (i, s) in steps.iter().enumerate() {
        if steps.len() <= 40 || i < 10 || i + 20 >= steps.len() {
            println!("  {}. {s}", i + 1);
        } else if i == 10 {
            println!("  … {} more …", steps.len() - 30);
        }
    }
    if let Some((hits, tries)) = f.reproduced {
        println!("concurrent: it showed in {hits} of {tries} replays");
    }
    if let Some(w) = written {
        println!("scenario written to {}", w.file.display());
        // the URL as given may hold the password: shown without it (the replay takes it
        // from OCI_USERNAME / OCI_PASSWORD, as a run does)
        let url = args.url.as_deref().and_then(|u| Url::parse(u).ok());
        let shown = url
            .as_ref()
            .map(|u| format!(" {}", regverify::runner::client::display_url(u)))
            .unwrap_or_default();
        let login = if url.is_some_and(|u| !u.username().is_empty()) {
            " (credentials from OCI_USERNAME and OCI_PASSWORD)"
        } else {
            ""
        };
        println!(
            "replay it: regverify run{shown} --specs {} --profile all{login}",
            w.dir.display()
        );
    }
}

fn json(args: &ExploreArgs, o: &Outcome, written: Option<&scenario::Written>) -> String {
    let finding = o.finding.as_ref().map(|f| {
        serde_json::json!({
            "requirement": f.discrepancy.requirement,
            "message": f.discrepancy.message,
            "after_ops": f.after_ops,
            "steps": f.steps(),
            "reproduced": f.reproduced.map(|(h, t)| serde_json::json!({ "hits": h, "tries": t })),
            "scenario": written.map(|w| w.file.display().to_string()),
        })
    });
    let behaviours: serde_json::Map<String, serde_json::Value> = o
        .behaviours
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "seed": args.seed,
        "clients": args.clients,
        "operations": o.ops,
        "seconds": o.elapsed.as_secs_f64(),
        "ops_per_second": o.ops_per_second(),
        "behaviours": behaviours,
        "tolerated": o.tolerated.iter().map(|(d, n)| serde_json::json!({
            "requirement": d.requirement, "count": n, "first": d.message,
        })).collect::<Vec<_>>(),
        "finding": finding,
    }))
    .unwrap_or_default()
}

fn junit(args: &ExploreArgs, o: &Outcome) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("regverify explore");
    let status = match &o.finding {
        None => TestCaseStatus::success(),
        Some(f) => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(format!(
                "[{}] {}",
                f.discrepancy.requirement, f.discrepancy.message
            ));
            st.set_description(f.steps().join("\n"));
            st
        }
    };
    let mut case = TestCase::new(format!("seed {} × {} operations", args.seed, o.ops), status);
    case.set_time(o.elapsed);
    suite.add_test_case(case);
    let mut report = Report::new("regverify");
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}
