//! `regverify gc`: reclaims the content deletes left behind (a delete removes links; the
//! content stays until nothing refers to it).
//!
//! Mark: every blob or manifest linked into any repository, and everything a linked manifest
//! refers to (config, layers, child manifests, subject). Sweep: every file of the content
//! store not marked is removed, one at a time, each removal atomic. The mark completes before
//! the first removal, so a crash at any point removes only unreferenced content, and a rerun
//! finishes the job. Safe while no process writes the root (a push running meanwhile could
//! commit content the mark did not see), which the root's lock enforces
//! ([`RootLock`](super::storage::fs::lock)): a sweep runs alone, or, asked to, beside
//! registries serving `--read-only`; a dry run removes nothing and takes no lock.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::storage::fs::lock::{LockError, RootLock, RootUse};
use crate::oci::{Algorithm, Digest, manifest};

/// Whether to remove what is unreferenced, or only list it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Sweep,
    DryRun,
}

/// What a sweep may run beside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beside {
    /// Nothing: no registry serves the root (`gc`).
    Nothing,
    /// Registries serving `--read-only`, which commit nothing (`gc --force`).
    ReadOnlyRegistries,
}

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("{0} is not a registry root (no blobs/ or repositories/)")]
    NotARoot(PathBuf),
    #[error(transparent)]
    InUse(#[from] LockError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What a collection did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub mode: Option<Mode>,
    /// Content referenced, kept.
    pub kept: usize,
    /// Content unreferenced: removed (or, in a dry run, that would be).
    pub removed: usize,
    pub removed_bytes: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.mode {
            Some(Mode::DryRun) => "would remove",
            _ => "removed",
        };
        write!(
            f,
            "gc: kept {} referenced, {verb} {} unreferenced ({} bytes)",
            self.kept, self.removed, self.removed_bytes
        )
    }
}

fn dirs(path: &Path) -> io::Result<Vec<fs::DirEntry>> {
    match fs::read_dir(path) {
        Ok(rd) => rd.collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e),
    }
}

/// Digests named by the files `<dir>/<alg>/<hex>`.
fn linked(dir: &Path, out: &mut Vec<Digest>) -> io::Result<()> {
    for alg in Algorithm::ALL {
        for e in dirs(&dir.join(alg.name()))? {
            if let Ok(d) = format!("{alg}:{}", e.file_name().to_string_lossy()).parse() {
                out.push(d);
            }
        }
    }
    Ok(())
}

/// Every repository directory under `dir` (those holding `_layers`).
fn repositories(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for e in dirs(dir)? {
        if !e.file_type()?.is_dir() || e.file_name().to_string_lossy().starts_with('_') {
            continue;
        }
        let p = e.path();
        if p.join("_layers").is_dir() {
            out.push(p.clone());
        }
        repositories(&p, out)?;
    }
    Ok(())
}

fn blob_path(root: &Path, d: &Digest) -> PathBuf {
    root.join("blobs")
        .join(d.algorithm().name())
        .join(&d.hex()[..2])
        .join(d.hex())
}

/// Everything referenced from the repositories of `root`.
pub fn mark(root: &Path) -> io::Result<HashSet<Digest>> {
    let mut repos = vec![];
    repositories(&root.join("repositories"), &mut repos)?;
    let mut marked = HashSet::new();
    for repo in repos {
        let mut layers = vec![];
        linked(&repo.join("_layers"), &mut layers)?;
        marked.extend(layers);
        let mut manifests = vec![];
        linked(&repo.join("_manifests"), &mut manifests)?;
        for m in manifests {
            let media_type = fs::read_to_string(
                repo.join("_manifests")
                    .join(m.algorithm().name())
                    .join(m.hex()),
            )
            .unwrap_or_default();
            // what the manifest refers to stays, even if its link was deleted
            if let Ok(body) = fs::read(blob_path(root, &m))
                && let Ok(parsed) = manifest::parse(&body, Some(media_type.trim()))
            {
                for d in parsed.config.iter().chain(parsed.children.iter()) {
                    marked.insert(d.digest.clone());
                }
                if let Some(s) = parsed.subject {
                    marked.insert(s.digest);
                }
            }
            marked.insert(m);
        }
    }
    Ok(marked)
}

/// Marks, then sweeps (or lists) the unreferenced content of `root`; each removal is written
/// to `out` as it happens. A sweep holds the root's lock throughout, or is refused when
/// something it may not run `beside` uses the root.
pub fn collect(
    root: &Path,
    mode: Mode,
    beside: Beside,
    out: &mut dyn Write,
) -> Result<Report, GcError> {
    if !root.join("blobs").is_dir() || !root.join("repositories").is_dir() {
        return Err(GcError::NotARoot(root.to_path_buf()));
    }
    let _lock = match (mode, beside) {
        (Mode::DryRun, _) => None,
        (Mode::Sweep, Beside::Nothing) => Some(RootLock::acquire(root, RootUse::Collect)?),
        (Mode::Sweep, Beside::ReadOnlyRegistries) => {
            Some(RootLock::acquire(root, RootUse::CollectBesideReadOnly)?)
        }
    };
    let marked = mark(root)?;
    let mut report = Report {
        mode: Some(mode),
        ..Report::default()
    };
    for alg in Algorithm::ALL {
        for prefix in dirs(&root.join("blobs").join(alg.name()))? {
            for f in dirs(&prefix.path())? {
                let name = f.file_name().to_string_lossy().into_owned();
                let Ok(d) = format!("{alg}:{name}").parse::<Digest>() else {
                    continue;
                };
                if marked.contains(&d) {
                    report.kept += 1;
                    continue;
                }
                let size = f.metadata()?.len();
                match mode {
                    Mode::DryRun => writeln!(out, "would remove {d} ({size} bytes)")?,
                    Mode::Sweep => {
                        match fs::remove_file(f.path()) {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                            Err(e) => return Err(e.into()),
                        }
                        writeln!(out, "removed {d} ({size} bytes)")?;
                    }
                }
                report.removed += 1;
                report.removed_bytes += size;
            }
            if mode == Mode::Sweep {
                // only succeeds when empty; a prefix still holding content stays
                let _ = fs::remove_dir(prefix.path());
            }
        }
    }
    out.flush()?;
    Ok(report)
}
