//! `regverify trace`: the requirements held against the spec's own text. Each cite's quote
//! must be in its document with the keyword it records, the requirement's level and party
//! must follow from what it cites, every requirement must cite each document it is judged
//! under, and every normative sentence of a document is cited or excused in
//! `specs/uncited.yaml` ([`check`]). Against an older text, the cites that changed or
//! vanished and the new sentences nobody cites ([`against`]). The document's markdown is
//! read by [`text`]; [`report`] writes the results.

pub mod against;
pub mod check;
pub mod report;
pub mod text;

use std::path::Path;

use crate::runner::corpus::Corpus;
use crate::runner::loader::{self, Diagnostic, Specs};
use crate::runner::model::Doc;

pub use against::{AgainstReport, DefectBreaks};
pub use check::TraceReport;
use text::Document;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not UTF-8 text")]
    NotText { path: std::path::PathBuf },
    #[error(
        "{path}: which document this is cannot be told from its name; pass --doc (one of {names})"
    )]
    UnknownDoc {
        path: std::path::PathBuf,
        names: String,
    },
    #[error("{0}: its text is not among the documents a trace reads")]
    NoText(&'static str),
    /// Already printed, one diagnostic each.
    #[error("{0} problem(s) in the spec files")]
    SpecFiles(usize),
}

/// The document a file holds, from its base name (`distribution-spec-main.md` is `main`).
pub fn doc_of(path: &Path) -> Option<Doc> {
    let name = path.file_name()?.to_str()?;
    Doc::ALL.into_iter().find(|d| d.file_name() == Some(name))
}

/// The document named, or the one the file's name tells.
pub fn resolve_doc(path: &Path, given: Option<Doc>) -> Result<Doc, TraceError> {
    let doc = match given {
        Some(d) => d,
        None => doc_of(path).ok_or_else(|| TraceError::UnknownDoc {
            path: path.into(),
            names: Doc::ALL
                .iter()
                .filter(|d| d.file_name().is_some())
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?,
    };
    if doc.file_name().is_none() {
        return Err(TraceError::NoText(doc.as_str()));
    }
    Ok(doc)
}

/// A spec text read and parsed as `doc`.
pub fn read_document(path: &Path, doc: Doc) -> Result<Document, TraceError> {
    let bytes = std::fs::read(path).map_err(|source| TraceError::Read {
        path: path.into(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| TraceError::NotText { path: path.into() })?;
    Ok(Document::parse(&text, doc.uses_rfc2119()))
}

/// The corpus's requirements, scenarios and uncited entries, or the diagnostics that stop
/// a trace.
pub fn load(corpus: &Corpus) -> Result<Specs, Vec<Diagnostic>> {
    loader::load_corpus(corpus)
}

/// `trace --spec`: the document's text against the corpus.
pub fn trace(
    corpus: &Corpus,
    specs: &Specs,
    doc: Doc,
    text: &Document,
) -> Result<TraceReport, Vec<Diagnostic>> {
    let uncited = loader::uncited(corpus)?;
    let places = loader::requirement_places(corpus);
    Ok(check::trace(doc, text, specs, &places, &uncited))
}

/// `trace --spec NEW --against OLD`.
pub fn trace_against(
    corpus: &Corpus,
    specs: &Specs,
    new: (Doc, &Document),
    old: (Doc, &Document),
    defects: &[DefectBreaks],
) -> AgainstReport {
    let places = loader::requirement_places(corpus);
    against::against(new, old, specs, &places, defects)
}
