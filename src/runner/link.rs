//! The `Link` header (RFC 8288), as far as pagination needs it: the target of `rel="next"`.

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
}
