//! `trace --spec NEW --against OLD`: what a new version of a spec text does to the
//! requirements citing the old one. Each cite of OLD's document is unchanged (its quote is
//! in NEW), changed (the most similar sentence of NEW, by the words they share, is shown
//! with its keywords) or vanished (no sentence of NEW shares enough of its words); NEW's
//! normative sentences that OLD does not have and no requirement cites are listed; and each
//! requirement a change touches comes with the scenarios that check it and the defects
//! that fail it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::check::covers;
use super::text::{Document, keywords, normalise};
use crate::runner::loader::Specs;
use crate::runner::model::{Doc, Keyword};
use crate::runner::plan::Source;
use crate::runner::sanitize;

/// Below this share of a quote's words found in one sentence, the quote has vanished.
const SIMILAR: f64 = 0.6;

/// A defect of the reference and the requirements it fails, as the CLI hands them over.
#[derive(Clone, Debug)]
pub struct DefectBreaks {
    pub name: String,
    pub breaks: Vec<String>,
}

/// What became of one cite in the new text.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "fate", rename_all = "kebab-case")]
pub enum Fate {
    Unchanged,
    Changed {
        /// The most similar sentence of the new text, and its line.
        similar: String,
        line: usize,
        /// The share of the quote's words it has.
        similarity: f64,
        keywords_after: Vec<Keyword>,
        /// The cited keyword is not among the new sentence's.
        keyword_changed: bool,
    },
    Vanished,
}

#[derive(Clone, Debug, Serialize)]
pub struct CiteFate {
    pub requirement: String,
    pub place: String,
    pub keyword: Keyword,
    pub quote: String,
    /// The requirement already cites the new text (a quote of its document found there):
    /// its author has been there.
    pub cites_new: bool,
    #[serde(flatten)]
    pub fate: Fate,
}

/// A requirement a change touches, with what proves it.
#[derive(Clone, Debug, Serialize)]
pub struct Affected {
    pub requirement: String,
    pub scenarios: Vec<String>,
    pub defects: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NewSentence {
    pub line: usize,
    pub keywords: Vec<Keyword>,
    pub text: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AgainstReport {
    pub new_doc: Doc,
    pub old_doc: Doc,
    pub unchanged: usize,
    pub changed: Vec<CiteFate>,
    pub vanished: Vec<CiteFate>,
    /// Normative sentences of the new text not in the old, which no requirement cites.
    pub new_uncited: Vec<NewSentence>,
    pub affected: Vec<Affected>,
}

/// The words that tell sentences apart: short words and the commonest ones are in nearly
/// every sentence and would make any two look alike.
fn words(s: &str) -> BTreeSet<String> {
    const COMMON: &[&str] = &[
        "that", "this", "with", "from", "have", "must", "should", "shall", "when", "which",
        "their", "there", "they", "then", "than", "been", "will", "also", "into", "only",
    ];
    s.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 4 && !COMMON.contains(&w.as_str()))
        .collect()
}

/// The sentence of `doc` sharing most of `quote`'s words (the shorter one on a tie), and
/// the share.
fn most_similar<'a>(doc: &'a Document, quote: &str) -> Option<(&'a super::text::Sentence, f64)> {
    let q = words(quote);
    if q.is_empty() {
        return None;
    }
    doc.sentences
        .iter()
        .map(|s| {
            let w = words(doc.sentence_text(s));
            (
                s,
                q.intersection(&w).count() as f64 / q.len() as f64,
                w.len(),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(s, share, _)| (s, share))
}

pub fn against(
    new: (Doc, &Document),
    old: (Doc, &Document),
    specs: &Specs,
    places: &BTreeMap<String, Source>,
    defects: &[DefectBreaks],
) -> AgainstReport {
    let (new_doc, new_text) = new;
    let (old_doc, old_text) = old;
    let mut unchanged = 0;
    let mut changed = vec![];
    let mut vanished = vec![];
    let mut covering = vec![];
    // the requirements a change touches, by id as written
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    for r in specs.requirements.values() {
        let cites_new = r
            .cites
            .iter()
            .any(|c| c.doc == new_doc && !new_text.find_all(&normalise(&c.quote)).is_empty());
        for c in &r.cites {
            let quote = normalise(&c.quote);
            if c.doc == new_doc {
                covering.extend(new_text.find_all(&quote));
            }
            if c.doc != old_doc {
                continue;
            }
            let fate = if !new_text.find_all(&quote).is_empty() {
                Fate::Unchanged
            } else {
                match most_similar(new_text, &quote) {
                    Some((s, share)) if share >= SIMILAR => {
                        let after = keywords(new_text.sentence_text(s), new_text.rfc2119)
                            .into_iter()
                            .map(|f| f.keyword)
                            .collect::<Vec<_>>();
                        let keyword_changed = if c.keyword == Keyword::Unstated {
                            !after.is_empty()
                        } else {
                            !after.contains(&c.keyword)
                        };
                        Fate::Changed {
                            similar: sanitize::line(new_text.sentence_text(s)),
                            line: s.line,
                            similarity: (share * 100.0).round() / 100.0,
                            keywords_after: after,
                            keyword_changed,
                        }
                    }
                    _ => Fate::Vanished,
                }
            };
            let entry = CiteFate {
                requirement: sanitize::line(&r.id),
                place: places.get(&r.id).map_or_else(
                    || "?".into(),
                    |s| sanitize::line(&format!("{}:{}", s.file, s.line)),
                ),
                keyword: c.keyword,
                quote: sanitize::line(&quote),
                cites_new,
                fate,
            };
            if entry.fate != Fate::Unchanged {
                touched.insert(r.id.as_str());
            }
            match entry.fate {
                Fate::Unchanged => unchanged += 1,
                Fate::Changed { .. } => changed.push(entry),
                Fate::Vanished => vanished.push(entry),
            }
        }
    }
    let new_uncited = new_text
        .normative()
        .filter(|s| !old_text.text.contains(new_text.sentence_text(s)))
        .filter(|s| !covering.iter().any(|sp| covers(s, *sp)))
        .map(|s| NewSentence {
            line: s.line,
            keywords: s.keywords.clone(),
            text: sanitize::line(new_text.sentence_text(s)),
        })
        .collect();
    let affected = touched
        .into_iter()
        .map(|id| Affected {
            requirement: sanitize::line(id),
            scenarios: specs
                .scenarios
                .iter()
                .filter(|s| s.requirements.iter().any(|r| r == id))
                .map(|s| sanitize::line(&s.name()))
                .collect(),
            defects: defects
                .iter()
                .filter(|d| d.breaks.iter().any(|b| b == id))
                .map(|d| d.name.clone())
                .collect(),
        })
        .collect();
    AgainstReport {
        new_doc,
        old_doc,
        unchanged,
        changed,
        vanished,
        new_uncited,
        affected,
    }
}

/// A list of names for a report, "none" when empty.
pub struct AffectedList<'a>(pub &'a [String]);

impl std::fmt::Display for AffectedList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&self.0.join(", "))
        }
    }
}
