//! `regverify`: the reference registry (`serve`) and the scenario runner (`run`, the default).
//! The CLI is the one place that knows both: `run` without a URL starts the reference here
//! and hands the runner its URL.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use cli::error::{CliError, Outcome, exit_code};
use cli::reference::Reference;
use regverify::runner::corpus::Corpus;
use regverify::runner::harness::{self, RunArgs};
use regverify::server::{self, App, Config, storage};

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
    Serve(ServeArgs),
    /// Run the scenarios against a registry (the embedded reference when no URL is given).
    Run(Box<RunArgs>),
    /// Push the content the read-only profile pulls (the `seed` profile), to a registry that
    /// still takes writes.
    Seed(Box<RunArgs>),
    /// Print the requirements × scenarios matrix; fails when a testable requirement has no
    /// scenario.
    Coverage {
        /// Directory of spec files to use instead of the embedded ones.
        #[arg(long, value_name = "DIR")]
        specs: Option<PathBuf>,
        /// Directory of fixtures to use instead of the embedded ones.
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
    /// Storage directory (created if missing).
    #[arg(long, default_value = "regverify-data", conflicts_with = "memory")]
    root: PathBuf,
    /// Keep everything in memory instead of on disk.
    #[arg(long)]
    memory: bool,
    /// Refuse deletion of manifests, tags and blobs (405 UNSUPPORTED).
    #[arg(long)]
    no_delete: bool,
    /// Refuse every write (405 UNSUPPORTED): a pull-only registry.
    #[arg(long)]
    read_only: bool,
    /// Largest manifest accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_manifest_bytes: usize,
    /// Descriptors per referrers page before a Link to the next.
    #[arg(long, default_value_t = 50)]
    referrers_page_size: usize,
    /// Cancel uploads untouched for this many seconds.
    #[arg(long, default_value_t = 24 * 3600)]
    upload_ttl: u64,
    /// Users, from an htpasswd file with bcrypt hashes (htpasswd -B); needs --auth.
    #[arg(long, requires = "auth")]
    htpasswd: Option<PathBuf>,
    /// Authentication: Basic on every request, or Bearer tokens from /token.
    #[arg(long, value_enum, requires = "htpasswd")]
    auth: Option<server::auth::Mode>,
    /// Access rules (YAML: user, repositories, actions, catalog); default: every user may
    /// do everything.
    #[arg(long, requires = "auth")]
    rules: Option<PathBuf>,
    /// Let clients without credentials pull.
    #[arg(long, requires = "auth")]
    anonymous_pull: bool,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Run with one deliberate defect, to see what the scenarios catch ("list" lists them).
    #[arg(long, value_name = "NAME")]
    defect: Option<String>,
}

fn main() -> ExitCode {
    // the profiles and the default come from the corpus the binary carries
    let profile_help = cli::profiles::help();
    let matches = Cli::command()
        .mut_subcommand("run", |c| c.mut_arg("profile", |a| a.help(profile_help)))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    exit_code(dispatch(cli))
}

fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Some(Command::Serve(a)) => serve(a),
        Some(Command::Run(a)) => Ok(verify(*a)),
        Some(Command::Seed(mut a)) => {
            a.profile = Some("seed".into());
            Ok(verify(*a))
        }
        Some(Command::Coverage { specs, fixtures }) => {
            coverage(specs.as_deref(), fixtures.as_deref())
        }
        None => Ok(verify(RunArgs {
            profile: Some("all".into()),
            timeout: 30,
            test_threads: 8,
            ..RunArgs::default()
        })),
    }
}

/// `run`: the runner against the registry named, else against the embedded reference,
/// started only when the runner needs a registry and stopped when it is done.
fn verify(args: RunArgs) -> ExitCode {
    let mut reference = None;
    let mut start = || -> Result<reqwest::Url, Box<dyn std::error::Error + Send + Sync>> {
        let r = Reference::start()?;
        let url = r.url().clone();
        reference = Some(r);
        Ok(url)
    };
    let code = harness::run(args, &mut start);
    drop(reference);
    code
}

fn coverage(
    specs: Option<&std::path::Path>,
    fixtures: Option<&std::path::Path>,
) -> Result<ExitCode, CliError> {
    let corpus = Corpus::from_dirs(specs, fixtures)?;
    let on_disk = corpus.fixtures_on_disk()?;
    match regverify::runner::loader::load_corpus(&corpus, on_disk.path()) {
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

fn serve(a: ServeArgs) -> Result<ExitCode, CliError> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let defect = match a.defect.as_deref() {
        None => None,
        Some("list") => {
            for (_, id, summary, breaks) in server::defects::DEFECTS {
                let breaks: Vec<String> = breaks
                    .iter()
                    .map(|b| match b.strip_prefix('?') {
                        Some(m) => format!("{m} (at times)"),
                        None => b.to_string(),
                    })
                    .collect();
                println!(
                    "{id:<28} {summary}\n{:<28} breaks: {}",
                    "",
                    breaks.join(", ")
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        Some(name) => match server::defects::Defect::parse(name) {
            Some(d) => Some(d),
            None => return Err(CliError::UnknownDefect(name.to_string())),
        },
    };
    let storage: Arc<dyn storage::Storage> = if a.memory {
        Arc::new(storage::MemStorage::new())
    } else {
        Arc::new(
            storage::FsStorage::open(&a.root).map_err(|source| CliError::Storage {
                path: a.root.clone(),
                source,
            })?,
        )
    };
    let config = Config {
        delete_enabled: !a.no_delete,
        read_only: a.read_only,
        max_manifest_bytes: a.max_manifest_bytes,
        referrers_page_size: a.referrers_page_size,
        defect,
        upload_ttl: std::time::Duration::from_secs(a.upload_ttl.max(1)),
    };
    let auth = match (&a.auth, &a.htpasswd) {
        (Some(mode), Some(file)) => {
            let auth = server::auth::Auth::load(*mode, file, a.rules.as_deref(), a.anonymous_pull)
                .map_err(|e| CliError::Auth(e.to_string()))?;
            Some(Arc::new(auth))
        }
        _ => None,
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => {
            Some(server::tls::load(c, k).map_err(|e| CliError::Tls(e.to_string()))?)
        }
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    rt.block_on(async move {
        let app = App::secured(config, storage, auth, tls.is_some());
        let server = server::spawn_with(app, a.addr, tls)
            .await
            .map_err(|source| CliError::Listen {
                addr: a.addr,
                source,
            })?;
        tracing::info!(url = %server.url(), "regverify reference registry listening");
        let stopped = shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        stopped.map(|()| ExitCode::SUCCESS)
    })
}

/// Ctrl-C, or SIGTERM where there are Unix signals.
async fn shutdown_signal() -> Result<(), CliError> {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(CliError::Signal)?;
        tokio::select! {
            r = ctrl_c => r.map_err(CliError::Signal),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.map_err(CliError::Signal)
}
