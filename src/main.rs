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
    /// Let clients without credentials in, and pull wherever the rules let every
    /// authenticated user ("*") pull; rules naming "anonymous" apply either way.
    #[arg(long, requires = "auth")]
    anonymous_pull: bool,
    /// Where clients fetch tokens, as they must reach it (the Bearer challenge's realm);
    /// default: /token at --addr. Needed behind a proxy or when --addr is a wildcard.
    #[arg(long, value_name = "URL", requires = "auth")]
    token_realm: Option<String>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Run with one deliberate defect, to see what the scenarios catch ("list" lists them).
    #[arg(long, value_name = "NAME")]
    defect: Option<String>,
    /// Run with a behaviour the spec allows other than the reference's own; repeatable
    /// ("list" lists them, each with the spec section that allows it).
    #[arg(long, value_name = "NAME")]
    variation: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(a)) => serve(a),
        Some(Command::Run(a)) => harness::run(*a),
        Some(Command::Seed(mut a)) => {
            a.profile = Some("seed".into());
            harness::run(*a)
        }
        Some(Command::Coverage { specs, fixtures }) => coverage(&specs, &fixtures),
        None => harness::run(RunArgs {
            profile: Some("all".into()),
            timeout: 30,
            test_threads: 8,
            specs: "specs".into(),
            fixtures: "fixtures".into(),
            ..RunArgs::default()
        }),
    }
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
            for d in server::defects::DEFECTS {
                let mut breaks: Vec<String> = d.breaks.iter().map(|b| b.to_string()).collect();
                breaks.extend(d.at_times.iter().map(|b| format!("{b} (at times)")));
                if d.locks_out {
                    breaks.push("every requirement behind a login".into());
                }
                let auth = if d.needs_auth { " (with --auth)" } else { "" };
                println!(
                    "{:<28} {}{auth}\n{:<28} breaks: {}",
                    d.name,
                    d.summary,
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
    let mut variations = server::variations::Variations::new();
    for name in &a.variation {
        if name == "list" {
            for v in server::variations::VARIATIONS {
                println!(
                    "{:<26} {}\n{:<26} allowed by: #{}",
                    v.name, v.summary, "", v.section
                );
            }
            return ExitCode::SUCCESS;
        }
        match server::variations::Variation::parse(name) {
            Some(v) => {
                variations.insert(v);
            }
            None => {
                eprintln!("error: unknown variation {name}; see --variation list");
                return ExitCode::from(2);
            }
        }
    }
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
        variations,
        upload_ttl: std::time::Duration::from_secs(a.upload_ttl.max(1)),
    };
    let auth = match (&a.auth, &a.htpasswd) {
        (Some(mode), Some(file)) => {
            let settings = server::auth::Settings {
                rules: a.rules.clone(),
                anonymous_pull: a.anonymous_pull,
                token_realm: a.token_realm.clone(),
                ..server::auth::Settings::new(*mode, file)
            };
            match server::auth::Auth::load(&settings) {
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
        if a.auth == Some(server::auth::Mode::Token)
            && a.token_realm.is_none()
            && a.addr.ip().is_unspecified()
        {
            tracing::warn!(
                "the token realm names {}, which remote clients cannot reach: set --token-realm",
                a.addr
            );
        }
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Ctrl-C everywhere; SIGTERM too where there are Unix signals.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
