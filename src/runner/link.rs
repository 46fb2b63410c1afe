//! Pagination: the target of `rel="next"` in a `Link` header (RFC 8288), and, for a
//! registry that sends none, the next page asked for with `last`.

use reqwest::Url;

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
