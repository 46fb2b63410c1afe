//! `regverify explain ID`: the CLI half. The runner gathers what the plan knows; the
//! reference's defects and variations, which the runner must not depend on, are handed to it
//! from here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use regverify::runner::corpus::Corpus;
use regverify::runner::explain::{self, DefectProof, Proofs, VariationProof};
use regverify::runner::foreign::ForeignUrls;
use regverify::server::defects::DEFECTS;
use regverify::server::variations::VARIATIONS;

use super::error::CliError;

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A requirement id (push.chunk.order), a scenario name (push::chunk-out-of-order) or
    /// id (chunk-out-of-order), or an old name of either.
    pub id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Directory of spec files laid over those built into the binary (see `run --specs`).
    #[arg(long, value_name = "DIR")]
    pub specs: Option<PathBuf>,
    /// Directory of fixtures to use instead of those built into the binary.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// Accept spec files whose requests name other hosts (see `run --allow-foreign-urls`).
    #[arg(long)]
    pub allow_foreign_urls: bool,
}

/// The reference's defects and variations as the runner takes them.
pub fn proofs() -> Proofs {
    let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    Proofs {
        defects: DEFECTS
            .iter()
            .map(|d| DefectProof {
                name: d.name.into(),
                summary: d.summary.into(),
                breaks: strings(d.breaks),
                at_times: strings(d.at_times),
                needs_auth: d.needs_auth,
            })
            .collect(),
        variations: VARIATIONS
            .iter()
            .map(|v| VariationProof {
                name: v.name.into(),
                section: v.section.into(),
                summary: v.summary.into(),
            })
            .collect(),
        variations_total: VARIATIONS.len(),
    }
}

pub fn explain(args: ExplainArgs) -> Result<ExitCode, CliError> {
    let corpus = Corpus::from_dirs(args.specs.as_deref(), args.fixtures.as_deref())?
        .with_foreign_urls(ForeignUrls::from_flag(args.allow_foreign_urls));
    let specs = match regverify::runner::loader::load_corpus(&corpus) {
        Ok(s) => s,
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}\n");
            }
            return Err(CliError::SpecFiles(diags.len()));
        }
    };
    let overlay = regverify::runner::overlay::changes(&corpus);
    let e = explain::explain(&specs, &proofs(), overlay.as_ref(), &args.id)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&e).expect("an explanation serialises")
        );
    } else {
        print!("{}", e.text());
    }
    Ok(ExitCode::SUCCESS)
}
