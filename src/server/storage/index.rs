//! Sorted indexes kept up to date on every write, so a page of a list costs the page (and a
//! logarithm), not the whole list, and a manifest delete finds the tags pointing at it
//! without reading every tag.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use crate::oci::Digest;

/// The position of a name in the spec's lexical order: case-insensitive, bytes breaking ties
/// so the order is total. Tags and repository names are ASCII by their grammars.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LexicalKey {
    folded: String,
    name: String,
}

impl LexicalKey {
    pub fn new(name: &str) -> LexicalKey {
        LexicalKey {
            folded: name.to_ascii_lowercase(),
            name: name.to_string(),
        }
    }
}

/// A names in lexical order with O(page) pages.
#[derive(Clone, Debug, Default)]
pub struct SortedNames(BTreeSet<LexicalKey>);

/// One page of a list: the names, and whether more follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub names: Vec<String>,
    pub more: bool,
}

impl SortedNames {
    pub fn insert(&mut self, name: &str) -> bool {
        self.0.insert(LexicalKey::new(name))
    }
    pub fn remove(&mut self, name: &str) -> bool {
        self.0.remove(&LexicalKey::new(name))
    }
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&LexicalKey::new(name))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn all(&self) -> Vec<String> {
        self.0.iter().map(|k| k.name.clone()).collect()
    }

    /// Up to `n` names after `after` (all of them when `n` is none).
    pub fn page(&self, after: Option<&str>, n: Option<usize>) -> Page {
        let start = match after {
            Some(a) => Bound::Excluded(LexicalKey::new(a)),
            None => Bound::Unbounded,
        };
        let mut it = self.0.range((start, Bound::Unbounded));
        let take = n.unwrap_or(usize::MAX);
        let names: Vec<String> = it.by_ref().take(take).map(|k| k.name.clone()).collect();
        let more = it.next().is_some();
        Page { names, more }
    }
}

/// The tags of one repository: tag → digest, in lexical order, and digest → tags.
#[derive(Clone, Debug, Default)]
pub struct TagIndex {
    target: HashMap<String, Digest>,
    order: SortedNames,
    by_digest: HashMap<Digest, BTreeSet<String>>,
}

impl TagIndex {
    pub fn get(&self, tag: &str) -> Option<&Digest> {
        self.target.get(tag)
    }

    /// Points `tag` at `digest`; returns what it pointed at before.
    pub fn put(&mut self, tag: &str, digest: &Digest) -> Option<Digest> {
        let old = self.target.insert(tag.to_string(), digest.clone());
        if let Some(o) = &old {
            self.unpoint(o, tag);
        } else {
            self.order.insert(tag);
        }
        self.by_digest
            .entry(digest.clone())
            .or_default()
            .insert(tag.to_string());
        old
    }

    pub fn remove(&mut self, tag: &str) -> Option<Digest> {
        let old = self.target.remove(tag)?;
        self.order.remove(tag);
        self.unpoint(&old, tag);
        Some(old)
    }

    fn unpoint(&mut self, digest: &Digest, tag: &str) {
        if let Some(set) = self.by_digest.get_mut(digest) {
            set.remove(tag);
            if set.is_empty() {
                self.by_digest.remove(digest);
            }
        }
    }

    /// Tags pointing at `digest`.
    pub fn pointing_at(&self, digest: &Digest) -> Vec<String> {
        self.by_digest
            .get(digest)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn names(&self) -> &SortedNames {
        &self.order
    }

    pub fn len(&self) -> usize {
        self.target.len()
    }

    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_lexical_order() {
        let mut s = SortedNames::default();
        for n in ["b", "A", "a", "C", "c10", "c9"] {
            s.insert(n);
        }
        assert_eq!(s.all(), ["A", "a", "b", "C", "c10", "c9"]);
        let p = s.page(None, Some(2));
        assert_eq!(p.names, ["A", "a"]);
        assert!(p.more);
        let p = s.page(Some("a"), Some(3));
        assert_eq!(p.names, ["b", "C", "c10"]);
        assert!(p.more);
        let p = s.page(Some("c10"), Some(3));
        assert_eq!(p.names, ["c9"]);
        assert!(!p.more);
        // a `last` that is not in the list still places the page
        assert_eq!(s.page(Some("B"), None).names, ["b", "C", "c10", "c9"]);
    }

    #[test]
    fn tags_know_their_digests() {
        let d1 = Digest::sha256(b"1");
        let d2 = Digest::sha256(b"2");
        let mut t = TagIndex::default();
        t.put("x", &d1);
        t.put("y", &d1);
        assert_eq!(t.pointing_at(&d1), ["x", "y"]);
        assert_eq!(t.put("x", &d2), Some(d1.clone()));
        assert_eq!(t.pointing_at(&d1), ["y"]);
        assert_eq!(t.pointing_at(&d2), ["x"]);
        assert_eq!(t.remove("y"), Some(d1.clone()));
        assert!(t.pointing_at(&d1).is_empty());
        assert_eq!(t.names().all(), ["x"]);
    }
}
