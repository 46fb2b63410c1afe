//! `regverify`: the reference registry (`serve`) and the scenario runner (`run`, the default).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

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
        /// Directory of the spec files.
        #[arg(long, default_value = "specs")]
        specs: PathBuf,
        /// Directory of the fixtures.
        #[arg(long, default_value = "fixtures")]
        fixtures: PathBuf,
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
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(a)) => serve(a),
        Some(Command::Run(a)) => run(*a),
        Some(Command::Seed(mut a)) => {
            a.profile = Some("seed".into());
            run(*a)
        }
        Some(Command::Coverage { specs, fixtures }) => coverage(&specs, &fixtures),
        None => run(RunArgs {
            profile: Some("all".into()),
            timeout: 30,
            test_threads: 8,
            specs: "specs".into(),
            fixtures: "fixtures".into(),
            ..RunArgs::default()
        }),
    }
}

/// `regverify run`: against the registry the user named, else against the embedded
/// reference, started here on real storage in a temporary directory.
fn run(args: RunArgs) -> ExitCode {
    if !args.wants_embedded_registry() {
        return harness::run(args, None);
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: temporary directory: {e}");
            return ExitCode::from(2);
        }
    };
    let storage = match storage::FsStorage::open(dir.path()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: storage: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let app = App::new(Config::default(), Arc::new(storage));
    let server = match rt.block_on(server::spawn(
        app,
        "127.0.0.1:0".parse().expect("static addr"),
    )) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: embedded registry: {e}");
            return ExitCode::from(2);
        }
    };
    let url = reqwest::Url::parse(&format!("{}/", server.url())).expect("server URL");
    let code = harness::run(args, Some(harness::Embedded { url }));
    rt.block_on(server.shutdown());
    code
}

fn coverage(specs: &std::path::Path, fixtures: &std::path::Path) -> ExitCode {
    let specs_dir = harness::locate(specs);
    let fixtures_dir = harness::locate(fixtures);
    match regverify::runner::loader::load(&specs_dir, &fixtures_dir) {
        Ok(s) => {
            if regverify::runner::coverage::print(&s) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(diags) => {
            for d in diags {
                eprintln!("{d}\n");
            }
            ExitCode::from(2)
        }
    }
}

fn serve(a: ServeArgs) -> ExitCode {
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
            return ExitCode::SUCCESS;
        }
        Some(name) => match server::defects::Defect::parse(name) {
            Some(d) => Some(d),
            None => {
                eprintln!("error: unknown defect {name}; see --defect list");
                return ExitCode::from(2);
            }
        },
    };
    let storage: Arc<dyn storage::Storage> = if a.memory {
        Arc::new(storage::MemStorage::new())
    } else {
        match storage::FsStorage::open(&a.root) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("error: storage at {}: {e}", a.root.display());
                return ExitCode::from(2);
            }
        }
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
            match server::auth::Auth::load(*mode, file, a.rules.as_deref(), a.anonymous_pull) {
                Ok(x) => Some(Arc::new(x)),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => None,
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => match server::tls::load(c, k) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let app = App::secured(config, storage, auth, tls.is_some());
        let server = match server::spawn_with(app, a.addr, tls).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: listen on {}: {e}", a.addr);
                return ExitCode::from(2);
            }
        };
        tracing::info!(url = %server.url(), "regverify reference registry listening");
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
