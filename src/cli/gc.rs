//! `regverify gc`: removes what deletes left in a stopped registry's storage (or, with
//! `--force`, one serving `--read-only`); the root's lock refuses anything else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use regverify::server;

use super::error::CliError;

#[derive(Args)]
pub struct GcArgs {
    /// Storage directory of a registry that is stopped (or serving --read-only, with --force).
    #[arg(long)]
    root: PathBuf,
    /// List what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Sweep beside registries serving this root --read-only (never beside one that writes).
    #[arg(long)]
    force: bool,
}

pub fn gc(a: GcArgs) -> Result<ExitCode, CliError> {
    let mode = if a.dry_run {
        server::gc::Mode::DryRun
    } else {
        server::gc::Mode::Sweep
    };
    let beside = if a.force {
        server::gc::Beside::ReadOnlyRegistries
    } else {
        server::gc::Beside::Nothing
    };
    let mut out = std::io::stdout().lock();
    let report =
        server::gc::collect(&a.root, mode, beside, &mut out).map_err(|source| CliError::Gc {
            path: a.root.clone(),
            source,
        })?;
    eprintln!("{report}");
    Ok(ExitCode::SUCCESS)
}
