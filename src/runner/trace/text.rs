//! A spec document as `trace` reads it: markdown made plain text the way a quote is
//! (so a quote is found verbatim), its blocks split into sentences, and the RFC 2119
//! keywords of each.
//!
//! Normalising: links `[t](u)` and `[t][r]` become `t`; `` ` ``, `*` and `_` go; heading,
//! list, blockquote markers and table pipes go; HTML comments go; whitespace, line breaks
//! included, collapses to one space. A document and a quote are normalised by the same
//! function, so what a quote's author wrote with or without markdown is found either way.

use std::sync::LazyLock;

use regex_lite::{Captures, Regex};

use crate::runner::model::Keyword;

static COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<!--.*?-->").unwrap());
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"!?\[([^\]]*)\](\([^)]*\)|\[[^\]]*\])").unwrap());
static MARKER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(#+|[-*+]|\d+\.|>|\|)\s*").unwrap());
/// The upper-case keywords of RFC 2119 (and RFC 8174), longest first where one begins
/// another, so "MUST NOT" is not read as "MUST".
static RFC2119: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(MUST NOT|MUST|SHALL NOT|SHALL|REQUIRED|SHOULD NOT|SHOULD|NOT RECOMMENDED|RECOMMENDED|MAY|OPTIONAL)\b",
    )
    .unwrap()
});
/// The Docker documents' words: "must", "should", "may", in any case.
static PLAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(must not|must|shall not|shall|should not|should|may not|may)\b").unwrap()
});

/// Removes what spans lines (HTML comments, links) keeping the line count, so every line
/// stays where it was.
fn strip_spans(text: &str) -> String {
    let newlines = |s: &str| "\n".repeat(s.matches('\n').count());
    let text = COMMENT.replace_all(text, |c: &Captures| newlines(&c[0]));
    LINK.replace_all(&text, |c: &Captures| {
        format!("{}{}", &c[1], newlines(&c[2]))
    })
    .into_owned()
}

/// One line made plain: its markers and emphasis gone, its whitespace collapsed.
fn plain_line(line: &str) -> String {
    let mut l = line.to_string();
    // a blockquote holding a list: strip markers while one is there
    loop {
        let next = MARKER.replace(&l, "").into_owned();
        if next == l {
            break;
        }
        l = next;
    }
    let l: String = l
        .chars()
        .filter(|c| !matches!(c, '`' | '*' | '_'))
        .map(|c| if c == '|' { ' ' } else { c })
        .collect();
    l.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A quote (or any text) normalised as a document is.
pub fn normalise(text: &str) -> String {
    strip_spans(text)
        .lines()
        .map(plain_line)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A keyword found in a text: which, and where (byte offsets in that text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub keyword: Keyword,
    pub start: usize,
    pub end: usize,
}

/// The keywords `text` uses: upper-case RFC 2119 words (REQUIRED and SHALL are MUST, SHALL
/// NOT is MUST NOT, RECOMMENDED is SHOULD, NOT RECOMMENDED is SHOULD NOT, OPTIONAL is MAY)
/// when the document invokes RFC 2119, else "must", "should" and "may" in any case.
pub fn keywords(text: &str, rfc2119: bool) -> Vec<Found> {
    let re = if rfc2119 { &*RFC2119 } else { &*PLAIN };
    re.find_iter(text)
        .map(|m| {
            let keyword = match m.as_str().to_ascii_uppercase().as_str() {
                "MUST" | "REQUIRED" | "SHALL" => Keyword::Must,
                "MUST NOT" | "SHALL NOT" => Keyword::MustNot,
                "SHOULD" | "RECOMMENDED" => Keyword::Should,
                "SHOULD NOT" | "NOT RECOMMENDED" => Keyword::ShouldNot,
                _ => Keyword::May,
            };
            Found {
                keyword,
                start: m.start(),
                end: m.end(),
            }
        })
        .collect()
}

/// How strong a keyword binds: MUST and MUST NOT alike, then SHOULD and SHOULD NOT, then MAY,
/// then none.
pub fn strength(k: Keyword) -> u8 {
    match k {
        Keyword::Must | Keyword::MustNot => 3,
        Keyword::Should | Keyword::ShouldNot => 2,
        Keyword::May => 1,
        Keyword::Unstated => 0,
    }
}

/// A sentence of a document: its span in the normalised text and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sentence {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub keywords: Vec<Keyword>,
}

/// A document normalised, with where each of its lines went and its sentences.
#[derive(Clone, Debug)]
pub struct Document {
    pub text: String,
    /// `(offset in text, line number)` of each non-empty line, in order.
    lines: Vec<(usize, usize)>,
    pub sentences: Vec<Sentence>,
    pub rfc2119: bool,
}

/// What a source line starts: a block of its own, the continuation of one, or nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Blank,
    Fence,
    /// A heading, a list item, a table row: a block starts here.
    Opens,
    Continues,
    /// A table's `|---|---|` line.
    Rule,
}

fn line_kind(raw: &str) -> LineKind {
    let t = raw.trim_start();
    let t = t.trim_start_matches('>').trim_start();
    if t.is_empty() {
        LineKind::Blank
    } else if t.starts_with("```") || t.starts_with("~~~") {
        LineKind::Fence
    } else if t.starts_with('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
        LineKind::Rule
    } else if t.starts_with('#')
        || t.starts_with('|')
        || t.starts_with("- ")
        || t.starts_with("* ")
        || t.starts_with("+ ")
        || t.split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    {
        LineKind::Opens
    } else {
        LineKind::Continues
    }
}

impl Document {
    pub fn parse(markdown: &str, rfc2119: bool) -> Document {
        let stripped = strip_spans(markdown);
        let mut text = String::new();
        let mut lines = vec![];
        // blocks as spans of `text`; code is in the text (a quote may come from it) but in
        // no block, so it has no sentences
        let mut blocks: Vec<(usize, usize)> = vec![];
        let mut open: Option<usize> = None;
        let mut in_code = false;
        let mut close = |open: &mut Option<usize>, end: usize| {
            if let Some(s) = open.take()
                && end > s
            {
                blocks.push((s, end));
            }
        };
        for (i, raw) in stripped.lines().enumerate() {
            let kind = line_kind(raw);
            if kind == LineKind::Fence {
                close(&mut open, text.len());
                in_code = !in_code;
                continue;
            }
            let plain = plain_line(raw);
            // code, a blank line, a table's rule and a new heading, item or row end a block
            if in_code || kind != LineKind::Continues {
                close(&mut open, text.len());
            }
            if plain.is_empty() {
                continue;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            lines.push((text.len(), i + 1));
            if !in_code && kind != LineKind::Rule && open.is_none() {
                open = Some(text.len());
            }
            text.push_str(&plain);
            // a heading or a table row is a block of one line
            let t = raw.trim_start();
            if t.starts_with('#') || t.starts_with('|') {
                close(&mut open, text.len());
            }
        }
        close(&mut open, text.len());
        let mut doc = Document {
            text,
            lines,
            sentences: vec![],
            rfc2119,
        };
        for (s, e) in blocks {
            for (a, b) in split_sentences(&doc.text[s..e]) {
                let span = &doc.text[s + a..s + b];
                doc.sentences.push(Sentence {
                    start: s + a,
                    end: s + b,
                    line: doc.line_of(s + a),
                    keywords: keywords(span, rfc2119).iter().map(|f| f.keyword).collect(),
                });
            }
        }
        doc
    }

    /// The source line an offset of the normalised text comes from.
    pub fn line_of(&self, offset: usize) -> usize {
        let i = self.lines.partition_point(|(o, _)| *o <= offset);
        self.lines.get(i.saturating_sub(1)).map_or(1, |(_, l)| *l)
    }

    /// The spans where `needle` (normalised) occurs.
    pub fn find_all(&self, needle: &str) -> Vec<(usize, usize)> {
        if needle.is_empty() {
            return vec![];
        }
        self.text
            .match_indices(needle)
            .map(|(i, m)| (i, i + m.len()))
            .collect()
    }

    /// The sentences overlapping a span.
    pub fn enclosing(&self, start: usize, end: usize) -> Vec<&Sentence> {
        self.sentences
            .iter()
            .filter(|s| s.start < end && start < s.end)
            .collect()
    }

    pub fn normative(&self) -> impl Iterator<Item = &Sentence> {
        self.sentences.iter().filter(|s| !s.keywords.is_empty())
    }

    pub fn sentence_text(&self, s: &Sentence) -> &str {
        &self.text[s.start..s.end]
    }
}

/// Sentence spans of one block's text: a sentence ends at `.`, `!` or `?` followed by a
/// space and anything but a lower-case letter, unless the word ending there is an
/// abbreviation ("e.g.", "i.e.", "etc.", "vs.", "cf.").
pub fn split_sentences(block: &str) -> Vec<(usize, usize)> {
    let bytes = block.as_bytes();
    let mut out = vec![];
    let mut start = 0;
    for i in 0..bytes.len() {
        if !matches!(bytes[i], b'.' | b'!' | b'?') || bytes.get(i + 1) != Some(&b' ') {
            continue;
        }
        let next = block[i + 2..].chars().next();
        // a sentence may begin with a placeholder (`<tagname> MUST NOT …`) or a digit, not
        // in lower case
        if next.is_none_or(|c| c.is_lowercase()) {
            continue;
        }
        let word = block[start..=i].rsplit(' ').next().unwrap_or("");
        let word = word.trim_start_matches(['(', '"']).to_ascii_lowercase();
        if ["e.g.", "i.e.", "etc.", "vs.", "cf."].contains(&word.as_str()) {
            continue;
        }
        out.push((start, i + 1));
        start = i + 2;
    }
    if start < block.len() {
        out.push((start, block.len()));
    }
    out
}
