//! Users and their passwords: an htpasswd file with bcrypt hashes (`htpasswd -B`).
//!
//! bcrypt is slow on purpose, so checks run on the blocking pool, at most a few at a time
//! (the async workers keep answering everything else while guesses are checked), behind the
//! per-client back-off of [`Throttle`]. An unknown user is checked against a dummy hash of
//! the same cost as the real ones, so the time of an answer does not tell which users exist.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tokio::sync::{OnceCell, Semaphore};

use super::AuthError;
use super::throttle::{ClientKey, Throttle};

/// Password checks waiting for the pool beyond which new ones are turned away at once.
const MAX_WAITING: usize = 64;

/// Why a login failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum LoginError {
    #[error("wrong user name or password")]
    Wrong,
    /// The client failed too often, or too many checks are already waiting.
    #[error("too many failed logins; retry in {0:?}")]
    Throttled(Duration),
}

pub(crate) struct Users {
    hashes: HashMap<String, String>,
    /// Checked for unknown users: a hash of a random password, at the highest cost in use.
    dummy: String,
    /// Credentials already checked: the SHA-256 of "user:password" per user, so a client
    /// sending the same credentials on every request pays bcrypt once.
    verified: Mutex<HashMap<String, [u8; 32]>>,
    /// Checks under way, by fingerprint.
    inflight: Mutex<HashMap<[u8; 32], Arc<OnceCell<bool>>>>,
    pool: Semaphore,
    waiting: AtomicUsize,
    throttle: Throttle,
}

impl Users {
    pub(crate) fn load(path: &Path) -> Result<Users, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|e| AuthError::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut hashes = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: &str| AuthError::Htpasswd {
                path: path.to_path_buf(),
                line: n + 1,
                message: message.to_string(),
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| bad("expected user:hash"))?;
            hash.parse::<bcrypt::HashParts>()
                .map_err(|_| bad("only bcrypt hashes are accepted (htpasswd -B)"))?;
            hashes.insert(user.to_string(), hash.to_string());
        }
        let cost = hashes
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let mut secret = [0u8; 18];
        getrandom::fill(&mut secret).map_err(|e| AuthError::Random(e.to_string()))?;
        let dummy = bcrypt::hash(secret, cost).map_err(|e| AuthError::Random(e.to_string()))?;
        // one check at a time per two cores: the other half stays for serving requests
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get() / 2);
        Ok(Users {
            hashes,
            dummy,
            verified: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            pool: Semaphore::new(parallel.max(1)),
            waiting: AtomicUsize::new(0),
            throttle: Throttle::default(),
        })
    }

    /// Checks `user`'s `password` for a request from `client`: the user name, or why not.
    pub(crate) async fn login(
        &self,
        client: ClientKey,
        user: &str,
        password: &str,
    ) -> Result<String, LoginError> {
        // before anything else, so a waiting client learns nothing, not even from the cache
        if let Some(wait) = self.throttle.waiting(client) {
            return Err(LoginError::Throttled(wait));
        }
        let fingerprint: [u8; 32] = Sha256::digest(format!("{user}:{password}")).into();
        if self.lock_verified().get(user) == Some(&fingerprint) {
            return Ok(user.to_string());
        }
        let known = self.hashes.get(user);
        // identical credentials arriving together (a client's burst of first requests)
        // share one check
        let cell = self.lock_inflight().entry(fingerprint).or_default().clone();
        let checked = cell
            .get_or_try_init(|| self.check(client, known.unwrap_or(&self.dummy), password))
            .await
            .copied();
        {
            let mut inflight = self.lock_inflight();
            if inflight
                .get(&fingerprint)
                .is_some_and(|c| Arc::ptr_eq(c, &cell))
            {
                inflight.remove(&fingerprint);
            }
        }
        let ok = checked?;
        if ok && known.is_some() {
            self.lock_verified().insert(user.to_string(), fingerprint);
            Ok(user.to_string())
        } else {
            self.throttle.failed(client);
            Err(LoginError::Wrong)
        }
    }

    /// One bcrypt check on the pool, unless the client has to wait or the queue is full.
    async fn check(
        &self,
        client: ClientKey,
        hash: &str,
        password: &str,
    ) -> Result<bool, LoginError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(LoginError::Throttled(Duration::from_secs(1)));
        }
        let permit = self.pool.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.expect("the pool is never closed");
        // the client may have failed enough while this check waited
        if let Some(wait) = self.throttle.waiting(client) {
            return Err(LoginError::Throttled(wait));
        }
        let (hash, password) = (hash.to_string(), password.to_string());
        Ok(
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false),
        )
    }

    fn lock_inflight(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<OnceCell<bool>>>> {
        self.inflight.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, [u8; 32]>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(dir: &Path) -> Users {
        users_of_cost(dir, 5)
    }

    fn users_of_cost(dir: &Path, cost: u32) -> Users {
        let p = dir.join("htpasswd");
        std::fs::write(&p, format!("u:{}\n", bcrypt::hash("pw", cost).unwrap())).unwrap();
        Users::load(&p).unwrap()
    }

    #[test]
    fn the_dummy_hash_has_the_cost_of_the_real_ones() {
        let dir = tempfile::tempdir().unwrap();
        let u = users(dir.path());
        assert_eq!(u.dummy.parse::<bcrypt::HashParts>().unwrap().get_cost(), 5);
    }

    #[tokio::test]
    async fn logins_fail_then_wait() {
        let dir = tempfile::tempdir().unwrap();
        let u = users(dir.path());
        let c = ClientKey::of("192.0.2.1".parse().unwrap());
        assert_eq!(u.login(c, "u", "pw").await.unwrap(), "u");
        for _ in 0..super::super::throttle::FREE_FAILURES {
            assert_eq!(u.login(c, "u", "no").await, Err(LoginError::Wrong));
        }
        assert_eq!(u.login(c, "nobody", "pw").await, Err(LoginError::Wrong));
        // now even the right password waits, from the cache or not
        assert!(matches!(
            u.login(c, "u", "pw").await,
            Err(LoginError::Throttled(_))
        ));
        let other = ClientKey::of("192.0.2.2".parse().unwrap());
        assert_eq!(u.login(other, "u", "pw").await.unwrap(), "u");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_the_same_credentials_is_one_check_and_never_turned_away() {
        let dir = tempfile::tempdir().unwrap();
        // slow enough that the whole burst arrives while the first check runs
        let u = Arc::new(users_of_cost(dir.path(), 9));
        let c = ClientKey::of("192.0.2.1".parse().unwrap());
        let burst: Vec<_> = (0..4 * MAX_WAITING)
            .map(|_| {
                let u = u.clone();
                tokio::spawn(async move { u.login(c, "u", "pw").await })
            })
            .collect();
        for b in burst {
            assert_eq!(b.await.unwrap().unwrap(), "u");
        }
    }

    #[test]
    fn only_bcrypt_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("htpasswd");
        std::fs::write(&p, "u:{SHA}abc\n").unwrap();
        let e = Users::load(&p).err().unwrap().to_string();
        assert!(e.contains(":1: only bcrypt"), "{e}");
    }
}
