//! Pagination: the target of `rel="next"` in a `Link` header (RFC 8288), and, for a
//! registry that sends none, the next page asked for with `last`; the caps on what one
//! step collects across its pages.

use reqwest::Url;

/// Entries one paginated step collects at most, across all its pages.
pub const MAX_ENTRIES: usize = 100_000;
/// Bytes of pages one paginated step reads at most, across all its pages.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A cap on what a paginated step collects: a registry may send pages without end, each
/// as large as the body cap allows, and the run holds every entry until the step ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Cap {
    #[error("more than {MAX_ENTRIES} entries (the cap on what one paginated step collects)")]
    Entries,
    #[error("more than {MAX_BYTES} bytes (the cap on what one paginated step reads)")]
    Bytes,
}

/// What a paginated step has collected so far, held to the caps.
#[derive(Debug, Default)]
pub struct Collected {
    entries: usize,
    bytes: u64,
}

impl Collected {
    /// Counts a page's bytes, before it is parsed.
    pub fn page(&mut self, bytes: usize) -> Result<(), Cap> {
        self.bytes = self.bytes.saturating_add(bytes as u64);
        if self.bytes > MAX_BYTES {
            return Err(Cap::Bytes);
        }
        Ok(())
    }

    /// Counts a page's entries, before they are kept.
    pub fn entries(&mut self, n: usize) -> Result<(), Cap> {
        self.entries = self.entries.saturating_add(n);
        if self.entries > MAX_ENTRIES {
            return Err(Cap::Entries);
        }
        Ok(())
    }
}

/// The target of `rel="next"` among `Link` header values (each may hold several links).
pub fn next_link(values: &[String]) -> Option<String> {
    for v in values {
        for part in v.split(',') {
            let Some((target, params)) = part.trim().split_once(';') else {
                continue;
            };
            let Some(target) = target
                .trim()
                .strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
            else {
                continue;
            };
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            });
            if is_next {
                return Some(target.to_string());
            }
        }
    }
    None
}

/// The next page of a list whose registry sends no `Link`: the same query with `last` set to
/// the last entry received ("the response … will begin after <tagname>", listing-tags, where
/// the `Link` header itself is only a MAY). `None` when nothing remains: the page held fewer
/// than the `n` asked for (or nothing), or the query has no `n`, so the answer was whole.
pub fn after_last(page: &Url, received: usize, last: Option<&str>) -> Option<Url> {
    let asked: usize = page
        .query_pairs()
        .find(|(k, _)| k == "n")
        .and_then(|(_, v)| v.parse().ok())?;
    let last = last?;
    if received == 0 || received < asked {
        return None;
    }
    let keep: Vec<(String, String)> = page
        .query_pairs()
        .filter(|(k, _)| k != "last")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut next = page.clone();
    next.query_pairs_mut()
        .clear()
        .extend_pairs(keep)
        .append_pair("last", last);
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(v: &[&str]) -> Option<String> {
        next_link(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn next_among_links() {
        assert_eq!(
            l(&["</v2/a/tags/list?n=2&last=b>; rel=\"next\""]).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(l(&["<x>; rel=\"prev\""]), None);
        assert_eq!(
            l(&["<p>; rel=\"prev\", <n>; rel=next"]).as_deref(),
            Some("n")
        );
        assert_eq!(
            l(&["<p>; rel=prev", "<n>; rel = \"next\""]).as_deref(),
            Some("n")
        );
        // a malformed link does not hide a good one after it
        assert_eq!(l(&["garbage, <n>; rel=\"next\""]).as_deref(), Some("n"));
        assert_eq!(l(&[]), None);
    }

    #[test]
    fn collected_lists_are_capped() {
        let mut c = Collected::default();
        assert_eq!(c.entries(MAX_ENTRIES), Ok(()));
        assert_eq!(c.entries(1), Err(Cap::Entries));
        let mut c = Collected::default();
        assert_eq!(c.page(MAX_BYTES as usize), Ok(()));
        assert_eq!(c.page(1), Err(Cap::Bytes));
        assert!(Cap::Entries.to_string().contains("100000 entries"));
    }

    #[test]
    fn after_last_continues_full_pages_only() {
        let u = |s: &str| Url::parse(s).unwrap();
        let page = u("http://r/v2/a/tags/list?n=3&last=t2");
        assert_eq!(
            after_last(&page, 3, Some("t5"))
                .map(String::from)
                .as_deref(),
            Some("http://r/v2/a/tags/list?n=3&last=t5")
        );
        // fewer than n: the list is complete
        assert_eq!(after_last(&page, 2, Some("t4")), None);
        assert_eq!(after_last(&page, 0, None), None);
        // without n the answer was the whole list
        assert_eq!(
            after_last(&u("http://r/v2/a/tags/list"), 5, Some("t4")),
            None
        );
    }
}
