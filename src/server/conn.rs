//! Serving connections: HTTP/1.1 on hyper, with the limits a server open to a network needs.
//!
//! Every connection's socket is wrapped in [`Watched`], which knows what the connection is
//! waiting for and gives up when the client makes no progress:
//! - between requests, nothing arrives for [`Limits::idle`] → closed;
//! - a request's headers, begun, are not complete within [`Limits::header_read`] → closed
//!   (slowloris);
//! - a response the client does not read for [`Limits::idle`] → closed.
//!
//! While a request is handled the socket itself has no read limit; its body does instead
//! ([`ProgressBody`]): once the handler reads it, a body that sends nothing for
//! [`Limits::body_progress`] ends with an error, so the handler rolls its chunk back and
//! releases the session. A handler busy after its body (a commit) is not cut off; one waiting
//! for an upload session's lock is bounded by [`Limits::lock_wait`] and per client instead
//! (`waiters.rs`).
//!
//! A semaphore caps the connections served at once; past the cap new connections wait in the
//! listen backlog (one log line says so). Shutdown stops accepting, lets running requests
//! finish, and cuts off what is still running after [`Limits::shutdown`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

/// Connection limits (`serve` flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From the first byte of a request to the end of its headers.
    pub header_read: Duration,
    /// A connection between requests, or whose client stops reading a response.
    pub idle: Duration,
    /// A request body that sends nothing for this long is dropped.
    pub body_progress: Duration,
    /// On shutdown, requests still running after this long are cut off.
    pub shutdown: Duration,
    /// A request waiting this long for an upload session another request is using is
    /// answered 429 (see `waiters`): waiting reads nothing, so no other limit applies.
    pub lock_wait: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            body_progress: Duration::from_secs(30),
            shutdown: Duration::from_secs(10),
            lock_wait: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// The client's address, put in each request's extensions (per-client limits use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// What the connection is doing, shared between the socket wrapper and the service.
#[derive(Default)]
struct Activity {
    /// A request is being handled (its headers were read, its handler has not answered).
    busy: AtomicBool,
    /// Bumped when a request starts and when it ends, so the socket wrapper notices.
    turns: AtomicU64,
}

/// Marks a request as being handled for as long as it lives (also if the handler is dropped).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(a: Arc<Activity>) -> Busy {
        a.busy.store(true, Ordering::Release);
        a.turns.fetch_add(1, Ordering::AcqRel);
        Busy(a)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
        self.0.turns.fetch_add(1, Ordering::AcqRel);
    }
}

/// A socket that fails with `TimedOut` when its client stops making progress (see the
/// module documentation for which limit applies when).
pub(crate) struct Watched<T> {
    io: T,
    limits: Limits,
    activity: Arc<Activity>,
    seen_turn: u64,
    /// Last time a byte moved either way (or a request started or ended).
    last: Instant,
    /// When the first byte of the next request's headers arrived.
    head_started: Option<Instant>,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stall {
    Idle,
    Headers,
}

impl Stall {
    fn describe(self) -> &'static str {
        match self {
            Stall::Idle => "the client sent or read nothing for the idle timeout",
            Stall::Headers => "the request headers did not arrive within the header timeout",
        }
    }
}

impl<T> Watched<T> {
    fn new(io: T, limits: Limits, activity: Arc<Activity>) -> Watched<T> {
        let now = Instant::now();
        Watched {
            io,
            limits,
            activity,
            seen_turn: 0,
            last: now,
            head_started: None,
            read_timer: Box::pin(tokio::time::sleep_until(now + limits.idle)),
            write_timer: Box::pin(tokio::time::sleep_until(now + limits.idle)),
        }
    }

    /// Notices requests starting or ending since the last look.
    fn sync(&mut self) {
        let turn = self.activity.turns.load(Ordering::Acquire);
        if turn != self.seen_turn {
            self.seen_turn = turn;
            self.last = Instant::now();
            self.head_started = None;
        }
    }

    /// What a pending read waits for, and until when; none while a request is handled.
    fn reading_stall(&self) -> Option<(Stall, Instant)> {
        if self.activity.busy.load(Ordering::Acquire) {
            None
        } else if let Some(t) = self.head_started {
            Some((Stall::Headers, t + self.limits.header_read))
        } else {
            Some((Stall::Idle, self.last + self.limits.idle))
        }
    }

    fn expired(timer: &mut Pin<Box<Sleep>>, at: Instant, cx: &mut Context<'_>) -> bool {
        if timer.deadline() != at {
            timer.as_mut().reset(at);
        }
        timer.as_mut().poll(cx).is_ready()
    }
}

fn timed_out(stall: Stall) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, stall.describe())
}

use std::future::Future as _;

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        this.sync();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.last = Instant::now();
                    if this.head_started.is_none() && !this.activity.busy.load(Ordering::Acquire) {
                        this.head_started = Some(this.last);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let Some((stall, at)) = this.reading_stall() else {
                    return Poll::Pending;
                };
                if Self::expired(&mut this.read_timer, at, cx) {
                    tracing::info!(reason = stall.describe(), "connection dropped");
                    return Poll::Ready(Err(timed_out(stall)));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<T> Watched<T> {
    /// A write that moved bytes counts as progress; one the client does not take for the idle
    /// limit drops the connection.
    fn after_write(
        &mut self,
        written: Poll<std::io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.last = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => {
                let at = self.last + self.limits.idle;
                if Self::expired(&mut self.write_timer, at, cx) {
                    tracing::info!(reason = Stall::Idle.describe(), "connection dropped");
                    return Poll::Ready(Err(timed_out(Stall::Idle)));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        this.sync();
        let written = Pin::new(&mut this.io).poll_write(cx, data);
        this.after_write(written, cx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        this.sync();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.after_write(written, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A request body that fails with `TimedOut` when, being read, it sends nothing for `limit`.
struct ProgressBody {
    inner: Incoming,
    limit: Duration,
    /// Armed when a poll finds nothing: the clock runs only while the handler waits for the
    /// body, from the last frame.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl hyper::body::Body for ProgressBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.armed = false;
                Poll::Ready(r.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = Instant::now() + this.limit;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.armed {
                    timer.as_mut().reset(deadline);
                    this.armed = true;
                }
                if timer.as_mut().poll(cx).is_ready() {
                    tracing::info!("request body dropped: it sent nothing for the body timeout");
                    return Poll::Ready(Some(Err(Box::new(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body sent nothing for the body timeout",
                    )))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without a `Host` header
/// and to any request with more than one.
fn host_problem<B>(req: &Request<B>) -> Option<&'static str> {
    let hosts = req.headers().get_all(header::HOST).iter().count();
    if hosts > 1 {
        Some("more than one Host header\n")
    } else if hosts == 0 && req.version() == Version::HTTP_11 {
        Some("an HTTP/1.1 request needs a Host header\n")
    } else {
        None
    }
}

fn bad_request(why: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::from(why));
    *res.status_mut() = StatusCode::BAD_REQUEST;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    res
}

async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use hyper::service::Service as _;
    let activity = Arc::new(Activity::default());
    let io = Watched::new(io, limits, activity.clone());
    let inner = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let busy = Busy::new(activity.clone());
        let answer = host_problem(&req);
        let mut req = req.map(|inner| {
            Body::new(ProgressBody {
                inner,
                limit: limits.body_progress,
                timer: None,
                armed: false,
            })
        });
        req.extensions_mut().insert(Peer(peer));
        let call = answer.is_none().then(|| inner.call(req));
        async move {
            let res = match (answer, call) {
                (Some(why), _) => bad_request(why),
                (None, Some(call)) => match call.await {
                    Ok(res) => res,
                    Err(never) => match never {},
                },
                (None, None) => unreachable!("a call is made whenever there is no answer"),
            };
            drop(busy);
            Ok::<_, Infallible>(res)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}

/// Accepts connections until `stop` fires, then shuts down within [`Limits::shutdown`].
pub(crate) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_all, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut at_cap = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => {
                at_cap = false;
                p
            }
            Err(_) => {
                if !at_cap {
                    tracing::warn!(
                        limit = limits.max_connections,
                        "connection limit reached: new connections wait until one closes"
                    );
                    at_cap = true;
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                    _ = &mut stop => break,
                }
            }
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // out of descriptors, most likely: wait for some to close
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        while tasks.try_join_next().is_some() {}
        // small answers (202 to a chunk) must not wait for the client's delayed ACK
        let _ = tcp.set_nodelay(true);
        let (router, stopping, tls) = (router.clone(), stopping.clone(), tls.clone());
        tasks.spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(tcp, peer, router, limits, stopping).await,
                Some(acceptor) => {
                    let hs = tokio::time::timeout(limits.header_read, acceptor.accept(tcp)).await;
                    if let Ok(Ok(stream)) = hs {
                        serve_connection(stream, peer, router, limits, stopping).await;
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_all.send(true);
    let drained = tokio::time::timeout(limits.shutdown, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = tasks.len(),
            "shutdown deadline passed: cutting off requests still running"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}
