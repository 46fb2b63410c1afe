//! Back-off for clients that fail password checks.
//!
//! A client (an IPv4 address, or an IPv6 /64, the smallest block one host usually holds)
//! gets a few failures free; after that, every further failure doubles the time it must
//! wait before its next credentials are looked at (1 s, 2 s, 4 s … capped at a minute).
//! While it waits it is answered 429 `TOOMANYREQUESTS` with `Retry-After`, without a
//! password check: an answer, rather than a delay, so that a guessing client holds no
//! connection and no bcrypt work, and a well-behaved one knows when to come back. Whether
//! the credentials were right is not looked at while waiting, so the 429 tells nothing.
//! Failures are forgotten a quarter of an hour after the last one; a success does not
//! reset them (a client with one valid account could otherwise guess another's password at
//! full speed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::Extensions;

/// Failures a client may make before it has to wait.
pub(crate) const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Clients remembered before the forgotten ones are swept out.
const SWEEP_AT: usize = 4096;

/// Whom failures are counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    V4(std::net::Ipv4Addr),
    /// The /64 network of an IPv6 address.
    V6Net(u64),
    /// The peer address is unknown (a router served without connection info).
    Unknown,
}

impl ClientKey {
    pub(crate) fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4),
                None => ClientKey::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }

    /// The client of a request, from the connection info the server records.
    pub(crate) fn from_extensions(ext: &Extensions) -> ClientKey {
        ext.get::<crate::server::conn::Peer>()
            .map_or(ClientKey::Unknown, |c| ClientKey::of(c.0.ip()))
    }
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    fn wait(&self) -> Duration {
        match self.count.checked_sub(FREE_FAILURES + 1) {
            None => Duration::ZERO,
            Some(n) => Duration::from_secs(1u64 << n.min(16)).min(MAX_WAIT),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Throttle {
    clients: Mutex<HashMap<ClientKey, Failures>>,
}

impl Throttle {
    /// How long `client` must still wait before its credentials are checked, if at all.
    pub(crate) fn waiting(&self, client: ClientKey) -> Option<Duration> {
        self.waiting_at(client, Instant::now())
    }

    fn waiting_at(&self, client: ClientKey, now: Instant) -> Option<Duration> {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let f = clients.get(&client)?;
        let until = f.last + f.wait();
        (until > now).then(|| until - now)
    }

    /// Records a failed check by `client`.
    pub(crate) fn failed(&self, client: ClientKey) {
        self.failed_at(client, Instant::now())
    }

    fn failed_at(&self, client: ClientKey, now: Instant) {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() >= SWEEP_AT {
            clients.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        }
        let f = clients.entry(client).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(f.last) >= FORGET_AFTER {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        if f.count == FREE_FAILURES + 1 {
            // the client, never the user name it tried
            tracing::warn!(client = ?client, failures = f.count, "failed logins: client backs off");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_then_doubling_waits_then_forgotten() {
        let t = Throttle::default();
        let c = ClientKey::of("192.0.2.7".parse().unwrap());
        let other = ClientKey::of("192.0.2.8".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.failed_at(c, t0);
        }
        assert_eq!(t.waiting_at(c, t0), None);
        t.failed_at(c, t0);
        assert_eq!(t.waiting_at(c, t0), Some(Duration::from_secs(1)));
        t.failed_at(c, t0);
        assert_eq!(t.waiting_at(c, t0), Some(Duration::from_secs(2)));
        for _ in 0..20 {
            t.failed_at(c, t0);
        }
        assert_eq!(t.waiting_at(c, t0), Some(MAX_WAIT));
        assert_eq!(t.waiting_at(c, t0 + MAX_WAIT), None);
        assert_eq!(t.waiting_at(other, t0), None);
        // a quarter of an hour later the slate is clean
        let later = t0 + FORGET_AFTER;
        t.failed_at(c, later);
        assert_eq!(t.waiting_at(c, later), None);
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_v4_as_v4() {
        let a = ClientKey::of("2001:db8:1:2::1".parse().unwrap());
        let b = ClientKey::of("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = ClientKey::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            ClientKey::of("::ffff:192.0.2.7".parse().unwrap()),
            ClientKey::of("192.0.2.7".parse().unwrap())
        );
    }
}
