//! The requirements catalogue, each entry checked on its own: its level no stronger than the
//! words of its sentence (unless derived), every endpoint it names a row of the endpoint
//! table, every error code one of the error-code table, and a category's presence marker
//! one a run can judge.

use std::collections::BTreeMap;

use super::diagnostics::{Diagnostic, FileText};
use crate::oci::ErrorCode;
use crate::runner::model::{Category, Cite, Keyword, Level, Requirement};
use crate::runner::plan::Source;

/// Checks a requirement: its level against its keyword, its `endpoints:` against the
/// endpoint table, its `codes:` against the error-code table, and a `presence:` marker
/// against the others seen so far (`presences`: category → requirement id).
pub(super) fn requirement_tables(
    file: &FileText<'_>,
    src: &Source,
    r: &Requirement,
    presences: &mut BTreeMap<Category, String>,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(message) = presence_unsound(r, presences) {
        diags.push(
            file.at(
                src,
                message,
                Some(
                    "one SHOULD per optional category, naming the endpoints that answer as absent"
                        .into(),
                ),
            ),
        );
    }
    if let Some(message) = level_unsupported(r) {
        diags.push(file.at(
            src,
            message,
            Some("lower the level, or say in derived_from what rule it follows from".into()),
        ));
    }
    if let Some(message) = keyword_not_cited(r) {
        diags.push(file.at(
            src,
            message,
            Some("keyword is the word of the sentence cited from the source document: make them one".into()),
        ));
    }
    for e in &r.endpoints {
        if !known_endpoint(e) {
            diags.push(file.at(
                src,
                format!("requirement {}: unknown endpoint {e}", r.id),
                Some("endpoints are the spec's ids (end-1 … end-14, catalog), as in src/oci/api.rs".into()),
            ));
        }
    }
    for c in &r.codes {
        if ErrorCode::by_spec_id(c).is_none() {
            diags.push(file.at(
                src,
                format!("requirement {}: unknown error code {c}", r.id),
                Some("codes are the spec's ids (code-1 … code-14), as in src/oci/errors.rs".into()),
            ));
        }
    }
}

/// A `presence:` requirement stands for a whole optional category: it must be SHOULD (the
/// spec's word for the optional categories), name endpoints to judge from, and be the only
/// one of its category; Pull is never optional.
fn presence_unsound(r: &Requirement, presences: &mut BTreeMap<Category, String>) -> Option<String> {
    if !r.presence {
        return None;
    }
    let problem = if r.category.always_claimed() {
        format!(
            "requirement {}: {} is required of every registry, it has no presence to judge",
            r.id,
            r.category.title()
        )
    } else if r.level.class() != "SHOULD" {
        format!(
            "requirement {}: a category's presence is SHOULD, not {}",
            r.id,
            r.level.as_str()
        )
    } else if r.endpoints.is_empty() {
        format!(
            "requirement {}: a category's presence needs the endpoints it is judged from",
            r.id
        )
    } else {
        match presences.insert(r.category, r.id.clone()) {
            Some(other) if other != r.id => format!(
                "requirement {}: {} already has its presence in {other}",
                r.id,
                r.category.title()
            ),
            _ => return None,
        }
    };
    Some(problem)
}

/// An endpoint id of the spec's table (`end-4b`, `end-11`, ...), as the rows of
/// `oci::api::ROUTES` name them.
fn known_endpoint(id: &str) -> bool {
    crate::oci::api::route_by_spec_id(id).is_some()
}

/// A level stronger than the keyword of the sentence it cites needs `derived_from`: the rule
/// that makes the registry's duty stronger than that sentence's words. MUST and MUST NOT are
/// one strength, SHOULD and SHOULD NOT another; a sentence without a keyword supports none.
fn level_unsupported(r: &Requirement) -> Option<String> {
    let level = match r.level {
        Level::Must | Level::MustNot => 3,
        Level::Should | Level::ShouldNot => 2,
        Level::May => 1,
    };
    let (keyword, word) = match r.keyword {
        Keyword::Must => (3, "MUST"),
        Keyword::MustNot => (3, "MUST NOT"),
        Keyword::Should => (2, "SHOULD"),
        Keyword::ShouldNot => (2, "SHOULD NOT"),
        Keyword::May => (1, "MAY"),
        Keyword::Unstated => (0, "none"),
    };
    let derived = r
        .derived_from
        .as_deref()
        .is_some_and(|d| !d.trim().is_empty());
    (level > keyword && !derived).then(|| {
        format!(
            "requirement {} is {} but its sentence's keyword is {word}, and no derived_from says why",
            r.id,
            r.level.as_str(),
        )
    })
}

/// A requirement that quotes its source document says twice which word that document uses:
/// in `keyword` and in each cite's `keyword`. The top-level one must be one of the cited ones,
/// so the two can never disagree. (A requirement citing nothing of its source is `trace`'s
/// finding, not the loader's: the cites are checked against the texts there.)
fn keyword_not_cited(r: &Requirement) -> Option<String> {
    let of_source: Vec<&Cite> = r
        .cites
        .iter()
        .filter(|c| c.doc.as_str() == r.source)
        .collect();
    if of_source.is_empty() || of_source.iter().any(|c| c.keyword == r.keyword) {
        return None;
    }
    let cited: Vec<&str> = of_source.iter().map(|c| c.keyword.as_str()).collect();
    Some(format!(
        "requirement {}: keyword {} is not the keyword of any of its cites of {} ({})",
        r.id,
        r.keyword.as_str(),
        r.source,
        cited.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirement(level: &str, keyword: &str, derived_from: Option<&str>) -> Requirement {
        let mut yaml = format!(
            "id: x.y\nlevel: {level}\ncategory: pull\nsection: s\nkeyword: {keyword}\nsummary: z\n"
        );
        if let Some(d) = derived_from {
            yaml.push_str(&format!("derived_from: {d}\n"));
        }
        serde_saphyr::from_str(&yaml).unwrap()
    }

    #[test]
    fn a_level_stronger_than_its_keyword_needs_derived_from() {
        assert!(level_unsupported(&requirement("MUST", "SHOULD", None)).is_some());
        assert!(level_unsupported(&requirement("SHOULD", "MAY", None)).is_some());
        assert!(level_unsupported(&requirement("MAY", "none", None)).is_some());
        assert!(level_unsupported(&requirement("MUST", "none", Some("  "))).is_some());
        assert!(
            level_unsupported(&requirement("MUST", "none", Some("a chain of MUSTs"))).is_none()
        );
        assert!(level_unsupported(&requirement("MUST NOT", "MUST", None)).is_none());
        assert!(level_unsupported(&requirement("SHOULD", "MUST", None)).is_none());
        assert!(level_unsupported(&requirement("SHOULD NOT", "SHOULD NOT", None)).is_none());
    }

    fn presence(id: &str, level: &str, category: &str, endpoints: &str) -> Requirement {
        serde_saphyr::from_str(&format!(
            "id: {id}\nlevel: {level}\ncategory: {category}\npresence: true\nsection: s\nkeyword: {level}\nsummary: z\nendpoints: {endpoints}\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_presence_is_one_should_of_an_optional_category_with_endpoints() {
        let mut seen = BTreeMap::new();
        let ok = presence("c.tags", "SHOULD", "content-discovery", "[end-8a]");
        assert_eq!(presence_unsound(&ok, &mut seen), None);
        // the same requirement again (an overlay replacing it) is no second presence
        assert_eq!(presence_unsound(&ok, &mut seen), None);
        let twice = presence("c.other", "SHOULD", "content-discovery", "[end-8b]");
        assert!(
            presence_unsound(&twice, &mut seen)
                .unwrap()
                .contains("already")
        );
        let pull = presence("c.pull", "SHOULD", "pull", "[end-2]");
        assert!(presence_unsound(&pull, &mut seen).is_some());
        let must = presence("c.push", "MUST", "push", "[end-4a]");
        assert!(presence_unsound(&must, &mut seen).is_some());
        let blind = presence("c.push", "SHOULD", "push", "[]");
        assert!(presence_unsound(&blind, &mut seen).is_some());
    }

    #[test]
    fn the_keyword_is_one_of_the_cited_keywords_of_the_source_document() {
        let with = |source: &str, keyword: &str, cites: &str| -> Requirement {
            serde_saphyr::from_str(&format!(
                "id: x.y\nlevel: MAY\ncategory: pull\nsection: s\nsource: {source}\nkeyword: {keyword}\nsummary: z\ncites: {cites}\n"
            ))
            .unwrap()
        };
        let two =
            "[{doc: v1.1.1, keyword: SHOULD, quote: a}, {doc: main, keyword: MUST, quote: b}]";
        assert_eq!(keyword_not_cited(&with("v1.1.1", "SHOULD", two)), None);
        assert_eq!(keyword_not_cited(&with("main", "MUST", two)), None);
        let wrong = keyword_not_cited(&with("v1.1.1", "MUST", two)).unwrap();
        assert!(
            wrong
                .contains("keyword MUST is not the keyword of any of its cites of v1.1.1 (SHOULD)"),
            "{wrong}"
        );
        assert!(keyword_not_cited(&with("main", "SHOULD", two)).is_some());
        // no cite of the source, or no cites at all: nothing to disagree with here
        assert_eq!(keyword_not_cited(&with("auth", "MUST", two)), None);
        assert_eq!(keyword_not_cited(&with("v1.1.1", "MUST", "[]")), None);
    }

    #[test]
    fn category_is_required() {
        let yaml = "id: x.y\nlevel: MAY\nsection: s\nkeyword: MAY\nsummary: z\n";
        assert!(serde_saphyr::from_str::<Requirement>(yaml).is_err());
    }

    #[test]
    fn keyword_is_required() {
        let yaml = "id: x.y\nlevel: MAY\ncategory: pull\nsection: s\nsummary: z\n";
        assert!(serde_saphyr::from_str::<Requirement>(yaml).is_err());
    }
}
