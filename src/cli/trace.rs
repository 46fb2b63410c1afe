//! `regverify trace --spec FILE [--against OLD]`: the CLI half. The runner checks the cites
//! against the text; the reference's defects, which the runner must not depend on, are
//! handed to it from here for `--against`'s list of what fails each affected requirement.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use regverify::runner::corpus::{Corpus, SpecsMode};
use regverify::runner::model::Doc;
use regverify::runner::sanitize;
use regverify::runner::trace::{self, DefectBreaks, TraceError, report};
use regverify::server::defects::DEFECTS;

use super::error::{CliError, Outcome};

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// The spec text to hold the requirements against (a markdown file).
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// Which document FILE is; told from its name when it is one of the spec texts'
    /// (distribution-spec-main.md is main).
    #[arg(long, value_name = "NAME")]
    pub doc: Option<Doc>,
    /// An older text of a document: report what the new text does to the cites of the old.
    #[arg(long, value_name = "OLD")]
    pub against: Option<PathBuf>,
    /// Which document OLD is, when its name does not tell.
    #[arg(long, value_name = "NAME", requires = "against")]
    pub against_doc: Option<Doc>,
    /// Print Markdown (a pull request's comment; with --against).
    #[arg(long, requires = "against", conflicts_with = "json")]
    pub markdown: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Directory of spec files laid over those built into the binary (see `run --specs`).
    #[arg(long, value_name = "DIR")]
    pub specs: Option<PathBuf>,
    /// How --specs combines with the embedded spec files.
    #[arg(long, value_enum, default_value_t = SpecsMode::Overlay, requires = "specs")]
    pub specs_mode: SpecsMode,
}

fn failed(e: TraceError) -> CliError {
    CliError::Trace(e)
}

pub fn trace(args: TraceArgs) -> Result<ExitCode, CliError> {
    let corpus = Corpus::open(args.specs.as_deref(), args.specs_mode, None)?;
    let doc = trace::resolve_doc(&args.spec, args.doc).map_err(failed)?;
    let text = trace::read_document(&args.spec, doc).map_err(failed)?;
    let specs = trace::load(&corpus).map_err(|diags| {
        for d in &diags {
            eprintln!("{}\n", sanitize::terminal(&d.to_string()));
        }
        CliError::SpecFiles(diags.len())
    })?;
    if let Some(old_path) = &args.against {
        let old_doc = trace::resolve_doc(old_path, args.against_doc).map_err(failed)?;
        let old = trace::read_document(old_path, old_doc).map_err(failed)?;
        let defects: Vec<DefectBreaks> = DEFECTS
            .iter()
            .map(|d| DefectBreaks {
                name: d.name.into(),
                breaks: d.breaks.iter().map(|b| b.to_string()).collect(),
            })
            .collect();
        let r = trace::trace_against(&corpus, &specs, (doc, &text), (old_doc, &old), &defects);
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&r).expect("a report serialises")
            );
        } else if args.markdown {
            print!("{}", report::against_markdown(&r));
        } else {
            print!("{}", report::against_text(&r));
        }
        // a report for the spec's author: what changed is no failure
        return Ok(ExitCode::SUCCESS);
    }
    let r = trace::trace(&corpus, &specs, doc, &text).map_err(|diags| {
        for d in &diags {
            eprintln!("{}\n", sanitize::terminal(&d.to_string()));
        }
        CliError::SpecFiles(diags.len())
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).expect("a report serialises")
        );
    } else {
        print!("{}", report::trace_text(&r));
    }
    Ok(if r.clean() {
        Outcome::Ok
    } else {
        Outcome::Findings
    }
    .into())
}
