//! The release-gate commands: `diff` (two results files), `baseline` (the `--expect` file
//! of a run) and `matrix` (several registries at once; the references it names are started
//! here, since only the CLI knows the server).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use regverify::runner::baseline;
use regverify::runner::compare;
use regverify::runner::expect::Expectations;
use regverify::runner::matrix::{self, MatrixArgs, Target, TargetKind};
use regverify::runner::report;
use regverify::runner::results::RunFile;
use regverify::server::Config;
use regverify::server::defects::Defect;
use regverify::server::variations::{Variation, Variations};

use super::error::{CliError, Outcome};
use super::reference::{Reference, Store};

#[derive(Args)]
pub struct DiffArgs {
    /// The earlier results file (`run --json`).
    old: PathBuf,
    /// The later results file.
    new: PathBuf,
    /// Markdown, for a pull-request comment.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// JSON, for tools.
    #[arg(long)]
    json: bool,
    /// The baseline the gate uses (`run --expect`): requirements it marks `intermittent`
    /// changing either way, where they failed, are known races, never "worse".
    #[arg(long = "expect", value_name = "FILE")]
    expect: Option<PathBuf>,
}

/// `diff`: exit 1 when something got worse, 0 otherwise, 2 on an unreadable file.
/// The renames of the corpus built in (`aliases:`): results files are compared and turned
/// into baselines under the names ids have now.
fn aliases() -> Result<regverify::runner::loader::Aliases, CliError> {
    let specs =
        regverify::runner::loader::load_corpus(&regverify::runner::corpus::Corpus::embedded())
            .map_err(regverify::runner::error::RunError::SpecFiles)?;
    Ok(specs.aliases)
}

pub fn diff(a: DiffArgs) -> Result<ExitCode, CliError> {
    let aliases = aliases()?;
    let old = RunFile::load(&a.old)?.with_current_names(&aliases);
    let new = RunFile::load(&a.new)?.with_current_names(&aliases);
    // on standard error: the comparison stands, but a requirement may differ because its
    // text or its scenario changed, not the registry
    if let Some(why) = regverify::runner::results::corpora_differ(&old, &new) {
        eprintln!(
            "warning: {} and {} were {why}: a change below may come from the corpus, not the registry",
            a.old.display(),
            a.new.display()
        );
    }
    let known = match &a.expect {
        None => vec![],
        Some(path) => {
            let specs = regverify::runner::loader::load_corpus(
                &regverify::runner::corpus::Corpus::embedded(),
            )
            .map_err(regverify::runner::error::RunError::SpecFiles)?;
            regverify::runner::expect::load(path, &specs)?.failures
        }
    };
    let d = compare::compare_knowing(
        &a.old.display().to_string(),
        &old,
        &a.new.display().to_string(),
        &new,
        &known,
    );
    let text = if a.json {
        d.json() + "\n"
    } else if a.markdown {
        report::diff_markdown(&d)
    } else {
        report::diff_text(&d)
    };
    print!("{text}");
    Ok(if d.worse {
        Outcome::Findings
    } else {
        Outcome::Ok
    }
    .into())
}

#[derive(Args)]
pub struct BaselineArgs {
    /// The results file of the run (`run --json`).
    results: PathBuf,
    /// Refresh this expectations file in place: its reasons and `intermittent` marks are
    /// kept, stale entries dropped, new failures added with reasons to fill in.
    #[arg(long, value_name = "FILE")]
    update: Option<PathBuf>,
}

/// `baseline`: the expectations file on standard output, or written over `--update FILE`.
pub fn baseline(a: BaselineArgs) -> Result<ExitCode, CliError> {
    let run = RunFile::load(&a.results)?.with_current_names(&aliases()?);
    let source = a.results.display().to_string();
    let Some(path) = &a.update else {
        print!("{}", baseline::make(&run, &source, None));
        return Ok(ExitCode::SUCCESS);
    };
    let read = |source| CliError::Read {
        path: path.clone(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(read)?;
    let kept: Expectations =
        serde_saphyr::from_str(&text).map_err(|source| CliError::Expectations {
            path: path.clone(),
            source: Box::new(source),
        })?;
    let out = baseline::make(&run, &source, Some(&kept));
    // written beside it and renamed over it: never a half-written baseline
    let tmp = path.with_extension("yaml.tmp");
    let write = |source| CliError::Write {
        path: path.clone(),
        source,
    };
    std::fs::write(&tmp, &out).map_err(write)?;
    std::fs::rename(&tmp, path).map_err(write)?;
    let to_fill = out.matches(baseline::TO_FILL).count().saturating_sub(1);
    println!(
        "baseline: {} refreshed from {source} ({to_fill} reason(s) to fill in)",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct MatrixCli {
    #[command(flatten)]
    run: MatrixArgs,
    /// Add the embedded reference registry.
    #[arg(long, conflicts_with = "results")]
    reference: bool,
    /// Add a reference started with this allowed variation (repeatable: one reference each).
    #[arg(long, value_name = "V", conflicts_with = "results")]
    variation: Vec<String>,
    /// Add a reference started with this deliberate defect (repeatable: one reference each).
    #[arg(long, value_name = "D", conflicts_with = "results")]
    defect: Vec<String>,
}

/// `matrix`: starts the references asked for, each on a memory store of its own (see
/// [`Store::Memory`]), then runs every registry side by side.
pub fn matrix(a: MatrixCli) -> Result<ExitCode, CliError> {
    for u in &a.run.urls {
        regverify::runner::harness::refuse_bare_host(u)?;
    }
    let mut wanted: Vec<(TargetKind, Config)> = vec![];
    if a.reference {
        wanted.push((TargetKind::Reference, Config::default()));
    }
    for name in &a.defect {
        let d = Defect::parse(name).ok_or_else(|| CliError::UnknownDefect(name.clone()))?;
        if d.info().needs_auth {
            return Err(CliError::DefectNeedsAuth(name.clone()));
        }
        let config = Config {
            defect: Some(d),
            ..Config::default()
        };
        wanted.push((TargetKind::Defect(d.name().to_string()), config));
    }
    for name in &a.variation {
        let v = Variation::parse(name).ok_or_else(|| CliError::UnknownVariation(name.clone()))?;
        let mut variations = Variations::new();
        variations.insert(v);
        let config = Config {
            variations,
            ..Config::default()
        };
        wanted.push((TargetKind::Variation(v.name().to_string()), config));
    }
    let mut targets: Vec<Target> = a.run.urls.iter().map(|u| Target::named(u)).collect();
    // kept until the runs are done: dropping one stops it
    let mut references = vec![];
    for (kind, config) in wanted {
        let r = Reference::with_config(config, Store::Memory)?;
        let label = match &kind {
            TargetKind::Defect(n) => format!("defect {n}"),
            TargetKind::Variation(n) => format!("variation {n}"),
            _ => "reference".to_string(),
        };
        targets.push(Target {
            label,
            kind,
            url: r.url().to_string(),
        });
        references.push(r);
    }
    let code = matrix::run(a.run, targets);
    drop(references);
    Ok(code)
}
