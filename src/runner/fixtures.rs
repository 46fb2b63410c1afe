//! Where the files scenarios send come from: a directory, or files held in memory (a corpus
//! embedded in the binary), by path relative to the fixtures' root.
//!
//! A fixture is confined to its root: spec files may come from a proposal under review and
//! run with real credentials, so a name that climbs out (`..`), an absolute path, or a
//! symbolic link inside the directory that leads out of it would send any file the run can
//! read. [`confined`] is the one rule, used by the loader's check and by every read.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

#[derive(Clone, Debug)]
pub enum Fixtures {
    Dir(PathBuf),
    Files(Arc<BTreeMap<String, Bytes>>),
}

impl From<PathBuf> for Fixtures {
    fn from(p: PathBuf) -> Fixtures {
        Fixtures::Dir(p)
    }
}

/// Why a fixture cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("refused: a fixture is named by a relative path inside the fixtures, without `..`")]
    NotRelative,
    #[error("refused: it resolves outside the fixtures directory {root} (a symbolic link)")]
    Escapes { root: PathBuf },
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl FixtureError {
    /// Whether the name itself is refused (as opposed to naming no file).
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            FixtureError::NotRelative | FixtureError::Escapes { .. }
        )
    }
}

/// Whether `rel` is a fixture's name at all: a non-empty relative path of plain components
/// (no `..`, `.`, root or drive).
pub fn valid_name(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// The file `rel` names under `root`, every symbolic link resolved, if it stays inside
/// `root` (itself resolved: a root reached through a link is fine).
pub fn confined(root: &Path, rel: &str) -> Result<PathBuf, FixtureError> {
    if !valid_name(rel) {
        return Err(FixtureError::NotRelative);
    }
    let root = root.canonicalize()?;
    let full = match root.join(rel).canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FixtureError::NotFound);
        }
        Err(e) => return Err(e.into()),
    };
    if !full.starts_with(&root) {
        return Err(FixtureError::Escapes { root });
    }
    if !full.is_file() {
        return Err(FixtureError::NotFound);
    }
    Ok(full)
}

impl Fixtures {
    /// Whether `path` names a fixture that may be read: `Err` says why not.
    pub fn check(&self, path: &str) -> Result<(), FixtureError> {
        match self {
            Fixtures::Dir(d) => confined(d, path).map(|_| ()),
            Fixtures::Files(_) if !valid_name(path) => Err(FixtureError::NotRelative),
            Fixtures::Files(f) => match f.contains_key(path) {
                true => Ok(()),
                false => Err(FixtureError::NotFound),
            },
        }
    }

    pub fn read(&self, path: &str) -> Result<Bytes, FixtureError> {
        match self {
            // the path checked is the path read: the resolved one
            Fixtures::Dir(d) => Ok(Bytes::from(std::fs::read(confined(d, path)?)?)),
            Fixtures::Files(_) if !valid_name(path) => Err(FixtureError::NotRelative),
            Fixtures::Files(f) => f.get(path).cloned().ok_or(FixtureError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_stays_inside_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("fixtures");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/in.json"), "{}").unwrap();
        std::fs::write(dir.path().join("secret"), "s3cret").unwrap();
        let f = Fixtures::Dir(root.clone());
        assert_eq!(f.read("sub/in.json").unwrap().as_ref(), b"{}");
        for name in [
            "../secret",
            "sub/../../secret",
            "/etc/passwd",
            "./sub/in.json",
            "",
        ] {
            assert!(
                matches!(f.read(name), Err(FixtureError::NotRelative)),
                "{name}"
            );
            assert!(f.check(name).is_err_and(|e| e.is_refused()), "{name}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret"), root.join("out")).unwrap();
            std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
            std::os::unix::fs::symlink(root.join("sub/in.json"), root.join("in")).unwrap();
            for name in ["out", "up/secret"] {
                assert!(
                    matches!(f.read(name), Err(FixtureError::Escapes { .. })),
                    "{name}"
                );
            }
            // a link that stays inside is an ordinary fixture
            assert_eq!(f.read("in").unwrap().as_ref(), b"{}");
        }
        assert!(matches!(f.check("sub/none"), Err(FixtureError::NotFound)));
        let held = Fixtures::Files(Arc::new(BTreeMap::from([(
            "a.json".to_string(),
            Bytes::from_static(b"{}"),
        )])));
        assert!(held.check("a.json").is_ok());
        assert!(matches!(
            held.read("../a.json"),
            Err(FixtureError::NotRelative)
        ));
    }
}
