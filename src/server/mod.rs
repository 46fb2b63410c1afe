//! The reference registry: the OCI distribution API on real storage.
//!
//! [`App`] holds the configuration and storage; `Ctx` is per request. All of `/v2/` goes
//! through one dispatcher (`routes::dispatch`) that maps a path and method to an
//! [`Endpoint`](crate::oci::api::Endpoint) of the table in [`crate::oci::api`]. Around it,
//! middleware applies the allowed variations (`variations`) and deliberate defects
//! (`defects`); storage-level ones decorate the storage instead.

pub mod auth;
pub(crate) mod blobs;
pub mod conn;
mod decorated;
pub mod defects;
pub mod error;
pub mod gc;
pub(crate) mod listing;
pub(crate) mod manifests;
pub mod recorder;
pub(crate) mod request;
pub(crate) mod routes;
pub mod storage;
pub mod tls;
pub(crate) mod uploads;
pub mod variations;
mod waiters;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;

use crate::oci::Hasher;
pub use error::AppError;
use storage::Storage;

/// Registry-wide settings (`regverify serve` flags).
#[derive(Clone, Debug)]
pub struct Config {
    /// Blob, manifest and tag deletion; off answers 405 `UNSUPPORTED`.
    pub delete_enabled: bool,
    /// Refuse every write with 405 `UNSUPPORTED`.
    pub read_only: bool,
    /// Largest manifest accepted; larger ones get 413.
    pub max_manifest_bytes: usize,
    /// Descriptors per referrers page before a `Link` to the next one.
    pub referrers_page_size: usize,
    /// A deliberate defect (`--defect`), to prove the scenarios catch it.
    pub defect: Option<defects::Defect>,
    /// Behaviours the spec allows, other than the reference's own (`--variation`).
    pub variations: variations::Variations,
    /// Uploads untouched this long are cancelled.
    pub upload_ttl: std::time::Duration,
    /// Timeouts and the connection cap.
    pub limits: conn::Limits,
    /// Upload sessions open at once, in all; more answer 429 `TOOMANYREQUESTS`.
    pub max_uploads: usize,
    /// Upload sessions open at once from one client address.
    pub max_uploads_per_client: usize,
    /// Requests of one client waiting at once for upload sessions other requests are using;
    /// more answer 429 `TOOMANYREQUESTS` at once (see `waiters`).
    pub max_waiters_per_client: usize,
    /// Bytes of descriptors per referrers page (besides the count cap).
    pub referrers_page_bytes: usize,
    /// Records every request and answer (`regverify clients`); none: nothing is recorded.
    pub recorder: Option<Arc<recorder::Recorder>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            delete_enabled: true,
            read_only: false,
            max_manifest_bytes: 4 * 1024 * 1024,
            referrers_page_size: 50,
            defect: None,
            variations: variations::Variations::new(),
            upload_ttl: std::time::Duration::from_secs(24 * 3600),
            limits: conn::Limits::default(),
            max_uploads: 10_000,
            max_uploads_per_client: 1_000,
            max_waiters_per_client: 64,
            referrers_page_bytes: 4 * 1024 * 1024,
            recorder: None,
        }
    }
}

/// Hash state of an open upload, kept while the server runs so chunks are hashed once as
/// they arrive. After a restart it is rebuilt by reading the upload back.
#[derive(Default)]
pub(crate) struct Session {
    /// Hash of every byte of the upload so far, when known.
    pub(crate) hasher: Option<Hasher>,
}

/// An open upload as the server tracks it: its lock (one request at a time changes it) and
/// what status requests may read while a chunk is on its way.
#[derive(Default)]
pub(crate) struct SessionSlot {
    pub session: tokio::sync::Mutex<Session>,
    /// Bytes accepted before the chunk being received, if one is.
    pub accepted: AtomicU64,
    /// The client that opened it (per-client caps); none when not known.
    owner: Option<IpAddr>,
}

#[derive(Default)]
struct Sessions {
    open: HashMap<String, Arc<SessionSlot>>,
    per_client: HashMap<IpAddr, usize>,
}

impl Sessions {
    fn remove(&mut self, id: &str) {
        if let Some(slot) = self.open.remove(id)
            && let Some(owner) = slot.owner
            && let Some(n) = self.per_client.get_mut(&owner)
        {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&owner);
            }
        }
    }
}

/// Why a new upload session is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionLimit {
    #[error("{0} upload sessions are open, the most this registry keeps")]
    Total(usize),
    #[error("this client has {0} upload sessions open, the most one client may keep")]
    PerClient(usize),
}

/// Stripes of the per-repository write lock: repositories sharing one only wait on each other.
const REPO_LOCK_STRIPES: usize = 64;

pub struct App {
    pub config: Config,
    pub storage: Arc<dyn Storage>,
    /// Authentication and access rules; none: everything is open.
    pub auth: Option<Arc<auth::Auth>>,
    /// Whether the server speaks TLS (for the token realm's scheme).
    pub tls: bool,
    sessions: Mutex<Sessions>,
    /// Requests waiting for a session's lock, counted per client.
    waiters: waiters::Waiters,
    /// Serialises writes of manifests and tags per repository (hashed into a few stripes), so
    /// a tag put and a delete of its manifest cannot interleave.
    repo_locks: Vec<tokio::sync::Mutex<()>>,
    next_request: AtomicU64,
    variation_memory: variations::Memory,
    defect_memory: defects::Memory,
    /// What the `manifest-type-params` defect remembers of pushes.
    pub(crate) pushed_types: defects::PushedTypes,
}

/// Per-request context handed to handlers.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub request_id: u64,
    /// The repository the request addresses, once parsed and validated.
    pub repo: Option<String>,
    /// Who is asking, once authenticated.
    pub subject: Option<String>,
    /// The endpoint the request reaches, once routed.
    pub endpoint: Option<crate::oci::api::Endpoint>,
}

impl App {
    pub fn new(config: Config, storage: Arc<dyn Storage>) -> Arc<App> {
        App::secured(config, storage, None, false)
    }

    /// An app with authentication (`auth`) and/or TLS.
    pub fn secured(
        config: Config,
        storage: Arc<dyn Storage>,
        auth: Option<Arc<auth::Auth>>,
        tls: bool,
    ) -> Arc<App> {
        // storage-level defects and variations decorate the storage, out of the handlers' sight
        let storage = decorated::Decorated::wrap(storage, config.defect, &config.variations);
        Arc::new(App {
            config,
            storage,
            auth,
            tls,
            sessions: Mutex::new(Sessions::default()),
            waiters: waiters::Waiters::default(),
            repo_locks: (0..REPO_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            next_request: AtomicU64::new(1),
            variation_memory: variations::Memory::default(),
            defect_memory: defects::Memory::default(),
            pushed_types: defects::PushedTypes::default(),
        })
    }

    fn next_request_id(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// The in-memory half of an upload session (created empty if the server restarted).
    pub(crate) fn session(&self, id: &str) -> Arc<SessionSlot> {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// Registers a new session for `owner`, within the caps on open sessions.
    pub(crate) fn open_session(
        &self,
        id: &str,
        owner: Option<IpAddr>,
    ) -> Result<Arc<SessionSlot>, SessionLimit> {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if s.open.len() >= self.config.max_uploads {
            return Err(SessionLimit::Total(s.open.len()));
        }
        if let Some(owner) = owner {
            let n = s.per_client.get(&owner).copied().unwrap_or(0);
            if n >= self.config.max_uploads_per_client {
                return Err(SessionLimit::PerClient(n));
            }
            *s.per_client.entry(owner).or_default() += 1;
        }
        let slot = Arc::new(SessionSlot {
            owner,
            ..SessionSlot::default()
        });
        s.open.insert(id.to_string(), slot.clone());
        Ok(slot)
    }

    pub(crate) fn drop_session(&self, id: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Forgets sessions whose upload storage no longer has (expired) and that no request is
    /// using; returns how many.
    pub fn prune_sessions(&self, live: &std::collections::HashSet<String>) -> usize {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<String> = s
            .open
            .iter()
            .filter(|(id, slot)| !live.contains(*id) && Arc::strong_count(slot) == 1)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            s.remove(id);
        }
        gone.len()
    }

    /// Sessions the server tracks now.
    pub fn open_sessions(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open
            .len()
    }

    /// The write lock of `repo`'s manifests and tags.
    pub async fn repo_lock(&self, repo: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher as _};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        repo.hash(&mut h);
        self.repo_locks[(h.finish() % REPO_LOCK_STRIPES as u64) as usize]
            .lock()
            .await
    }

    /// Runs blocking storage work off the async workers.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Storage) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, AppError> {
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || f(storage.as_ref()))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::from)
    }
}

/// The router shared by `serve`, the runner's embedded reference and the tests.
pub fn app(app: Arc<App>) -> Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    // each layer wraps the ones before it: defects rewrite what the registry, variations
    // included, answers, the log line shows what was sent, and the recorder (when on) keeps it
    Router::new()
        .fallback(routes::dispatch)
        .layer(from_fn_with_state(app.clone(), variations::layer))
        .layer(from_fn_with_state(app.clone(), defects::layer))
        .layer(from_fn(routes::log))
        // outermost: what the client sent and what it received
        .layer(from_fn_with_state(app.clone(), recorder::layer))
        .with_state(app)
}

/// A running server; dropping it does not stop it, [`Server::shutdown`] does.
pub struct Server {
    pub addr: SocketAddr,
    pub tls: bool,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    janitor: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
    pub async fn shutdown(self) {
        self.janitor.abort();
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves `app` in the background (over TLS when `tls` is given).
pub async fn spawn(app_state: Arc<App>, addr: SocketAddr) -> std::io::Result<Server> {
    spawn_with(app_state, addr, None).await
}

pub async fn spawn_with(
    app_state: Arc<App>,
    addr: SocketAddr,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
) -> std::io::Result<Server> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // the janitor: abandoned uploads expire (spec main asks registries to time them out), and
    // the server forgets their sessions
    let ttl = app_state.config.upload_ttl;
    let sweeper = app_state.clone();
    let janitor = tokio::spawn(async move {
        let every = (ttl / 4).clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(600),
        );
        loop {
            tokio::time::sleep(every).await;
            let s = sweeper.storage.clone();
            let swept = tokio::task::spawn_blocking(move || {
                let n = s.expire_uploads(ttl)?;
                let live: std::collections::HashSet<String> = s.uploads()?.into_iter().collect();
                Ok::<_, std::io::Error>((n, live))
            })
            .await;
            match swept {
                Ok(Ok((n, live))) => {
                    let forgotten = sweeper.prune_sessions(&live);
                    if n > 0 || forgotten > 0 {
                        tracing::info!(expired = n, forgotten, "abandoned uploads cancelled");
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "expiring uploads"),
                Err(_) => {}
            }
        }
    });
    if let Some(auth) = &app_state.auth {
        auth.listening_on(addr, tls.is_some());
    }
    let limits = app_state.config.limits;
    let router = app(app_state);
    let secure = tls.is_some();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let task = tokio::spawn(conn::accept_loop(listener, router, acceptor, limits, rx));
    Ok(Server {
        addr,
        tls: secure,
        shutdown: tx,
        task,
        janitor,
    })
}

/// Reads and discards up to `limit` bytes of a request body that is being refused, so the
/// client, still sending, gets to read the answer instead of a reset connection.
pub(crate) async fn drain(body: axum::body::Body, limit: u64) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen < limit {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(b))) => seen += b.len() as u64,
            _ => break,
        }
    }
}

/// How much of a refused body is drained before answering.
pub(crate) const DRAIN_LIMIT: u64 = 32 * 1024 * 1024;

/// A fresh random upload id, shaped as a UUID (version 4) as the spec asks.
pub fn new_upload_id() -> String {
    crate::oci::random_uuid()
}
