//! `regverify run`: configuration (flags over the OCI conformance suite's environment), the
//! embedded reference registry when no URL is given, one libtest-mimic trial per scenario,
//! and the closing summary with the conformance statement.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use colored::Colorize;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use reqwest::Url;

use super::client::{Client, ClientConfig, Credentials, Exchange, display_url};
use super::corpus::Corpus;
use super::exec::{self, RunContext, ScenarioResult, Verdict};
use super::loader::{self, Specs};
use super::model::Workflow;

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Registry to verify (e.g. http://localhost:5000). Without it, the embedded reference
    /// registry is started on a temporary directory. [env: OCI_ROOT_URL, or OCI_REGISTRY + OCI_TLS]
    pub url: Option<String>,
    /// Only scenarios whose name contains this (libtest filter).
    pub filter: Option<String>,
    /// Repository namespace; each scenario works in `<namespace>/<scenario>-<run>`.
    /// [env: OCI_NAMESPACE or OCI_REPO1; default: regverify]
    #[arg(long)]
    pub namespace: Option<String>,
    /// Namespace of the second repository (mount sources). [env: OCI_CROSSMOUNT_NAMESPACE or OCI_REPO2]
    #[arg(long)]
    pub crossmount_namespace: Option<String>,
    /// Seed of generated content (printed at the start, to replay a run).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds allowed for each request, body included.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Accept any TLS certificate.
    #[arg(long)]
    pub insecure: bool,
    /// PEM file of extra CA certificates to trust.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Profile to certify against (see specs/profiles.yaml).
    #[arg(long)]
    pub profile: Option<String>,
    /// Only these workflows (repeatable). [env: OCI_TEST_PULL, OCI_TEST_PUSH,
    /// OCI_TEST_CONTENT_DISCOVERY, OCI_TEST_CONTENT_MANAGEMENT]
    #[arg(long = "workflow", value_enum)]
    pub workflows: Vec<WorkflowArg>,
    /// Print every exchange of every scenario. [env: OCI_DEBUG]
    #[arg(long)]
    pub debug: bool,
    /// Check the spec files and exit, without a registry.
    #[arg(long)]
    pub check: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// Match the filter exactly.
    #[arg(long)]
    pub exact: bool,
    /// Skip scenarios whose name contains this (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 8)]
    pub test_threads: usize,
    /// Keep what the scenarios pushed (by default each deletes its content when it ends,
    /// where the registry allows deletion).
    #[arg(long)]
    pub no_cleanup: bool,
    /// One line per scenario instead of one character.
    #[arg(long)]
    pub verbose: bool,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the machine-readable results (JSON) here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write a short Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write junit.xml, results.json and report.html into this directory.
    /// [env: OCI_REPORT_DIR or OCI_RESULTS_DIR]
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Baseline of known deviations: the run passes when its failures match it exactly.
    #[arg(long = "expect")]
    pub expect: Option<PathBuf>,
    /// Directory of spec files to use instead of the embedded ones.
    #[arg(long, value_name = "DIR")]
    pub specs: Option<PathBuf>,
    /// Directory of fixtures to use instead of the embedded ones.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkflowArg {
    Pull,
    Push,
    Discovery,
    Management,
    Referrers,
    Auth,
    Errors,
}

impl From<WorkflowArg> for Workflow {
    fn from(w: WorkflowArg) -> Workflow {
        match w {
            WorkflowArg::Pull => Workflow::Pull,
            WorkflowArg::Push => Workflow::Push,
            WorkflowArg::Discovery => Workflow::Discovery,
            WorkflowArg::Management => Workflow::Management,
            WorkflowArg::Referrers => Workflow::Referrers,
            WorkflowArg::Auth => Workflow::Auth,
            WorkflowArg::Errors => Workflow::Errors,
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_true(name: &str) -> bool {
    env(name)
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Starts the registry to verify when the run names none (the CLI's embedded reference).
pub type StartRegistry<'a> =
    &'a mut dyn FnMut() -> Result<Url, Box<dyn std::error::Error + Send + Sync>>;

/// Resolved settings of a run.
pub struct Settings {
    pub url: Option<Url>,
    pub credentials: Option<Credentials>,
    pub namespace: String,
    pub crossmount: Option<String>,
    pub seed: u64,
    pub profile: String,
    pub workflows: Option<Vec<Workflow>>,
    pub debug: bool,
}

pub fn settings(args: &RunArgs, specs: &Specs) -> Result<Settings, String> {
    let raw_url = args
        .url
        .clone()
        .or_else(|| env("OCI_ROOT_URL"))
        .or_else(|| {
            env("OCI_REGISTRY").map(|host| {
                let scheme = if env("OCI_TLS").is_some_and(|v| v == "false" || v == "0") {
                    "http"
                } else if env_true("OCI_TLS") || env("OCI_TLS").is_none() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{host}")
            })
        });
    let mut credentials = env("OCI_USERNAME").map(|u| Credentials {
        username: u,
        password: env("OCI_PASSWORD").unwrap_or_default(),
    });
    let url = match raw_url {
        None => None,
        Some(u) => {
            let mut url = Url::parse(&u).map_err(|e| format!("registry URL {u:?}: {e}"))?;
            if !url.username().is_empty() {
                credentials = Some(Credentials {
                    username: url.username().to_string(),
                    password: url.password().unwrap_or("").to_string(),
                });
                let _ = url.set_username("");
                let _ = url.set_password(None);
            }
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!(
                    "registry URL {}: only http and https",
                    display_url(&url)
                ));
            }
            Some(url)
        }
    };
    let namespace = args
        .namespace
        .clone()
        .or_else(|| env("OCI_NAMESPACE"))
        .or_else(|| env("OCI_REPO1"))
        .unwrap_or_else(|| "regverify".into());
    if !crate::oci::name::valid_name(&namespace) {
        return Err(format!(
            "namespace {namespace:?} is not a valid repository name"
        ));
    }
    let crossmount = args
        .crossmount_namespace
        .clone()
        .or_else(|| env("OCI_CROSSMOUNT_NAMESPACE"))
        .or_else(|| env("OCI_REPO2"));
    let seed = match args.seed {
        Some(s) => s,
        None => {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).map_err(|e| e.to_string())?;
            u64::from_le_bytes(b) % 1_000_000_000
        }
    };
    let profile = match &args.profile {
        Some(p) => p.clone(),
        None => specs.default_profile().unwrap_or("oci-1.1").to_string(),
    };
    if !specs.profiles.contains_key(&profile) {
        return Err(format!(
            "unknown profile {profile}; known: {}",
            specs
                .profiles
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut workflows: Vec<Workflow> = args.workflows.iter().map(|&w| w.into()).collect();
    if workflows.is_empty() {
        for (var, w) in [
            ("OCI_TEST_PULL", Workflow::Pull),
            ("OCI_TEST_PUSH", Workflow::Push),
            ("OCI_TEST_CONTENT_DISCOVERY", Workflow::Discovery),
            ("OCI_TEST_CONTENT_MANAGEMENT", Workflow::Management),
        ] {
            if env_true(var) {
                workflows.push(w);
            }
        }
    }
    Ok(Settings {
        url,
        credentials,
        namespace,
        crossmount,
        seed,
        profile,
        workflows: (!workflows.is_empty()).then_some(workflows),
        debug: args.debug || env_true("OCI_DEBUG"),
    })
}

pub fn run(mut args: RunArgs, start_registry: StartRegistry) -> ExitCode {
    // `run FILTER` without a URL: a first positional that is no URL is the filter.
    if let Some(u) = &args.url
        && !u.contains("://")
        && args.filter.is_none()
    {
        args.filter = args.url.take();
    }
    let corpus = match Corpus::from_dirs(args.specs.as_deref(), args.fixtures.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let fixtures = match corpus.fixtures_on_disk() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let fixtures_dir = fixtures.path().to_path_buf();
    let specs = match loader::load_corpus(&corpus, &fixtures_dir) {
        Ok(s) => Arc::new(s),
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}\n");
            }
            eprintln!(
                "{} problem(s) in the spec files; nothing was run",
                diags.len()
            );
            return ExitCode::from(2);
        }
    };
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
        return ExitCode::SUCCESS;
    }
    let expectations = match &args.expect {
        None => None,
        Some(p) => match super::expect::load(p, &specs) {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let settings = match settings(&args, &specs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );
    let mut embedded = false;
    let base = match &settings.url {
        Some(u) => u.clone(),
        None if args.list => Url::parse("http://127.0.0.1/").expect("static URL"),
        None => match start_registry() {
            Ok(u) => {
                embedded = true;
                u
            }
            Err(e) => {
                eprintln!("error: embedded registry: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let client = match Client::new(ClientConfig {
        timeout: Duration::from_secs(args.timeout.max(1)),
        insecure: args.insecure,
        ca_file: args.ca_file.clone(),
        credentials: settings.credentials.clone(),
        ..ClientConfig::default()
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.list
        && let Err(e) = rt.block_on(client.preflight(&base))
    {
        eprintln!("error: {e}\nnothing was run");
        return ExitCode::from(2);
    }
    let mut tag = [0u8; 3];
    let _ = getrandom::fill(&mut tag);
    let ctx = Arc::new(RunContext {
        client,
        base: base.clone(),
        namespace: settings.namespace.clone(),
        crossmount: settings.crossmount.clone(),
        seed: settings.seed,
        run_tag: crate::oci::digest::hex(&tag),
        fixtures: fixtures_dir.clone(),
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
            if embedded {
                " (embedded reference)"
            } else {
                ""
            },
            settings.profile,
            settings.seed
        );
    }
    let results: Arc<Mutex<Vec<ScenarioResult>>> = Arc::default();
    let trials = trials(&specs, &settings, &ctx, &rt, &results);
    let targs = Arguments {
        filter: args.filter.clone(),
        list: args.list,
        exact: args.exact,
        skip: args.skip.clone(),
        test_threads: Some(args.test_threads.max(1)),
        quiet: !args.verbose,
        ..Arguments::default()
    };
    let started = Instant::now();
    let conclusion = libtest_mimic::run(&targs, trials);
    if args.list {
        return ExitCode::SUCCESS;
    }
    let results = results.lock().unwrap().clone();
    let took = started.elapsed();
    let report = super::report::Report::build(
        &specs,
        &display_url(&base),
        &settings.profile,
        settings.seed,
        took.as_millis() as u64,
        &results,
    );
    print_summary(&report, took);
    let mut outputs = super::report::Outputs {
        junit: args.junit.clone(),
        json: args.json.clone(),
        html: args.html.clone(),
        markdown: args.markdown.clone(),
    };
    if let Some(dir) = args
        .report_dir
        .clone()
        .or_else(|| env("OCI_REPORT_DIR").map(PathBuf::from))
        .or_else(|| env("OCI_RESULTS_DIR").map(PathBuf::from))
    {
        outputs = outputs.in_dir(&dir);
    }
    if outputs.any() {
        match outputs.write(&report) {
            Ok(written) => {
                for (p, n) in written {
                    println!("report: {} ({n} bytes)", p.display());
                }
            }
            Err(e) => {
                eprintln!("error: writing reports: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(e) = &expectations {
        let diff = super::expect::compare(e, &specs, &results);
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
            return ExitCode::SUCCESS;
        }
        println!("expectations: the run differs from the baseline:");
        for d in diff {
            println!("  {d}");
        }
        return ExitCode::from(1);
    }
    if conclusion.has_failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn trials(
    specs: &Arc<Specs>,
    settings: &Settings,
    ctx: &Arc<RunContext>,
    rt: &Arc<tokio::runtime::Runtime>,
    results: &Arc<Mutex<Vec<ScenarioResult>>>,
) -> Vec<Trial> {
    let mut out = vec![];
    for (i, ls) in specs.scenarios.iter().enumerate() {
        if !specs.in_profile(&ls.scenario, &settings.profile) {
            continue;
        }
        let selected = settings
            .workflows
            .as_ref()
            .is_none_or(|ws| ls.scenario.workflows.iter().any(|w| ws.contains(w)));
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

/// The message of a failed or errored scenario: what broke, where, and the exchange.
pub fn failure_text(specs: &Specs, r: &ScenarioResult) -> String {
    let Some(f) = &r.finding else {
        return String::new();
    };
    let mut s = String::new();
    match r.verdict {
        Verdict::Fail => {
            let req = f.requirement.as_deref().unwrap_or("?");
            let detail = specs
                .requirements
                .get(req)
                .map(|q| {
                    format!(
                        "{} [{}] {} — {}",
                        req,
                        q.level.as_str(),
                        q.summary.trim(),
                        q.spec_url()
                    )
                })
                .unwrap_or_else(|| req.to_string());
            s.push_str(&format!("FAIL {}\n  requirement: {detail}\n", r.title));
        }
        _ => s.push_str(&format!(
            "ERROR {} (the run could not complete; not a verdict on the registry)\n",
            r.title
        )),
    }
    s.push_str(&format!("  step: {:?} at {}\n", f.step, f.source));
    for line in f.message.lines() {
        s.push_str(&format!("  {line}\n"));
    }
    s.push_str(&transcript(&f.transcript));
    s
}

/// Exchanges in the `> request / < response` form of curl -v.
pub fn transcript(ex: &[Exchange]) -> String {
    let mut s = String::new();
    for e in ex {
        s.push_str(&format!("  > {} {}\n", e.method, e.url));
        for (k, v) in &e.request_headers {
            s.push_str(&format!("  > {k}: {v}\n"));
        }
        body_lines(&mut s, "  >", &e.request_body);
        if let Some(err) = &e.error {
            s.push_str(&format!("  ! {err}\n"));
        }
        if let Some(st) = e.status {
            s.push_str(&format!("  < {st}\n"));
            for (k, v) in &e.response_headers {
                s.push_str(&format!("  < {k}: {v}\n"));
            }
            body_lines(&mut s, "  <", &e.response_body);
        }
        if let Some(f) = &e.framing {
            s.push_str(&format!("  ! {f}\n"));
        }
        s.push_str(&format!("  ({} ms)\n", e.millis));
    }
    s
}

fn body_lines(s: &mut String, prefix: &str, b: &super::client::BodyView) {
    if b.size == 0 {
        return;
    }
    match &b.text {
        Some(t) => {
            for l in t.lines() {
                s.push_str(&format!("{prefix} {l}\n"));
            }
            if b.truncated {
                s.push_str(&format!(
                    "{prefix} … ({} bytes in all, {})\n",
                    b.size,
                    b.digest.as_deref().unwrap_or("")
                ));
            }
        }
        None => s.push_str(&format!(
            "{prefix} [{} bytes of binary, {}]\n",
            b.size,
            b.digest.as_deref().unwrap_or("")
        )),
    }
}

/// Requirement → verdict: failed if any scenario failed on it; passed if a scenario listing
/// it passed (or failed on another requirement after checking this one is not claimed).
pub fn requirement_verdicts(
    specs: &Specs,
    results: &[ScenarioResult],
) -> BTreeMap<String, Verdict> {
    let mut out: BTreeMap<String, Verdict> = BTreeMap::new();
    let rank = |v: Verdict| match v {
        Verdict::Fail => 3,
        Verdict::Error => 2,
        Verdict::Pass => 1,
        Verdict::Skip => 0,
    };
    let mut set = |id: &str, v: Verdict| {
        let e = out.entry(id.to_string()).or_insert(v);
        if rank(v) > rank(*e) {
            *e = v;
        }
    };
    for r in results {
        match r.verdict {
            Verdict::Fail => {
                if let Some(req) = r.finding.as_ref().and_then(|f| f.requirement.as_deref()) {
                    set(req, Verdict::Fail);
                }
                for q in &r.requirements {
                    set(q, Verdict::Skip);
                }
            }
            v => {
                for q in &r.requirements {
                    set(q, v);
                }
            }
        }
    }
    out.retain(|k, _| specs.requirements.contains_key(k));
    out
}

fn print_summary(report: &super::report::Report, took: Duration) {
    let c = &report.scenarios_summary;
    println!(
        "\nscenarios: {} passed, {} failed, {} errors, {} skipped in {:.1}s (seed {})",
        c.pass,
        c.fail,
        c.error,
        c.skip,
        took.as_secs_f64(),
        report.seed
    );
    let st = &report.conformance.statement;
    let coloured = if report.conformance.conformant {
        st.replace("— conformant", &format!("— {}", "conformant".green()))
    } else if st.ends_with("(errors)") {
        st.replace(
            "incomplete (errors)",
            &"incomplete (errors)".yellow().to_string(),
        )
    } else {
        st.replace("not conformant", &"not conformant".red().to_string())
    };
    println!("conformance: {coloured}");
}
