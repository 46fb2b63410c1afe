//! Which origin may receive which credential: the one place that decides.
//!
//! A run's credentials belong to the registry under test. URLs reach the client from many
//! places the user does not control — an upload `Location`, a pagination `Link`, a
//! redirect, a token realm named by a challenge — and any of them can name another host.
//! The rules:
//! - the registry's own origin (scheme, host and port of the URL the user gave) gets the
//!   user's credentials, and the tokens fetched with them;
//! - a token realm gets the user's credentials only when the challenge naming it came from
//!   the registry's origin (the realm may be the registry's origin or a token service of
//!   its own) — and never over plain `http` when the registry is `https` (unless
//!   `--insecure`);
//! - every other origin gets nothing of the user's: a challenge it sends is answered
//!   anonymously (even one naming the registry's realm: the token would go to the host
//!   that asked), and the token that brings is sent to that origin alone.

use reqwest::Url;
use url::Origin;

/// Which credentials a token request may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    /// The user's credentials (Basic).
    User,
    /// None: an anonymous token request.
    Anonymous,
}

/// The registry's origin and what the user allowed about transport security.
#[derive(Clone, Debug)]
pub(crate) struct Trust {
    /// `None`: no registry was named, so the user's credentials go nowhere.
    registry: Option<Origin>,
    registry_is_https: bool,
    insecure: bool,
}

impl Trust {
    pub(crate) fn new(registry: Option<&Url>, insecure: bool) -> Trust {
        Trust {
            registry: registry.map(Url::origin),
            registry_is_https: registry.is_some_and(|u| u.scheme() == "https"),
            insecure,
        }
    }

    /// Whether `url` is on the registry's own origin (and so may carry the user's
    /// credentials and the registry's tokens).
    pub(crate) fn is_registry(&self, url: &Url) -> bool {
        self.registry.as_ref().is_some_and(|o| *o == url.origin())
    }

    /// What a token request to `realm` may carry, the challenge naming it having come from
    /// `challenger`.
    pub(crate) fn realm_grant(&self, realm: &Url, challenger: &Url) -> Grant {
        if !self.is_registry(challenger) {
            return Grant::Anonymous;
        }
        // a challenge from the registry may name a realm elsewhere (a token service of its
        // own), but not one that would carry the password in clear text
        let downgrade = self.registry_is_https && realm.scheme() != "https" && !self.insecure;
        if downgrade && !self.is_registry(realm) {
            return Grant::Anonymous;
        }
        Grant::User
    }
}

/// An `Authorization` value and the one origin it may be sent to.
#[derive(Clone, Debug)]
pub(crate) struct BoundAuth {
    pub value: String,
    pub origin: Origin,
}

impl BoundAuth {
    pub(crate) fn for_url(value: String, url: &Url) -> BoundAuth {
        BoundAuth {
            value,
            origin: url.origin(),
        }
    }

    /// The value, when `url` is on the origin it is bound to.
    pub(crate) fn for_hop(&self, url: &Url) -> Option<&str> {
        (url.origin() == self.origin).then_some(self.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_the_registry_origin_is_the_registry() {
        let t = Trust::new(Some(&u("https://reg.example:5000/")), false);
        assert!(t.is_registry(&u("https://reg.example:5000/v2/a/blobs/uploads/x")));
        assert!(!t.is_registry(&u("http://reg.example:5000/v2/")), "scheme");
        assert!(!t.is_registry(&u("https://reg.example/v2/")), "port");
        assert!(
            !t.is_registry(&u("https://reg.example.evil:5000/v2/")),
            "host"
        );
        assert!(
            !t.is_registry(&u("https://user@storage.example/")),
            "userinfo is no origin"
        );
        let none = Trust::new(None, false);
        assert!(!none.is_registry(&u("https://reg.example:5000/v2/")));
    }

    #[test]
    fn realms_get_credentials_only_through_the_registry() {
        let reg = u("https://reg.example/");
        let t = Trust::new(Some(&reg), false);
        let auth = u("https://auth.example/token");
        let storage = u("https://storage.example/blob");
        assert_eq!(
            t.realm_grant(&auth, &reg),
            Grant::User,
            "named by the registry"
        );
        assert_eq!(
            t.realm_grant(&reg.join("token").unwrap(), &storage),
            Grant::Anonymous,
            "the registry's realm named by another host: the token would go to that host"
        );
        assert_eq!(
            t.realm_grant(&auth, &storage),
            Grant::Anonymous,
            "named by another host"
        );
        let clear = u("http://auth.example/token");
        assert_eq!(t.realm_grant(&clear, &reg), Grant::Anonymous, "downgrade");
        let insecure = Trust::new(Some(&reg), true);
        assert_eq!(insecure.realm_grant(&clear, &reg), Grant::User);
        let plain = Trust::new(Some(&u("http://localhost:5000/")), false);
        assert_eq!(
            plain.realm_grant(&clear, &u("http://localhost:5000/v2/")),
            Grant::User,
            "an http registry's own choice"
        );
    }

    #[test]
    fn bound_values_go_to_their_origin_alone() {
        let b = BoundAuth::for_url("Bearer t".into(), &u("http://127.0.0.1:5000/v2/"));
        assert_eq!(
            b.for_hop(&u("http://127.0.0.1:5000/v2/x")),
            Some("Bearer t")
        );
        assert_eq!(b.for_hop(&u("http://127.0.0.2:5000/v2/x")), None);
        assert_eq!(b.for_hop(&u("http://127.0.0.1:5001/v2/x")), None);
    }
}
