//! The oracle for lists walked page by page: the tags of a repository and the catalog.
//! Every page must be in order and within `n`; the walk, once at its end, must name exactly
//! what the model holds after `last` when the repository holds that tag (of any other `last`
//! the spec says nothing).

use super::exec::{Answer, MAX_PAGES};
use super::model::{Model, RepoId};
use super::oracle::{Discrepancy, Learned, Switch, fail, names};

/// Names are exploration tags and repository names: lowercase ASCII, where the spec's lexical
/// order is byte order.
fn ordered(xs: &[String]) -> bool {
    xs.windows(2).all(|w| w[0] < w[1])
}

fn query_value(url: &str, key: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn tags(
    m: &Model,
    repo: RepoId,
    n: Option<usize>,
    last: Option<&str>,
    answers: &[Answer],
) -> Result<(), Discrepancy> {
    let all = m.tags(repo);
    let first = &answers[0];
    if first.status == 404 && all.is_empty() {
        // a repository without tags may be unknown to the registry
        return Ok(());
    }
    // `last` naming a tag the repository does not hold: the spec places a page's start only
    // after a tag the list contains (the client sends one), so which tags follow, if any, and
    // even the status are the registry's; what every page of tags is (in order, within `n`)
    // still holds
    let held = |l: &str| all.iter().any(|t| t == l);
    let unknown_last = last.is_some_and(|l| !held(l));
    let mut listed: Vec<String> = vec![];
    for (i, a) in answers.iter().enumerate() {
        if a.status != 200 {
            if unknown_last && i == 0 {
                return Ok(());
            }
            return Err(fail(
                "tags.list",
                a,
                format!("expected 200; tags are {all:?}"),
            ));
        }
        let page = names(a, "tags")?;
        // each page starts after the `last` it was asked with (a Link's, or the walk's own),
        // when the repository holds that tag
        if let Some(asked) = query_value(&a.url, "last")
            && held(&asked)
            && let Some(early) = page.iter().find(|t| t.as_str() <= asked.as_str())
        {
            return Err(fail(
                "tags.last",
                a,
                format!("{early:?} listed after last={asked:?}: {page:?}"),
            ));
        }
        if let Some(n) = n
            && page.len() > n
        {
            return Err(fail("tags.n", a, format!("{} tags for n={n}", page.len())));
        }
        if !ordered(&page) {
            return Err(fail("tags.order", a, format!("{page:?} is not in order")));
        }
        if let (Some(prev), Some(next)) = (listed.last(), page.first())
            && prev >= next
        {
            return Err(fail(
                "tags.link",
                a,
                format!("the page after {prev:?} starts at {next:?}"),
            ));
        }
        listed.extend(page);
    }
    if unknown_last {
        return Ok(());
    }
    let a = answers.last().expect("one answer at least");
    if let Some(l) = last
        && let Some(early) = listed.iter().find(|t| t.as_str() <= l)
    {
        return Err(fail(
            "tags.last",
            a,
            format!("{early:?} listed after last={l:?}; listed {listed:?}"),
        ));
    }
    if answers.len() >= MAX_PAGES {
        return Ok(());
    }
    let want: Vec<String> = all
        .into_iter()
        .filter(|t| last.is_none_or(|l| t.as_str() > l))
        .collect();
    if listed != want {
        let paged = answers.len() > 1;
        let extra: Vec<_> = listed.iter().filter(|t| !want.contains(t)).collect();
        let req = if paged && extra.is_empty() {
            "tags.link"
        } else {
            "tags.list"
        };
        return Err(fail(
            req,
            a,
            format!("listed {listed:?}, the repository holds {want:?}"),
        ));
    }
    Ok(())
}

pub(crate) fn catalog(
    m: &Model,
    prefix: &str,
    answers: &[Answer],
    learned: &mut Learned,
) -> Result<(), Discrepancy> {
    let first = &answers[0];
    match (learned.catalog, first.status) {
        (Switch::On, 200) | (Switch::Unknown, 200) => learned.catalog = Switch::On,
        (Switch::Unknown, _) => {
            // the catalog is an extension of distribution's, not of the OCI spec
            learned.catalog = Switch::Off;
            return Ok(());
        }
        (Switch::Off, _) => return Ok(()),
        (Switch::On, _) => return Err(fail("dist.catalog", first, "it answered 200 before")),
    }
    let mut listed: Vec<String> = vec![];
    for a in answers {
        if a.status != 200 {
            return Err(fail("dist.catalog.pagination", a, "expected 200"));
        }
        let page = names(a, "repositories")?;
        if !ordered(&page) {
            return Err(fail(
                "dist.catalog.pagination",
                a,
                format!("{page:?} is not in order"),
            ));
        }
        if let (Some(prev), Some(next)) = (listed.last(), page.first())
            && prev >= next
        {
            return Err(fail(
                "dist.catalog.pagination",
                a,
                format!("the page after {prev:?} starts at {next:?}"),
            ));
        }
        listed.extend(page);
    }
    // a walk cut off at the page limit has not seen the rest
    let complete = answers.len() < MAX_PAGES;
    let reached = listed.last().cloned().unwrap_or_default();
    for (r, repo) in &m.repos {
        let name = format!("{prefix}/r{r}");
        let due = complete || name < reached;
        // only repositories with a tag: what else a registry keeps listing is its own affair
        if due && !repo.tags.is_empty() && !listed.contains(&name) {
            let a = answers.last().expect("one answer at least");
            return Err(fail(
                "dist.catalog",
                a,
                format!("{name} holds tags but is not listed"),
            ));
        }
    }
    Ok(())
}
