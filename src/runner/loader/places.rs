//! Where the entries `trace` reports on are written: each requirement's place, and the
//! entries of `uncited.yaml` (the corpus's, then an overlay's, which add to them).

use std::collections::BTreeMap;

use super::diagnostics::{Diagnostic, FileText};
use super::parse::parse_yaml;
use crate::runner::corpus::{Corpus, SpecKind};
use crate::runner::model::{RequirementsFile, Uncited, UncitedFile};
use crate::runner::plan::Source;

/// Each requirement's place, by id: the last file defining it, as the loader merges them.
/// Files that do not parse are the loader's to report; they add nothing here.
pub fn requirement_places(corpus: &Corpus) -> BTreeMap<String, Source> {
    let mut out = BTreeMap::new();
    for f in corpus.spec_files() {
        if f.kind != SpecKind::Requirements {
            continue;
        }
        let file = FileText {
            name: &f.display,
            text: &f.text,
        };
        let Ok(parsed) = serde_saphyr::from_str::<RequirementsFile>(&f.text) else {
            continue;
        };
        for r in &parsed.requirements {
            out.insert(r.value.id.clone(), file.source(r));
        }
    }
    out
}

/// Every entry of the corpus's `uncited.yaml` files, with its place.
pub fn uncited(corpus: &Corpus) -> Result<Vec<(Source, Uncited)>, Vec<Diagnostic>> {
    let mut diags = vec![];
    let mut out = vec![];
    for f in corpus.spec_files() {
        if f.kind != SpecKind::Uncited {
            continue;
        }
        let file = FileText {
            name: &f.display,
            text: &f.text,
        };
        if let Some(parsed) = parse_yaml::<UncitedFile>(&file, &mut diags) {
            for u in parsed.uncited {
                out.push((file.source(&u), u.value));
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}
