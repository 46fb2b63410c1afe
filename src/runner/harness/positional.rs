//! What a positional argument without a scheme is: a scenario filter, or a registry address
//! typed without `http://` / `https://`. A host taken as a filter selects nothing and the run
//! would pass while judging nothing, so an argument that looks like a host is refused with
//! the URL it probably meant. It is refused rather than completed: guessing `http` or
//! `https` would either send requests in clear text to a registry that expects TLS or fail
//! on one that has none, and the user knows which.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::runner::error::RunError;

/// Refuses `arg` when it has no scheme and looks like a host or host:port; anything else
/// (a URL, a scenario filter) passes.
pub fn refuse_bare_host(arg: &str) -> Result<(), RunError> {
    match suggestion(arg) {
        Some(url) => Err(RunError::BareHost {
            given: arg.to_string(),
            suggestion: url,
        }),
        None => Ok(()),
    }
}

/// The URL a scheme-less host argument probably meant, or `None` when it is no host.
fn suggestion(arg: &str) -> Option<String> {
    if arg.contains("://") {
        return None;
    }
    // credentials and a path may follow the host as in a URL; scenario names hold neither
    let authority = arg.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    let loopback = host_kind(authority)?;
    let scheme = if loopback { "http" } else { "https" };
    Some(format!("{scheme}://{arg}"))
}

/// Whether `authority` is a host with an optional port: `Some(true)` for a loopback host,
/// `Some(false)` for another, `None` when it is not a host.
fn host_kind(authority: &str) -> Option<bool> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = addr.parse().ok()?;
        if !after.is_empty() {
            port(after.strip_prefix(':')?)?;
        }
        return Some(ip.is_loopback());
    }
    // an IPv6 address without brackets (`::1`) holds colons of its own
    if let Ok(ip) = authority.parse::<Ipv6Addr>() {
        return Some(ip.is_loopback());
    }
    let (host, has_port) = match authority.rsplit_once(':') {
        Some((h, p)) => {
            port(p)?;
            (h, true)
        }
        None => (authority, false),
    };
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some(ip.is_loopback());
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Some(true);
    }
    let labels: Vec<&str> = host.split('.').collect();
    if !labels.iter().all(|l| dns_label(l)) {
        return None;
    }
    // one bare word is a filter (`push`) unless a port follows it (`registry:5000`); a
    // dotted name is a host when its last label is a top-level domain's (letters only)
    let dotted = labels.len() >= 2
        && labels
            .last()
            .is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()));
    (has_port || dotted).then(|| host.eq_ignore_ascii_case("localhost"))
}

fn port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

fn dns_label(l: &str) -> bool {
    (1..=63).contains(&l.len())
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::suggestion;

    #[test]
    fn hosts_without_a_scheme_get_the_url_they_meant() {
        for (arg, url) in [
            ("localhost:5000", "http://localhost:5000"),
            ("localhost", "http://localhost"),
            ("127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("127.0.0.1", "http://127.0.0.1"),
            ("[::1]:5000", "http://[::1]:5000"),
            ("[::1]", "http://[::1]"),
            ("::1", "http://::1"),
            ("registry.example.com", "https://registry.example.com"),
            (
                "registry.example.com:443",
                "https://registry.example.com:443",
            ),
            ("registry:5000", "https://registry:5000"),
            ("10.0.0.7:5000/v2/", "https://10.0.0.7:5000/v2/"),
            ("user:pw@localhost:5000", "http://user:pw@localhost:5000"),
        ] {
            assert_eq!(suggestion(arg).as_deref(), Some(url), "{arg}");
        }
    }

    #[test]
    fn scenario_filters_and_urls_are_no_hosts() {
        for arg in [
            "push",
            "push::monolithic",
            "push::",
            "::monolithic",
            "tags-list",
            "discovery::tags-list",
            "http://localhost:5000",
            "https://registry.example.com",
            "name:x",
            "v1.2",
        ] {
            assert_eq!(suggestion(arg), None, "{arg}");
        }
    }
}
