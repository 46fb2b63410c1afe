//! Requests waiting for an upload session's lock: bounded in time, and in number per client.
//!
//! One request at a time changes a session (a chunk, the closing PUT, a cancel); another on
//! the same session waits for it. That wait is outside every limit of `conn.rs`: the body
//! timeout counts silence only while a handler reads a body, and a waiter reads nothing yet.
//! Unbounded, one client could keep a chunk alive (a byte now and then is progress enough)
//! and park any number of requests behind it, each holding a connection slot, until no other
//! client is served at all. So a waiter:
//! - gives up after [`Limits::lock_wait`](super::conn::Limits::lock_wait);
//! - counts against its client (an IPv4 address or an IPv6 /64): past
//!   [`Config::max_waiters_per_client`](super::Config::max_waiters_per_client) of its
//!   requests waiting at once (and never more than a sixteenth of the connection slots), a
//!   new one is refused without waiting.
//!
//! Both are answered 429 `TOOMANYREQUESTS` (code-14 of the OCI table) with `Retry-After`,
//! and the connection is closed, so the slot is free for others at once (the refused
//! request's body is never read: draining it would hold the slot again). Why 429: a second
//! request on a session that a request is still writing was sent too early by this client,
//! and the same request, sent again once the first is done, succeeds, which is what 429 with
//! `Retry-After` tells a client (RFC 6585 §4), and registry clients retry it. 503 would say
//! the whole registry is unavailable; 409 asks the client to resolve a conflict in the
//! resource's state, where waiting is all it needs; 423 `Locked` is WebDAV's and unknown to
//! registry clients. The session itself is untouched by the refusal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{Extensions, StatusCode, header};
use tokio::sync::MutexGuard;

use super::auth::ClientKey;
use super::error::{AppError, Result};
use super::{App, Config, Session, SessionSlot};
use crate::oci::ErrorCode;

/// Requests waiting for a session lock, per client.
#[derive(Default)]
pub(crate) struct Waiters {
    per_client: Mutex<HashMap<ClientKey, usize>>,
}

/// Why a request got no session lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// Its client already has this many requests waiting.
    TooManyWaiting(usize),
    /// The request using the session did not finish within the wait allowed.
    WaitedTooLong(Duration),
}

impl Refusal {
    fn message(self) -> String {
        match self {
            Refusal::TooManyWaiting(n) => format!(
                "this client has {n} requests waiting for upload sessions in use, \
                 the most one client may have"
            ),
            Refusal::WaitedTooLong(d) => format!(
                "another request is using this upload session; waited {} s for it",
                d.as_secs_f64()
            ),
        }
    }
}

/// One waiting request of a client, counted for as long as it lives (also when the request
/// is dropped, its connection gone, while it waits).
struct Waiting<'a> {
    waiters: &'a Waiters,
    client: ClientKey,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut m = self
            .waiters
            .per_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.client);
            }
        }
    }
}

impl Waiters {
    /// Counts one more waiter of `client`, unless it has `cap` already.
    fn enter(&self, client: ClientKey, cap: usize) -> std::result::Result<Waiting<'_>, Refusal> {
        let mut m = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(client).or_default();
        if *n >= cap {
            let refused = *n;
            if refused == 0 {
                m.remove(&client);
            }
            return Err(Refusal::TooManyWaiting(refused));
        }
        *n += 1;
        Ok(Waiting {
            waiters: self,
            client,
        })
    }

    /// Requests of all clients waiting now.
    #[cfg(test)]
    fn count(&self) -> usize {
        self.per_client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum()
    }
}

impl App {
    /// The lock of `slot`, for a request whose extensions name its client: at once when the
    /// session is free, else after waiting within the bounds of this module.
    pub(crate) async fn lock_session<'s>(
        &self,
        slot: &'s SessionSlot,
        request: &Extensions,
    ) -> Result<MutexGuard<'s, Session>> {
        if let Ok(session) = slot.session.try_lock() {
            return Ok(session);
        }
        let client = ClientKey::from_extensions(request);
        let wait = self.config.limits.lock_wait;
        let _waiting = self
            .waiters
            .enter(client, self.config.waiter_cap())
            .map_err(|r| refused(r, wait))?;
        tokio::time::timeout(wait, slot.session.lock())
            .await
            .map_err(|_| refused(Refusal::WaitedTooLong(wait), wait))
    }
}

impl Config {
    /// Requests of one client that may wait at once: the configured cap, and never more than
    /// a sixteenth of the connection slots (at least one), so that filling every slot with
    /// waiters takes sixteen clients, whatever `--max-connections` is.
    pub fn waiter_cap(&self) -> usize {
        let share = self.limits.max_connections / SLOT_SHARE;
        self.max_waiters_per_client.min(share.max(1))
    }
}

/// One client's waiters hold at most 1/`SLOT_SHARE` of the connection slots.
const SLOT_SHARE: usize = 16;

fn refused(why: Refusal, wait: Duration) -> AppError {
    tracing::info!(reason = %why.message(), "session lock refused");
    // whole seconds, at least one: by then the request using the session has had as long
    // again to finish
    let retry = wait.as_secs_f64().ceil().max(1.0) as u64;
    AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyRequests,
        why.message(),
    )
    .header(header::RETRY_AFTER, retry.to_string())
    .header(header::CONNECTION, "close")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_are_counted_per_client_and_forgotten() {
        let w = Waiters::default();
        let a = ClientKey::of("127.0.0.1".parse().unwrap());
        let b = ClientKey::of("127.0.0.2".parse().unwrap());
        let first = w.enter(a, 2).unwrap();
        let second = w.enter(a, 2).unwrap();
        assert_eq!(w.enter(a, 2).err(), Some(Refusal::TooManyWaiting(2)));
        // another client is not held back by the first one's waiters
        let other = w.enter(b, 2).unwrap();
        assert_eq!(w.count(), 3);
        drop(first);
        let third = w.enter(a, 2).unwrap();
        drop((second, third, other));
        assert_eq!(w.count(), 0);
        assert!(w.per_client.lock().unwrap().is_empty());
        // a cap of zero refuses every waiter and remembers nothing
        assert_eq!(w.enter(a, 0).err(), Some(Refusal::TooManyWaiting(0)));
        assert!(w.per_client.lock().unwrap().is_empty());
    }
}
