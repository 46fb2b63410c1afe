//! `regverify serve`: the reference registry with its limits, authentication, TLS, and the
//! deliberate defects and allowed variations that prove the scenarios right.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use regverify::server::{self, App, Config, storage};

use super::error::CliError;

#[derive(Args)]
pub struct ServeArgs {
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
    /// The most bytes of blobs and uploads --memory keeps; writes past it answer 507.
    #[arg(long, default_value_t = 1 << 30)]
    memory_limit: u64,
    /// Seconds a client may take to send a request's headers once it has begun.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    header_timeout: Duration,
    /// Seconds a connection may sit idle between requests, or not read a response.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds)]
    idle_timeout: Duration,
    /// Seconds a request body may send nothing before it is dropped (its chunk rolled back).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    body_timeout: Duration,
    /// Seconds running requests get to finish on shutdown (SIGTERM, Ctrl-C).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    shutdown_timeout: Duration,
    /// Seconds a request may wait for an upload session another request is using (then 429
    /// TOOMANYREQUESTS and the connection closed).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    lock_timeout: Duration,
    /// Requests of one client waiting at once for upload sessions in use; more answer 429 at
    /// once.
    #[arg(long, default_value_t = 64)]
    max_waiters_per_client: usize,
    /// Connections served at once; more wait until one closes.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Upload sessions open at once, in all (more answer 429 TOOMANYREQUESTS).
    #[arg(long, default_value_t = 10_000)]
    max_uploads: usize,
    /// Upload sessions open at once from one client address.
    #[arg(long, default_value_t = 1_000)]
    max_uploads_per_client: usize,
    /// Bytes of descriptors per referrers page before a Link to the next.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    referrers_page_bytes: usize,
}

/// A number of seconds (fractions allowed) as a duration.
fn seconds(s: &str) -> Result<Duration, SecondsError> {
    let v: f64 = s.parse().map_err(|_| SecondsError::NotANumber(s.into()))?;
    Ok(Duration::try_from_secs_f64(v)?)
}

#[derive(Debug, thiserror::Error)]
enum SecondsError {
    #[error("{0:?} is not a number of seconds")]
    NotANumber(String),
    #[error(transparent)]
    OutOfRange(#[from] std::time::TryFromFloatSecsError),
}

pub fn serve(a: ServeArgs) -> Result<ExitCode, CliError> {
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
            return Ok(ExitCode::SUCCESS);
        }
        Some(name) => match server::defects::Defect::parse(name) {
            Some(d) => Some(d),
            None => return Err(CliError::UnknownDefect(name.to_string())),
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
            return Ok(ExitCode::SUCCESS);
        }
        match server::variations::Variation::parse(name) {
            Some(v) => {
                variations.insert(v);
            }
            None => return Err(CliError::UnknownVariation(name.to_string())),
        }
    }
    // the root's lock is held until serving ends: gc refuses a root a registry that may
    // write is using
    let (storage, _root_lock): (Arc<dyn storage::Storage>, _) = if a.memory {
        let memory = storage::MemStorage::with_limit(a.memory_limit);
        (Arc::new(memory), None)
    } else {
        let lock = lock_root(&a.root, a.read_only)?;
        let fs = storage::FsStorage::open(&a.root).map_err(|source| CliError::Storage {
            path: a.root.clone(),
            source,
        })?;
        (Arc::new(fs), Some(lock))
    };
    let config = Config {
        delete_enabled: !a.no_delete,
        read_only: a.read_only,
        max_manifest_bytes: a.max_manifest_bytes,
        referrers_page_size: a.referrers_page_size,
        defect,
        variations,
        upload_ttl: std::time::Duration::from_secs(a.upload_ttl.max(1)),
        limits: server::conn::Limits {
            header_read: a.header_timeout,
            idle: a.idle_timeout,
            body_progress: a.body_timeout,
            shutdown: a.shutdown_timeout,
            lock_wait: a.lock_timeout,
            max_connections: connection_cap(a.max_connections),
        },
        max_uploads: a.max_uploads,
        max_uploads_per_client: a.max_uploads_per_client,
        max_waiters_per_client: a.max_waiters_per_client,
        referrers_page_bytes: a.referrers_page_bytes,
        recorder: None,
    };
    let auth = match (&a.auth, &a.htpasswd) {
        (Some(mode), Some(file)) => {
            let settings = server::auth::Settings {
                rules: a.rules.clone(),
                anonymous_pull: a.anonymous_pull,
                token_realm: a.token_realm.clone(),
                ..server::auth::Settings::new(*mode, file)
            };
            Some(Arc::new(server::auth::Auth::load(&settings)?))
        }
        _ => None,
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(server::tls::load(c, k)?),
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
        if a.auth == Some(server::auth::Mode::Token)
            && a.token_realm.is_none()
            && a.addr.ip().is_unspecified()
        {
            tracing::warn!(
                "the token realm names {}, which remote clients cannot reach: set --token-realm",
                a.addr
            );
        }
        let stopped = shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        stopped.map(|()| ExitCode::SUCCESS)
    })
}

/// Takes the root's lock, before the storage opens it (opening cleans `tmp/`, which is only
/// safe for the root's one writer): exclusive to write, shared to serve `--read-only`.
fn lock_root(
    root: &std::path::Path,
    read_only: bool,
) -> Result<storage::fs::lock::RootLock, CliError> {
    use storage::fs::lock::{RootLock, RootUse};
    let wanted = if read_only {
        RootUse::ServeReadOnly
    } else {
        RootUse::Serve
    };
    let lock = std::fs::create_dir_all(root)
        .map_err(|source| CliError::Storage {
            path: root.to_path_buf(),
            source,
        })
        .and_then(|()| {
            RootLock::acquire(root, wanted).map_err(|source| CliError::RootInUse {
                path: root.to_path_buf(),
                source,
            })
        })?;
    Ok(lock)
}

#[cfg(not(target_os = "linux"))]
fn connection_cap(wanted: usize) -> usize {
    wanted
}

/// Raises the open-file limit as far as allowed and keeps the connection cap under it (each
/// connection is a descriptor; storage needs some too), so reaching the cap makes new
/// connections wait instead of failing every `open` in the registry.
#[cfg(target_os = "linux")]
fn connection_cap(wanted: usize) -> usize {
    const RESERVED: u64 = 64;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return wanted;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur
    };
    let room = soft.saturating_sub(RESERVED).max(1) as usize;
    if room < wanted {
        eprintln!(
            "warning: {soft} open files allowed: serving at most {room} connections, not {wanted}"
        );
        room
    } else {
        wanted
    }
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
