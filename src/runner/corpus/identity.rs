//! Which corpus judged a run: a sha256 over the spec files and the fixtures, so two results
//! files (or a binary's `--version` and a results file) tell whether the same requirements,
//! scenarios and fixtures were behind them. The digest names files by their path relative
//! to the corpus, never by where an overlay sits on the machine, so the same corpus digests
//! the same everywhere.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{Corpus, CorpusError, CorpusFile, Layer};

/// What `results.json` says of its corpus (`corpus:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusIdentity {
    /// `sha256:…` over every spec file as laid (embedded, overlay) and every fixture.
    pub digest: String,
    /// The `--specs DIR` laid over the embedded files, if any.
    pub overlay: Option<OverlayIdentity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayIdentity {
    /// The directory as given on the command line.
    pub dir: String,
    /// `sha256:…` over the overlay's own spec files, computed as the corpus's.
    pub digest: String,
}

/// One digest for spec files and fixtures: each entry framed by its kind, its layer, its
/// relative path and its length, so no two different corpora hash the same bytes. An
/// overlay file counts as the overlay's even when its text equals the embedded file's.
fn digest(specs: &[&CorpusFile], fixtures: &[(String, Vec<u8>)]) -> String {
    let mut specs: Vec<&&CorpusFile> = specs.iter().collect();
    specs.sort_by(|a, b| (a.kind, a.layer, &a.rel).cmp(&(b.kind, b.layer, &b.rel)));
    let mut h = Sha256::new();
    h.update(b"regverify corpus 1\n");
    let mut entry = |tag: &str, name: &str, bytes: &[u8]| {
        h.update(format!("{tag} {} {name}\n", bytes.len()).as_bytes());
        h.update(bytes);
        h.update(b"\n");
    };
    for f in specs {
        let layer = match f.layer {
            Layer::Base => "base",
            Layer::Overlay => "overlay",
        };
        entry(&format!("{} {layer}", f.kind), &f.rel, f.text.as_bytes());
    }
    for (name, bytes) in fixtures {
        entry("fixture", name, bytes);
    }
    format!("sha256:{}", crate::oci::digest::hex(&h.finalize()))
}

impl Corpus {
    /// The digest of the corpus as laid (spec files and fixtures) and, when `--specs DIR`
    /// lies over the embedded files, of the overlay's files alone.
    pub fn identity(&self) -> Result<CorpusIdentity, CorpusError> {
        let mut fixtures = vec![];
        for name in self.fixture_names() {
            let bytes = self.fixture(&name)?;
            fixtures.push((name, bytes));
        }
        let all: Vec<&CorpusFile> = self.specs.iter().collect();
        let overlay = self.overlay.as_ref().map(|dir| {
            let own: Vec<&CorpusFile> = all
                .iter()
                .copied()
                .filter(|f| f.layer == Layer::Overlay)
                .collect();
            OverlayIdentity {
                dir: dir.display().to_string(),
                digest: digest(&own, &[]),
            }
        });
        Ok(CorpusIdentity {
            digest: digest(&all, &fixtures),
            overlay,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::corpus::SpecsMode;

    fn write(dir: &std::path::Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn the_embedded_corpus_has_one_digest_and_no_overlay() {
        let a = Corpus::embedded().identity().unwrap();
        assert_eq!(a, Corpus::embedded().identity().unwrap());
        assert!(
            a.digest.starts_with("sha256:") && a.digest.len() == 7 + 64,
            "{a:?}"
        );
        assert_eq!(a.overlay, None);
    }

    #[test]
    fn a_copy_of_the_corpus_on_disk_digests_as_the_embedded_one() {
        // the same files read from a directory (replace mode, fixtures from disk): the same
        // digest, whatever the directory is called
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let copy = tempfile::tempdir().unwrap();
        for f in Corpus::embedded().spec_files() {
            write(copy.path(), &f.rel, &f.text);
        }
        let c = Corpus::open(
            Some(copy.path()),
            SpecsMode::Replace,
            Some(&root.join("fixtures")),
        )
        .unwrap();
        assert_eq!(
            c.identity().unwrap(),
            Corpus::embedded().identity().unwrap()
        );
    }

    #[test]
    fn an_overlay_changes_the_digest_and_has_its_own() {
        let embedded = Corpus::embedded().identity().unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for d in [a.path(), b.path()] {
            write(d, "scenarios/zz-new.yaml", "scenarios: []\n");
        }
        let ia = Corpus::from_dirs(Some(a.path()), None)
            .unwrap()
            .identity()
            .unwrap();
        let ib = Corpus::from_dirs(Some(b.path()), None)
            .unwrap()
            .identity()
            .unwrap();
        assert_ne!(ia.digest, embedded.digest);
        // where the overlay sits does not matter, what it holds does
        assert_eq!(ia.digest, ib.digest);
        let (oa, ob) = (ia.overlay.unwrap(), ib.overlay.unwrap());
        assert_eq!(oa.digest, ob.digest);
        assert_eq!(oa.dir, a.path().display().to_string());
        assert_ne!(oa.digest, ia.digest);
        // one byte more in one file: another digest, for the corpus and the overlay
        write(b.path(), "scenarios/zz-new.yaml", "scenarios: [] \n");
        let ib = Corpus::from_dirs(Some(b.path()), None)
            .unwrap()
            .identity()
            .unwrap();
        assert_ne!(ia.digest, ib.digest);
        assert_ne!(oa.digest, ib.overlay.unwrap().digest);
    }

    #[test]
    fn the_fixtures_count() {
        let copy = tempfile::tempdir().unwrap();
        let embedded = Corpus::embedded();
        for n in embedded.fixture_names() {
            let p = copy.path().join(&n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, embedded.fixture(&n).unwrap()).unwrap();
        }
        let same = Corpus::from_dirs(None, Some(copy.path())).unwrap();
        assert_eq!(same.identity().unwrap(), embedded.identity().unwrap());
        std::fs::write(copy.path().join("extra.json"), "{}").unwrap();
        let more = Corpus::from_dirs(None, Some(copy.path())).unwrap();
        assert_ne!(
            more.identity().unwrap().digest,
            embedded.identity().unwrap().digest
        );
    }
}
