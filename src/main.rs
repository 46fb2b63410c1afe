//! `regverify`: the reference registry (`serve`) and the scenario runner (`run`, the default).
//! The CLI is the one place that knows both: `run` without a URL starts the reference here
//! and hands the runner its URL. Every command ends in a `Result<ExitCode, CliError>`, mapped
//! to an exit code in one place ([`cli::error::exit_code`]).

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use cli::error::{CliError, Outcome, exit_code};
use cli::explore::ExploreArgs;
use cli::gc::GcArgs;
use cli::reference::Reference;
use cli::serve::ServeArgs;
use regverify::runner::corpus::Corpus;
use regverify::runner::foreign::ForeignUrls;
use regverify::runner::harness::{self, RunArgs};

#[derive(Parser)]
#[command(
    name = "regverify",
    version,
    about = "Conformance verification suite for container registries",
    long_about = "Conformance verification suite for container registries.\n\nWithout a \
                  subcommand, runs the whole suite against the embedded reference registry."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the reference registry.
    Serve(Box<ServeArgs>),
    /// Run the scenarios against a registry (the embedded reference when no URL is given).
    Run(Box<RunArgs>),
    /// Push the content the read-only profile pulls (the `seed` profile), to a registry that
    /// still takes writes.
    Seed(Box<RunArgs>),
    /// Remove blobs and manifests nothing references any more (mark and sweep), from a registry
    /// that is stopped or serving --read-only.
    Gc(GcArgs),
    /// Everything about one requirement or scenario: the sentence it cites, the checks that
    /// verify it, the profiles, the defects that prove it failable and the variations that
    /// show it quiet.
    Explain(cli::explain::ExplainArgs),
    /// Hold the requirements against a spec text: every quote found with its keyword, levels
    /// and parties that follow from them, every normative sentence cited or excused; with
    /// --against, what a new text of a document does to the cites of the old.
    Trace(Box<cli::trace::TraceArgs>),
    /// Compare two results files (`run --json`): requirements newly failing or passing,
    /// changed evidence, scenarios added or removed; exit 1 when something got worse.
    Diff(cli::gates::DiffArgs),
    /// Write the `--expect` file a results file matches (reasons to fill in are marked).
    Baseline(cli::gates::BaselineArgs),
    /// Run the same scenarios against several registries at once, or read their results
    /// files (`--results`): one table of requirement × registry.
    Matrix(Box<cli::gates::MatrixCli>),
    /// Send random operation sequences (seeded) and judge every answer against a model of
    /// what the registry must hold; a discrepancy is shrunk and written as a scenario.
    Explore(Box<ExploreArgs>),
    /// Judge registry clients (skopeo, oras, …): their workflows run against the reference,
    /// plainly, under every variation and under corrupting defects, and their duties are
    /// judged on the requests they send.
    Clients(Box<cli::clients::ClientsArgs>),
    /// Write a completion script for a shell on standard output
    /// (`regverify completions bash > /etc/bash_completion.d/regverify`).
    Completions(cli::docs::CompletionsArgs),
    /// Write the man page (roff) on standard output (`regverify man > regverify.1`).
    Man,
    /// Print the requirements × scenarios matrix; fails when a testable requirement has no
    /// scenario.
    Coverage {
        /// Directory of spec files laid over the embedded ones (see `run --specs`).
        #[arg(long, value_name = "DIR")]
        specs: Option<PathBuf>,
        /// Directory of fixtures to use instead of the embedded ones.
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        /// Accept spec files whose requests name other hosts (see `run --allow-foreign-urls`).
        #[arg(long)]
        allow_foreign_urls: bool,
    },
}

/// The command line as parsed, completed and documented: the profiles and the default
/// come from the corpus the binary carries, the version names the commit and that corpus.
fn command() -> clap::Command {
    let profile_help = cli::profiles::help();
    Cli::command()
        .version(cli::docs::version())
        .mut_subcommand("run", |c| {
            c.mut_arg("profile", |a| a.help(profile_help.clone()))
        })
        .mut_subcommand("matrix", |c| c.mut_arg("profile", |a| a.help(profile_help)))
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    exit_code(dispatch(cli))
}

fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Some(Command::Completions(a)) => cli::docs::completions(a, command()),
        Some(Command::Man) => cli::docs::man(command()),
        Some(Command::Serve(a)) => cli::serve::serve(*a),
        Some(Command::Run(a)) => verify(*a),
        Some(Command::Seed(mut a)) => {
            a.profile = Some("seed".into());
            verify(*a)
        }
        Some(Command::Gc(a)) => cli::gc::gc(a),
        Some(Command::Explain(a)) => cli::explain::explain(a),
        Some(Command::Trace(a)) => cli::trace::trace(*a),
        Some(Command::Diff(a)) => cli::gates::diff(a),
        Some(Command::Baseline(a)) => cli::gates::baseline(a),
        Some(Command::Matrix(a)) => cli::gates::matrix(*a),
        Some(Command::Explore(a)) => cli::explore::explore(*a),
        Some(Command::Clients(a)) => cli::clients::clients_command(*a),
        Some(Command::Coverage {
            specs,
            fixtures,
            allow_foreign_urls,
        }) => coverage(
            specs.as_deref(),
            fixtures.as_deref(),
            ForeignUrls::from_flag(allow_foreign_urls),
        ),
        None => verify(RunArgs {
            profile: Some("all".into()),
            test_threads: 8,
            ..RunArgs::default()
        }),
    }
}

/// `run`: the runner against the registry named, else against the embedded reference,
/// started here on real storage in a temporary directory and stopped when the run is done.
fn verify(args: RunArgs) -> Result<ExitCode, CliError> {
    if !args.wants_embedded_registry() {
        return Ok(harness::run(args, None)?);
    }
    let reference = Reference::start()?;
    let url = reference.url().clone();
    let code = harness::run(args, Some(harness::Embedded { url }))?;
    drop(reference);
    Ok(code)
}

fn coverage(
    specs: Option<&std::path::Path>,
    fixtures: Option<&std::path::Path>,
    foreign_urls: ForeignUrls,
) -> Result<ExitCode, CliError> {
    let corpus = Corpus::from_dirs(specs, fixtures)?.with_foreign_urls(foreign_urls);
    match regverify::runner::loader::load_corpus(&corpus) {
        Ok(s) => Ok(if regverify::runner::coverage::print(&s) {
            Outcome::Ok
        } else {
            Outcome::Findings
        }
        .into()),
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}\n");
            }
            Err(CliError::SpecFiles(diags.len()))
        }
    }
}
