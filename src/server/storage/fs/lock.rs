//! The lock of a registry root, so that `gc` never sweeps beside a registry that may write.
//!
//! `<root>/lock` is an advisory lock (`flock`), held for as long as a process uses the root:
//! - `serve` holds it exclusive: it is the only writer of its root (its indexes and the
//!   cleanup of `tmp/` when it opens the root assume so), so nothing else may use the root;
//! - `serve --read-only` holds it shared: readers may share the root with each other;
//! - `gc` takes it exclusive: its mark must see every reference its sweep could remove;
//! - `gc --force` takes it shared: beside registries serving `--read-only`, which commit
//!   nothing the mark could miss, and never beside one that writes.
//!
//! Whoever comes second is refused at once (no waiting) and told who holds the root. The
//! kernel releases the lock when its process ends, however it ends: a crash leaves none
//! behind, and nothing is written into the file.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// The lock file, inside the root.
pub const LOCK_FILE: &str = "lock";

/// How a process means to use a root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootUse {
    /// `serve`: writes.
    Serve,
    /// `serve --read-only`: reads only.
    ServeReadOnly,
    /// `gc`: removes content; nothing else may use the root.
    Collect,
    /// `gc --force`: removes content beside registries serving `--read-only` only.
    CollectBesideReadOnly,
}

impl RootUse {
    fn exclusive(self) -> bool {
        match self {
            RootUse::Serve | RootUse::Collect => true,
            RootUse::ServeReadOnly | RootUse::CollectBesideReadOnly => false,
        }
    }
}

/// Who holds a root that a process was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// An exclusive holder: a registry that may write, or a `gc`.
    Writer,
    /// Shared holders only: registries serving `--read-only`, or a `gc --force`.
    Readers,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", in_use(*.wanted, *.holder))]
    InUse { wanted: RootUse, holder: Holder },
    #[error("lock file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// What the refused process is told: who holds the root and what it can do about it.
fn in_use(wanted: RootUse, holder: Holder) -> String {
    let who = match holder {
        Holder::Writer => "a registry that may write (or a gc) is using it",
        Holder::Readers => "a registry serving --read-only (or a gc --force) is using it",
    };
    let what = match (wanted, holder) {
        (RootUse::Collect, Holder::Writer) => {
            "stop it first: gc beside a registry taking pushes would remove content they commit"
        }
        (RootUse::Collect, Holder::Readers) => {
            "stop it first, or run gc --force, which a registry serving --read-only allows"
        }
        (RootUse::CollectBesideReadOnly, _) => {
            "--force is allowed only beside registries serving --read-only: stop it first"
        }
        (RootUse::Serve, _) => "a registry that writes must be alone with its root",
        (RootUse::ServeReadOnly, _) => "stop it first",
    };
    format!("{who}; {what}")
}

/// A held lock of a root; dropping it releases the lock.
#[derive(Debug)]
pub struct RootLock {
    _file: File,
}

impl RootLock {
    /// Takes the lock of `root` for `wanted`, or says who holds it. The root must exist.
    pub fn acquire(root: &Path, wanted: RootUse) -> Result<RootLock, LockError> {
        let path = root.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = open(&path).map_err(io)?;
        let taken = if wanted.exclusive() {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match taken {
            Ok(()) => Ok(RootLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::InUse {
                wanted,
                holder: holder(&path).map_err(io)?,
            }),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

/// The lock file, created if missing; opened for reading only where it cannot be written
/// (a read-only root), as a lock needs no write access.
fn open(path: &Path) -> io::Result<File> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        Ok(f) => Ok(f),
        Err(e) if matches!(fs::exists(path), Ok(true)) => File::open(path).map_err(|_| e),
        Err(e) => Err(e),
    }
}

/// Who holds the lock of `path`: a shared lock, taken and let go at once, succeeds only when
/// every holder shares.
fn holder(path: &Path) -> io::Result<Holder> {
    let probe = open(path)?;
    match probe.try_lock_shared() {
        Ok(()) => Ok(Holder::Readers),
        Err(TryLockError::WouldBlock) => Ok(Holder::Writer),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(root: &Path, wanted: RootUse) -> Option<Holder> {
        match RootLock::acquire(root, wanted) {
            Ok(_) => None,
            Err(LockError::InUse { holder, .. }) => Some(holder),
            Err(e) => panic!("{e}"),
        }
    }

    /// Each lock is a separate open of the file: `flock` locks of two opens conflict even
    /// within one process, as between processes.
    #[test]
    fn who_may_share_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        {
            let _writer = RootLock::acquire(root, RootUse::Serve).unwrap();
            for other in [
                RootUse::Serve,
                RootUse::ServeReadOnly,
                RootUse::Collect,
                RootUse::CollectBesideReadOnly,
            ] {
                assert_eq!(refused(root, other), Some(Holder::Writer), "{other:?}");
            }
        }
        {
            let _reader = RootLock::acquire(root, RootUse::ServeReadOnly).unwrap();
            let _another = RootLock::acquire(root, RootUse::ServeReadOnly).unwrap();
            let _forced = RootLock::acquire(root, RootUse::CollectBesideReadOnly).unwrap();
            assert_eq!(refused(root, RootUse::Collect), Some(Holder::Readers));
            assert_eq!(refused(root, RootUse::Serve), Some(Holder::Readers));
        }
        {
            let _gc = RootLock::acquire(root, RootUse::Collect).unwrap();
            assert_eq!(refused(root, RootUse::Serve), Some(Holder::Writer));
            assert_eq!(refused(root, RootUse::ServeReadOnly), Some(Holder::Writer));
        }
        // every lock let go: the root is free for anyone
        drop(RootLock::acquire(root, RootUse::Collect).unwrap());
    }
}
