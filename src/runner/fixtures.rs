//! Where the files scenarios send come from: a directory, or files held in memory (a corpus
//! embedded in the binary), by path relative to the fixtures' root.

use std::collections::BTreeMap;
use std::path::PathBuf;
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

impl Fixtures {
    pub fn exists(&self, path: &str) -> bool {
        match self {
            Fixtures::Dir(d) => d.join(path).is_file(),
            Fixtures::Files(f) => f.contains_key(path),
        }
    }

    pub fn read(&self, path: &str) -> std::io::Result<Bytes> {
        match self {
            Fixtures::Dir(d) => std::fs::read(d.join(path)).map(Bytes::from),
            Fixtures::Files(f) => f.get(path).cloned().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such fixture")
            }),
        }
    }
}
