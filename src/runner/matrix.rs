//! `regverify matrix`: the same scenarios against several registries at once, and one
//! table of requirement × registry. Each registry gets a run of its own (its own client,
//! runtime and repositories), all with one seed so they push the same content; the runs go
//! side by side, so the matrix takes about as long as its slowest registry. The CLI starts
//! the references and hands over URLs: the runner never knows a server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::client::display_url;
use super::exec::Outcome;
use super::harness::{self, RunArgs};
use super::loader::Specs;
use super::model::Workflow;
use super::report::{Conformance, Counts, Report};

mod saved;
pub use saved::{SavedError, SavedRun};

/// What every registry of a matrix shares: the corpus, the profile, the settings of each run.
#[derive(Args, Debug, Clone, Default)]
pub struct MatrixArgs {
    /// Registries to verify (e.g. http://localhost:5000); credentials in a URL are used for
    /// that registry alone and never shown.
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
    /// Profile every registry is held to.
    #[arg(long)]
    pub profile: Option<String>,
    /// Only these workflows (repeatable).
    #[arg(long = "workflow", value_enum)]
    pub workflows: Vec<Workflow>,
    /// Seed of generated content, the same for every registry.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub connection: harness::ConnectionArgs,
    /// Repository namespace; each scenario works in `<namespace>/<scenario>-<run>`.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Scenarios run at once against each registry.
    #[arg(long, default_value_t = 8)]
    pub test_threads: usize,
    /// Write the matrix as one self-contained HTML page here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write the matrix as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the matrix as Markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Directory of spec files to use instead of those built into the binary.
    #[arg(long, value_name = "DIR")]
    pub specs: Option<PathBuf>,
    /// Directory of fixtures to use instead of those built into the binary.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// Let scenarios send requests to hosts other than the registry under test.
    #[arg(long)]
    pub allow_foreign_urls: bool,
    /// Build the matrix from these results files (`run --json`, one per registry, made
    /// elsewhere) instead of running: one column each.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with = "urls")]
    pub results: Vec<PathBuf>,
    /// With --results: accept files judged by different corpora (by default refused, since
    /// a verdict may then differ because the scenarios did).
    #[arg(long, requires = "results")]
    pub mixed_corpora: bool,
}

/// What a column of the matrix is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum TargetKind {
    /// A registry the user named.
    Url,
    /// The embedded reference as it is.
    Reference,
    /// The reference with one deliberate defect.
    Defect(String),
    /// The reference with one allowed variation.
    Variation(String),
    /// A run read from this results file (`--results`).
    Results(String),
}

/// A registry to verify: `url` as given (it may hold credentials), `label` as shown.
#[derive(Debug, Clone)]
pub struct Target {
    pub label: String,
    pub kind: TargetKind,
    pub url: String,
}

impl Target {
    /// A registry the user named, labelled by its URL without credentials.
    pub fn named(url: &str) -> Target {
        let label = reqwest::Url::parse(url)
            .map(|u| display_url(&u).trim_end_matches('/').to_string())
            // a URL that does not parse is shown without its user-info all the same
            .unwrap_or_else(|_| super::redact::userinfo_cut(url));
        Target {
            label,
            kind: TargetKind::Url,
            url: url.to_string(),
        }
    }
}

/// One registry's run: its report, or why it could not run.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub label: String,
    #[serde(flatten)]
    pub kind: TargetKind,
    /// The run could not start (unreachable, TLS, credentials, bad URL).
    pub error: Option<String>,
    pub conformance: Option<Conformance>,
    pub duration_ms: u64,
    /// The whole report, minus the exchanges of scenarios that passed (the failing
    /// steps' exchanges are kept as the evidence); a results file's report as written.
    pub report: Option<ColumnReport>,
}

/// Where a column's verdicts come from: a run made here, or a results file.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ColumnReport {
    Run(Box<Report>),
    Saved(Box<SavedRun>),
}

impl ColumnReport {
    /// The verdict of a requirement in this run, and whether it was claimed.
    pub fn verdict(&self, id: &str) -> Option<(Outcome, bool)> {
        match self {
            ColumnReport::Run(r) => r
                .requirements
                .iter()
                .find(|e| e.id == id)
                .map(|e| (e.verdict, e.claimed)),
            ColumnReport::Saved(r) => r
                .requirements
                .iter()
                .find(|e| e.id == id)
                .map(|e| (e.verdict, e.claimed)),
        }
    }

    pub fn scenarios_summary(&self) -> &Counts {
        match self {
            ColumnReport::Run(r) => &r.scenarios_summary,
            ColumnReport::Saved(r) => &r.scenarios_summary,
        }
    }

    /// Something failed or erred.
    pub fn findings(&self) -> bool {
        let charged = match self {
            ColumnReport::Run(r) => r.findings(),
            ColumnReport::Saved(r) => r.findings(),
        };
        charged || self.scenarios_summary().error > 0
    }
}

/// One requirement across the registries.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    pub level: &'static str,
    /// The optional feature the requirement holds within, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// MUST, SHOULD or MAY: the group the row is shown in.
    pub class: &'static str,
    pub summary: String,
    pub spec: String,
    /// One per column, in column order; `None` where that run did not judge it (not in
    /// its scenarios, or the run could not start).
    pub cells: Vec<Option<Outcome>>,
    /// Columns where the requirement is not claimed (its category absent there, and not
    /// claimed): the cell shows what happened, but it counts neither way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_claimed: Vec<usize>,
}

impl Row {
    /// The word of column `i`'s cell: `n/c` where not claimed.
    pub fn word(&self, i: usize) -> &'static str {
        if self.not_claimed.contains(&i) {
            "n/c"
        } else {
            super::report::cell_word(self.cells[i])
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub tool: &'static str,
    pub version: &'static str,
    pub profile: String,
    pub seed: u64,
    pub duration_ms: u64,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// The level groups in the order they are shown.
pub const CLASSES: [&str; 3] = ["MUST", "SHOULD", "MAY"];

impl Matrix {
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a matrix serialises")
    }

    /// Some registry could not be run at all.
    pub fn incomplete(&self) -> bool {
        self.columns.iter().any(|c| c.error.is_some())
    }

    /// Some registry failed or erred on something.
    pub fn findings(&self) -> bool {
        self.columns
            .iter()
            .any(|c| c.report.as_ref().is_some_and(ColumnReport::findings))
    }

    /// The rows of one level group.
    pub fn group<'m>(&'m self, class: &'m str) -> impl Iterator<Item = &'m Row> + 'm {
        self.rows.iter().filter(move |r| r.class == class)
    }
}

fn run_args(a: &MatrixArgs, url: &str, seed: u64, profile: &str) -> RunArgs {
    RunArgs {
        url: Some(url.to_string()),
        namespace: a.namespace.clone(),
        seed: Some(seed),
        connection: a.connection.clone(),
        profile: Some(profile.to_string()),
        workflows: a.workflows.clone(),
        test_threads: a.test_threads,
        ..RunArgs::default()
    }
}

/// The table of every requirement any run judged, by level group then corpus order.
fn rows(specs: &Specs, columns: &[Column]) -> Vec<Row> {
    let mut rows = vec![];
    for class in CLASSES {
        for q in specs
            .requirements
            .values()
            .filter(|q| q.level.class() == class)
        {
            let cells: Vec<Option<Outcome>> = columns
                .iter()
                .map(|c| {
                    c.report
                        .as_ref()
                        .and_then(|r| r.verdict(&q.id))
                        .map(|v| v.0)
                })
                .collect();
            if cells.iter().all(Option::is_none) {
                continue;
            }
            let not_claimed = columns
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.report
                        .as_ref()
                        .and_then(|r| r.verdict(&q.id))
                        .is_some_and(|(_, claimed)| !claimed)
                })
                .map(|(i, _)| i)
                .collect();
            rows.push(Row {
                id: q.id.clone(),
                level: q.level.as_str(),
                when: q.when.clone(),
                class,
                summary: q.summary.trim().to_string(),
                spec: q.spec_url(),
                cells,
                not_claimed,
            });
        }
    }
    rows
}

/// Runs every target side by side and builds the matrix. `on_done` is told of each run as
/// it ends (the CLI prints a line).
pub fn build(
    args: &MatrixArgs,
    specs: &Arc<Specs>,
    targets: &[Target],
    on_done: &(dyn Fn(&Column) + Sync),
) -> Result<Matrix, super::error::RunError> {
    let seed = match args.seed {
        Some(s) => s,
        None => {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).map_err(|e| super::error::RunError::Random(e.to_string()))?;
            u64::from_le_bytes(b) % 1_000_000_000
        }
    };
    let profile = match &args.profile {
        Some(p) => p.clone(),
        None => specs.default_profile().unwrap_or("oci-1.1").to_string(),
    };
    // said once here rather than by every run
    if !specs.profiles.contains_key(&profile) {
        return Err(super::error::RunError::Profile {
            known: specs
                .profiles
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            profile,
        });
    }
    let started = Instant::now();
    let done: Mutex<Vec<Option<Column>>> = Mutex::new(vec![None; targets.len()]);
    std::thread::scope(|scope| {
        for (i, t) in targets.iter().enumerate() {
            let (done, profile) = (&done, &profile);
            scope.spawn(move || {
                let column =
                    match harness::judge_silently(&run_args(args, &t.url, seed, profile), specs) {
                        Ok(mut j) => {
                            for s in &mut j.report.scenarios {
                                s.exchanges.clear();
                            }
                            Column {
                                label: t.label.clone(),
                                kind: t.kind.clone(),
                                error: None,
                                conformance: Some(j.report.conformance.clone()),
                                duration_ms: j.took.as_millis() as u64,
                                report: Some(ColumnReport::Run(Box::new(j.report))),
                            }
                        }
                        Err(e) => Column {
                            label: t.label.clone(),
                            kind: t.kind.clone(),
                            error: Some(e.to_string()),
                            conformance: None,
                            duration_ms: 0,
                            report: None,
                        },
                    };
                on_done(&column);
                done.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(column);
            });
        }
    });
    let columns: Vec<Column> = done
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect();
    Ok(Matrix {
        tool: "regverify",
        version: env!("CARGO_PKG_VERSION"),
        rows: rows(specs, &columns),
        profile,
        seed,
        duration_ms: started.elapsed().as_millis() as u64,
        columns,
    })
}

/// One line for a run that ended: its scenarios and statement, or why it could not run.
pub fn column_line(c: &Column) -> String {
    match (&c.report, &c.error) {
        (Some(r), _) => {
            let s: &Counts = r.scenarios_summary();
            format!(
                "{}: {} passed, {} failed, {} errors, {} skipped in {:.1}s",
                c.label,
                s.pass,
                s.fail,
                s.error,
                s.skip,
                c.duration_ms as f64 / 1000.0
            )
        }
        (None, Some(e)) => format!("{}: could not run: {}", c.label, e.replace('\n', " ")),
        (None, None) => format!("{}: no result", c.label),
    }
}

/// `regverify matrix` once the CLI has started its references: runs, prints the table and
/// writes the reports. Exit code 2 when a registry could not be run, 1 when any failed or
/// erred, 0 otherwise.
pub fn run(args: MatrixArgs, targets: Vec<Target>) -> ExitCode {
    let (corpus, specs) = match harness::load_specs(
        args.specs.as_deref(),
        super::corpus::SpecsMode::Overlay,
        args.fixtures.as_deref(),
        super::foreign::ForeignUrls::from_flag(args.allow_foreign_urls),
    ) {
        Ok((_, s)) => (s.corpus.clone(), s),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.results.is_empty() {
        return match from_results(&args, &specs, corpus.as_ref()) {
            Ok(m) => present(&args, &m),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    if targets.is_empty() {
        eprintln!("error: no registry: give URLs, --reference, --defect, --variation or --results");
        return ExitCode::from(2);
    }
    let print = |c: &Column| println!("{}", column_line(c));
    let matrix = match build(&args, &specs, &targets, &print) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    present(&args, &matrix)
}

/// The matrix of runs made elsewhere: one column per results file, rows from the corpus
/// read here (`--specs`, `--fixtures`), which must be the one that judged them unless
/// `--mixed-corpora`.
fn from_results(
    args: &MatrixArgs,
    specs: &Specs,
    corpus: Option<&super::corpus::CorpusIdentity>,
) -> Result<Matrix, SavedError> {
    let runs = args
        .results
        .iter()
        .map(|p| SavedRun::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    saved::check(&runs, args.mixed_corpora)?;
    let here = corpus.map(|c| c.digest.as_str());
    let elsewhere: Vec<String> = runs
        .iter()
        .filter(|r| r.corpus.as_ref().map(|c| c.digest.as_str()) != here)
        .map(|r| r.path.display().to_string())
        .collect();
    if !elsewhere.is_empty() {
        let why = format!(
            "{} judged by another corpus than the one read here ({}); give the same --specs and \
             --fixtures",
            elsewhere.join(", "),
            here.unwrap_or("unknown")
        );
        if !args.mixed_corpora {
            return Err(SavedError::MixedCorpora(why));
        }
        eprintln!("warning: {why}; rows are this corpus's requirements");
    }
    let (profile, seed) = (runs[0].profile.clone(), runs[0].seed);
    if runs.iter().any(|r| r.seed != seed) {
        eprintln!("warning: the runs used different seeds; the matrix names the first file's");
    }
    let columns: Vec<Column> = runs.into_iter().map(SavedRun::column).collect();
    for c in &columns {
        println!("{}", column_line(c));
    }
    Ok(Matrix {
        tool: "regverify",
        version: env!("CARGO_PKG_VERSION"),
        rows: rows(specs, &columns),
        profile,
        seed,
        duration_ms: columns.iter().map(|c| c.duration_ms).max().unwrap_or(0),
        columns,
    })
}

/// Prints the table, writes the reports asked for, and says how it went: 2 when a registry
/// could not be run, 1 when any failed or erred, 0 otherwise.
fn present(args: &MatrixArgs, matrix: &Matrix) -> ExitCode {
    print!("\n{}", super::report::matrix_text(matrix));
    let outputs = [
        (&args.json, matrix.json()),
        (&args.html, super::report::matrix_html(matrix)),
        (&args.markdown, super::report::matrix_markdown(matrix)),
    ];
    for (path, text) in outputs {
        let Some(p) = path else { continue };
        let written = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(p, &text));
        match written {
            Ok(()) => println!("report: {} ({} bytes)", p.display(), text.len()),
            Err(e) => {
                eprintln!("error: writing {}: {e}", p.display());
                return ExitCode::from(2);
            }
        }
    }
    if matrix.incomplete() {
        ExitCode::from(2)
    } else if matrix.findings() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
