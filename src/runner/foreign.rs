//! Where a spec file's requests may go. Spec files may come from a proposal under review,
//! run in CI with real credentials; a request to a host of the file's choosing would carry
//! the run's traffic (and, through a careless client, its credentials) there. So a scenario
//! reaches the registry under test and the places that registry itself names — a
//! `Location`, the realm of its token challenge — and nothing else, unless the run says
//! `--allow-foreign-urls`.
//!
//! Two layers: the loader refuses a URL template that leaves the registry whatever its
//! variables hold ([`leaves_registry`]), with the file's position; at run time the request
//! builder refuses a rendered URL of another origin ([`Reach::check`]), for the URLs a
//! template builds from captured values, which no loader can see.

use reqwest::Url;
use url::Origin;

use crate::runner::plan::Builtin;
use crate::runner::template;

/// Whether requests may go to hosts other than the registry under test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForeignUrls {
    /// Only the registry, and the origins it names itself.
    #[default]
    Refused,
    /// Anywhere (`--allow-foreign-urls`): for scenarios that talk to a service of their
    /// own on purpose.
    Allowed,
}

impl ForeignUrls {
    pub fn from_flag(allow: bool) -> ForeignUrls {
        if allow {
            ForeignUrls::Allowed
        } else {
            ForeignUrls::Refused
        }
    }
}

/// What `{registry}` stands for while a template is checked: a name no registry has.
const REGISTRY: &str = "http://registry.invalid";

/// Whether the URL template `t` leads off the registry for any value of its variables:
/// `{registry}` stands for the registry, every other variable for a harmless path
/// segment (a variable holding a whole URL is judged at run time), and the result is
/// resolved against the registry as the runner does. An absolute URL of another host, a
/// scheme-relative `//host/…`, `{registry}.example` or `{registry}:8080` leave it.
pub fn leaves_registry(t: &str) -> bool {
    let registry = Builtin::Registry.name();
    let Ok(rendered) = template::render(t, &|name: &str| {
        Some(if name == registry { REGISTRY } else { "p" }.to_string())
    }) else {
        return false;
    };
    let base = Url::parse(&format!("{REGISTRY}/")).expect("static URL");
    match base.join(&rendered) {
        Ok(url) => url.origin() != base.origin(),
        // unparseable: the run reports it at the step, and sends nothing
        Err(_) => false,
    }
}

/// The origins a scenario's requests may reach: the registry's, and those the registry
/// named in its answers.
#[derive(Clone, Debug)]
pub struct Reach {
    policy: ForeignUrls,
    registry: Origin,
    named: Vec<Origin>,
}

impl Reach {
    pub fn new(policy: ForeignUrls, registry: &Url) -> Reach {
        Reach {
            policy,
            registry: registry.origin(),
            named: vec![],
        }
    }

    /// Notes the origin of a URL the registry sent where a client is told where to go
    /// (a `Location`, a challenge's realm), as it came, before any rewriting by the scenario.
    pub fn named_by_registry(&mut self, value: &str) {
        if let Ok(u) = Url::parse(value) {
            let o = u.origin();
            if o.is_tuple() && o != self.registry && !self.named.contains(&o) {
                self.named.push(o);
            }
        }
    }

    /// `Err` says why `url` may not be requested.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        let o = url.origin();
        if self.policy == ForeignUrls::Allowed || o == self.registry || self.named.contains(&o) {
            return Ok(());
        }
        Err(format!(
            "refused: {} is not the registry under test ({}) nor a place it named (a Location, \
             a token realm); a spec file reaches other hosts only with --allow-foreign-urls",
            o.ascii_serialization(),
            self.registry.ascii_serialization()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_that_leave_the_registry_are_told_apart() {
        for stays in [
            "/v2/",
            "/v2/{repo}/blobs/{layer.digest}",
            "{upload}",
            "{upload}&digest={layer.digest}",
            "{registry}/v2/{repo}/tags/list",
            "{registry}",
            "v2/relative",
            "http://[broken",
        ] {
            assert!(!leaves_registry(stays), "{stays}");
        }
        for leaves in [
            "http://127.0.0.2:5000/v2/",
            "https://example.com/token",
            "HTTP://example.com/",
            "//example.com/v2/",
            "\\\\example.com\\v2",
            "{registry}.example.com/v2/",
            "{registry}:8080/v2/",
            "{registry}@example.com/v2/",
            "https://{registry}/v2/",
            "http://{host}/v2/",
            "{scheme}://{host}/v2/",
        ] {
            assert!(leaves_registry(leaves), "{leaves}");
        }
    }

    #[test]
    fn the_registry_and_what_it_names_are_reachable() {
        let base = Url::parse("http://127.0.0.1:5000/").unwrap();
        let mut r = Reach::new(ForeignUrls::Refused, &base);
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(r.check(&u("http://127.0.0.1:5000/v2/x")).is_ok());
        let token = u("https://auth.example/token?service=x");
        let e = r.check(&token).unwrap_err();
        assert!(e.contains("https://auth.example"), "{e}");
        assert!(e.contains("--allow-foreign-urls"), "{e}");
        // another port or scheme is another origin
        assert!(r.check(&u("http://127.0.0.1:5001/v2/")).is_err());
        assert!(r.check(&u("https://127.0.0.1:5000/v2/")).is_err());
        r.named_by_registry("https://auth.example/token");
        r.named_by_registry("/v2/relative/is/the/registry");
        assert!(r.check(&token).is_ok());
        assert!(r.check(&u("http://127.0.0.2:5000/")).is_err());
        let open = Reach::new(ForeignUrls::Allowed, &base);
        assert!(open.check(&u("http://127.0.0.2:5000/")).is_ok());
    }
}
