//! The checks of `trace --spec`: every cite of the document against its text (found, its
//! keyword the one the sentence uses, the level no stronger, the right party), every
//! requirement judged under the document citing it, and the document's normative sentences
//! nobody cites.

use std::collections::BTreeMap;

use serde::Serialize;

use super::text::{Document, Sentence, keywords, normalise, strength};
use crate::runner::loader::Specs;
use crate::runner::model::{Cite, Doc, Keyword, Level, Party, Requirement, Uncited, UncitedReason};
use crate::runner::plan::Source;

/// What is wrong with one requirement's tie to the document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Problem {
    /// (a) The quote is not in the document's text.
    QuoteNotFound { quote: String },
    /// (b) The cite's keyword is not one the quoted clause (or its sentence) uses.
    KeywordNotUsed {
        quote: String,
        line: usize,
        keyword: Keyword,
        used: Vec<Keyword>,
    },
    /// (c) The level is stronger than every keyword cited from the document.
    LevelTooStrong { level: Level, strongest: Keyword },
    /// (d) The sentence binds another party than the requirement's.
    WrongParty {
        quote: String,
        line: usize,
        party: Party,
        subject: Party,
    },
    /// (e) Judged under the document, the requirement cites nothing of it.
    DocumentNotCited { why: String },
    /// (e) No scenario checks it, and it cites nothing at all.
    UntestableWithoutCite,
}

impl Problem {
    pub fn message(&self, doc: Doc) -> String {
        let d = doc.as_str();
        match self {
            Problem::QuoteNotFound { quote } => format!("quote not found in {d}: \"{quote}\""),
            Problem::KeywordNotUsed {
                quote,
                line,
                keyword,
                used,
            } => {
                let used = if used.is_empty() {
                    "no keyword".to_string()
                } else {
                    used.iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!(
                    "cites keyword {} but the sentence ({d}:{line}) uses {used}: \"{quote}\"",
                    keyword.as_str()
                )
            }
            Problem::LevelTooStrong { level, strongest } => format!(
                "level {} is stronger than the strongest keyword it cites from {d} ({}), and no derived_from says why",
                level.as_str(),
                strongest.as_str()
            ),
            Problem::WrongParty {
                quote,
                line,
                party,
                subject,
            } => format!(
                "a duty of the {} but the sentence ({d}:{line}) binds the {}, and no derived_from says why: \"{quote}\"",
                party_name(*party),
                party_name(*subject)
            ),
            Problem::DocumentNotCited { why } => {
                format!("judged under {d} ({why}) but cites nothing of it")
            }
            Problem::UntestableWithoutCite => {
                "no scenario checks it and it cites no sentence at all".to_string()
            }
        }
    }
}

fn party_name(p: Party) -> &'static str {
    match p {
        Party::Registry => "registry",
        Party::Client => "client",
    }
}

/// One problem of one requirement, at the requirement's place.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub requirement: String,
    /// `file:line` of the requirement.
    pub place: String,
    #[serde(flatten)]
    pub problem: Problem,
    pub message: String,
}

/// A normative sentence no cite covers and no `uncited.yaml` entry excuses.
#[derive(Clone, Debug, Serialize)]
pub struct UncitedSentence {
    pub line: usize,
    pub keywords: Vec<Keyword>,
    pub text: String,
}

/// An `uncited.yaml` entry of the document that excuses nothing.
#[derive(Clone, Debug, Serialize)]
pub struct StaleEntry {
    pub place: String,
    pub quote: String,
    pub reason: UncitedReason,
    pub stale: Stale,
}

/// Why an entry excuses nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stale {
    /// Its quote is in no normative sentence of the document (nor contains one).
    MatchesNothing,
    /// Every sentence it matches is cited now: the entry goes.
    Cited,
}

/// A `not-yet` entry: a duty a run could judge, with no requirement yet.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    pub line: usize,
    pub quote: String,
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TraceReport {
    pub doc: Doc,
    /// Whether the document invokes RFC 2119; when it does not, its uncited sentences are
    /// not listed (its lower-case words are not defined keywords).
    pub rfc2119: bool,
    pub requirements: usize,
    pub cites: usize,
    pub normative_sentences: usize,
    pub findings: Vec<Finding>,
    pub uncited: Vec<UncitedSentence>,
    /// Normative sentences `uncited.yaml` excuses.
    pub excused: usize,
    pub stale: Vec<StaleEntry>,
    /// The `not-yet` entries: the catalogue's gaps (no mismatch).
    pub gaps: Vec<Gap>,
}

impl TraceReport {
    pub fn clean(&self) -> bool {
        self.findings.is_empty() && self.uncited.is_empty() && self.stale.is_empty()
    }
}

/// Which documents a requirement is judged under, and why: its `source`; for a scenario of
/// oci-1.0, oci-1.1 or read-only both v1.1.1 and main (oci-next extends oci-1.1 and is
/// judged by main's text); main for oci-next; distribution for the distribution profile (the
/// token document for the requirements it is the source of).
/// Only the profiles a scenario names itself count, not those extending them.
pub fn judged_under(r: &Requirement, specs: &Specs) -> BTreeMap<Doc, String> {
    let mut out = BTreeMap::new();
    if let Some(d) = Doc::ALL.into_iter().find(|d| d.as_str() == r.source) {
        out.insert(d, format!("its source is {}", d.as_str()));
    }
    for s in specs
        .scenarios
        .iter()
        .filter(|s| s.requirements.contains(&r.id))
    {
        for p in &s.profiles {
            let docs: &[Doc] = match p.as_str() {
                "oci-1.0" | "oci-1.1" | "read-only" => &[Doc::V111, Doc::Main],
                "oci-next" => &[Doc::Main],
                // the token flow's requirements rest on the lineage's token document, which
                // the distribution profile judges them by, not on the V2 API document
                "distribution" if r.source == Doc::Auth.as_str() => &[Doc::Auth],
                "distribution" => &[Doc::Distribution],
                _ => &[],
            };
            for d in docs {
                out.entry(*d)
                    .or_insert_with(|| format!("scenario {} of profile {p}", s.name()));
            }
        }
    }
    out
}

/// Whether a run judges it: a scenario lists it, or it is a category's presence (judged
/// from every answer of the run).
fn tested(r: &Requirement, specs: &Specs) -> bool {
    r.presence
        || specs
            .scenarios
            .iter()
            .any(|s| s.requirements.contains(&r.id))
}

/// A cite found in the document: every place its quote occurs.
struct Located<'a> {
    cite: &'a Cite,
    /// The quote as reports show it (controls escaped).
    shown: String,
    spans: Vec<(usize, usize)>,
}

/// Whose duty the sentence states: the clause just before its keyword (the last part
/// between commas or semicolons that is not a condition: "if …", "when …", "except …")
/// naming clients and not the registry or server, or the other way round; `None` when it
/// names both or neither ("If the registry sends X, the size of each chunk SHOULD …" binds
/// no one by name).
fn subject(doc: &Document, s: &Sentence, keyword_at: usize) -> Option<Party> {
    const CONDITIONS: &[&str] = &[
        "if", "when", "unless", "where", "while", "although", "except", "in", "as",
    ];
    let before = &doc.text[s.start..keyword_at.max(s.start)];
    let clause = before.rsplit([',', ';']).map(str::trim).find(|c| {
        let first = c.split(' ').next().unwrap_or("").to_ascii_lowercase();
        !c.is_empty() && !CONDITIONS.contains(&first.as_str())
    })?;
    let words: Vec<String> = clause
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let client = words
        .iter()
        .any(|w| matches!(w.as_str(), "client" | "clients"));
    let registry = words
        .iter()
        .any(|w| matches!(w.as_str(), "registry" | "registries" | "server" | "servers"));
    match (client, registry) {
        (true, false) => Some(Party::Client),
        (false, true) => Some(Party::Registry),
        _ => None,
    }
}

/// One cite's checks (b) and (d) at one place its quote occurs: the problems found there.
fn at_span(doc: &Document, r: &Requirement, l: &Located<'_>, span: (usize, usize)) -> Vec<Problem> {
    let mut out = vec![];
    let (start, end) = span;
    let sentences = doc.enclosing(start, end);
    let line = doc.line_of(start);
    // every keyword of the enclosing sentences, read in the sentence (a quote ending in
    // "MUST" of a sentence saying "MUST NOT" uses MUST NOT), with its place in the text
    let mut in_sentences: Vec<(Keyword, usize, usize)> = vec![];
    for s in &sentences {
        for f in keywords(doc.sentence_text(s), doc.rfc2119) {
            in_sentences.push((f.keyword, s.start + f.start, s.start + f.end));
        }
    }
    if sentences.is_empty() {
        // code is in no sentence: the quote's own words are all there is
        for f in keywords(&doc.text[start..end], doc.rfc2119) {
            in_sentences.push((f.keyword, start + f.start, start + f.end));
        }
    }
    let clause: Vec<(Keyword, usize)> = in_sentences
        .iter()
        .filter(|(_, a, b)| *a < end && start < *b)
        .map(|(k, a, _)| (*k, *a))
        .collect();
    // the keywords the quote uses, else those of its sentence
    let (used, at): (Vec<Keyword>, Vec<usize>) = if clause.is_empty() {
        in_sentences.iter().map(|(k, a, _)| (*k, *a)).unzip()
    } else {
        clause.into_iter().unzip()
    };
    let ok = if l.cite.keyword == Keyword::Unstated {
        used.is_empty()
    } else {
        used.contains(&l.cite.keyword)
    };
    if !ok {
        out.push(Problem::KeywordNotUsed {
            quote: l.shown.clone(),
            line,
            keyword: l.cite.keyword,
            used: used.clone(),
        });
    }
    let derived = r
        .derived_from
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty());
    if let Some(i) = used.iter().position(|k| *k == l.cite.keyword)
        && !derived
        && let Some(s) = sentences.iter().find(|s| s.start <= at[i] && at[i] < s.end)
        && let Some(who) = subject(doc, s, at[i])
        && who != r.party
    {
        out.push(Problem::WrongParty {
            quote: l.shown.clone(),
            line,
            party: r.party,
            subject: who,
        });
    }
    out
}

/// Checks every requirement's tie to `doc`'s text and lists its uncited normative sentences.
pub fn trace(
    doc_name: Doc,
    doc: &Document,
    specs: &Specs,
    places: &BTreeMap<String, Source>,
    uncited: &[(Source, Uncited)],
) -> TraceReport {
    let mut findings = vec![];
    let mut covering: Vec<(usize, usize)> = vec![];
    let mut requirements = 0;
    let mut cites = 0;
    // in the order they are written: by file, then line
    let mut ordered: Vec<&Requirement> = specs.requirements.values().collect();
    ordered.sort_by_key(|r| places.get(&r.id).map(|s| (s.file.clone(), s.line)));
    for r in ordered {
        let place = places.get(&r.id).map_or_else(
            || "?".to_string(),
            |s| crate::runner::sanitize::line(&format!("{}:{}", s.file, s.line)),
        );
        let mut problems = vec![];
        let judged = judged_under(r, specs);
        let mine: Vec<&Cite> = r.cites.iter().filter(|c| c.doc == doc_name).collect();
        if let Some(why) = judged.get(&doc_name)
            && mine.is_empty()
        {
            problems.push(Problem::DocumentNotCited { why: why.clone() });
        } else if r.cites.is_empty() && !tested(r, specs) {
            problems.push(Problem::UntestableWithoutCite);
        }
        if !mine.is_empty() {
            requirements += 1;
        }
        for c in &mine {
            cites += 1;
            let quote = normalise(&c.quote);
            let l = Located {
                cite: c,
                spans: doc.find_all(&quote),
                shown: crate::runner::sanitize::line(&quote),
            };
            if l.spans.is_empty() {
                problems.push(Problem::QuoteNotFound { quote: l.shown });
                continue;
            }
            covering.extend(&l.spans);
            // a quote found several times holds when one place satisfies every check
            let per_span: Vec<Vec<Problem>> =
                l.spans.iter().map(|sp| at_span(doc, r, &l, *sp)).collect();
            if !per_span.iter().any(Vec::is_empty) {
                problems.extend(per_span.into_iter().next().unwrap_or_default());
            }
        }
        let derived = r
            .derived_from
            .as_deref()
            .is_some_and(|d| !d.trim().is_empty());
        if let Some(strongest) = mine.iter().map(|c| c.keyword).max_by_key(|k| strength(*k))
            && strength(level_keyword(r.level)) > strength(strongest)
            && !derived
        {
            problems.push(Problem::LevelTooStrong {
                level: r.level,
                strongest,
            });
        }
        for problem in problems {
            findings.push(Finding {
                requirement: crate::runner::sanitize::line(&r.id),
                place: place.clone(),
                message: crate::runner::sanitize::line(&problem.message(doc_name)),
                problem,
            });
        }
    }
    let u = uncovered(doc_name, doc, &covering, uncited);
    TraceReport {
        doc: doc_name,
        rfc2119: doc.rfc2119,
        requirements,
        cites,
        normative_sentences: doc.normative().count(),
        findings,
        uncited: if doc.rfc2119 { u.list } else { vec![] },
        excused: u.excused,
        stale: u.stale,
        gaps: u.gaps,
    }
}

fn level_keyword(l: Level) -> Keyword {
    match l {
        Level::Must => Keyword::Must,
        Level::MustNot => Keyword::MustNot,
        Level::Should => Keyword::Should,
        Level::ShouldNot => Keyword::ShouldNot,
        Level::May => Keyword::May,
    }
}

/// Whether a sentence and a quoted span cover each other: one contains the other.
pub fn covers(s: &Sentence, (a, b): (usize, usize)) -> bool {
    (s.start <= a && b <= s.end) || (a <= s.start && s.end <= b)
}

type Excuse<'a> = (&'a Source, &'a Uncited, Vec<(usize, usize)>);

/// The normative sentences no covering span reaches and no entry excuses, how many entries
/// excuse, the entries of `doc` that excuse nothing, and its `not-yet` entries.
fn uncovered(
    doc_name: Doc,
    doc: &Document,
    covering: &[(usize, usize)],
    uncited: &[(Source, Uncited)],
) -> Uncovered {
    // each entry of the document with the places its quote occurs
    let entries: Vec<Excuse<'_>> = uncited
        .iter()
        .filter(|(_, u)| u.doc == doc_name)
        .map(|(src, u)| (src, u, doc.find_all(&normalise(&u.quote))))
        .collect();
    // per entry: whether it matches a normative sentence, and one no cite covers
    let mut matches = vec![false; entries.len()];
    let mut excuses = vec![false; entries.len()];
    let mut list = vec![];
    let mut excused = 0;
    for s in doc.normative() {
        let cited = covering.iter().any(|sp| covers(s, *sp));
        let mut matched = false;
        for (i, (_, _, spans)) in entries.iter().enumerate() {
            if spans.iter().any(|sp| covers(s, *sp)) {
                matches[i] = true;
                excuses[i] |= !cited;
                matched = true;
            }
        }
        if cited {
            continue;
        }
        if matched {
            excused += 1;
            continue;
        }
        list.push(UncitedSentence {
            line: s.line,
            keywords: s.keywords.clone(),
            text: crate::runner::sanitize::line(doc.sentence_text(s)),
        });
    }
    let mut stale = vec![];
    let mut gaps = vec![];
    for (i, (src, u, spans)) in entries.iter().enumerate() {
        let why = match (matches[i], excuses[i]) {
            (false, _) => Stale::MatchesNothing,
            (true, false) => Stale::Cited,
            (true, true) => {
                if u.reason == UncitedReason::NotYet {
                    gaps.push(Gap {
                        line: spans.first().map_or(0, |(a, _)| doc.line_of(*a)),
                        quote: crate::runner::sanitize::line(&normalise(&u.quote)),
                        note: u.note.as_deref().map(crate::runner::sanitize::line),
                    });
                }
                continue;
            }
        };
        stale.push(StaleEntry {
            place: crate::runner::sanitize::line(&format!("{}:{}", src.file, src.line)),
            quote: crate::runner::sanitize::line(&normalise(&u.quote)),
            reason: u.reason,
            stale: why,
        });
    }
    Uncovered {
        list,
        excused,
        stale,
        gaps,
    }
}

/// What [`uncovered`] finds.
struct Uncovered {
    list: Vec<UncitedSentence>,
    excused: usize,
    stale: Vec<StaleEntry>,
    gaps: Vec<Gap>,
}
