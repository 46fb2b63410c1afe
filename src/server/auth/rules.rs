//! Who may do what: the rules file (`--rules`), and what each endpoint needs.
//!
//! A rule names a user (`alice`), every authenticated user (`*`) or clients without
//! credentials (`anonymous`), a set of repositories (`*`, `prefix/*` or one name) and the
//! actions it grants there. `--anonymous-pull` never widens the rules beyond pulling: an
//! anonymous client pulls where a rule for `anonymous` or for `*` grants pull, and nowhere
//! else; push, delete and the catalog come only from rules naming `anonymous`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::AuthError;
use crate::oci::api::Endpoint;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Action> {
        match s {
            "pull" => Some(Action::Pull),
            "push" => Some(Action::Push),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// Whom a rule is about.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub(crate) enum Who {
    /// `anonymous`: clients that present no credentials.
    Anonymous,
    /// `*`: any authenticated user.
    AnyUser,
    User(String),
}

impl From<String> for Who {
    fn from(s: String) -> Who {
        match s.as_str() {
            "anonymous" => Who::Anonymous,
            "*" => Who::AnyUser,
            _ => Who::User(s),
        }
    }
}

/// Which repositories a rule covers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub(crate) enum Repositories {
    All,
    /// `prefix/*`: every repository under `prefix/`.
    Under(String),
    Exactly(String),
}

impl From<String> for Repositories {
    fn from(s: String) -> Repositories {
        if s == "*" {
            Repositories::All
        } else if let Some(prefix) = s.strip_suffix("/*") {
            Repositories::Under(format!("{prefix}/"))
        } else {
            Repositories::Exactly(s)
        }
    }
}

impl Repositories {
    fn cover(&self, repo: &str) -> bool {
        match self {
            Repositories::All => true,
            Repositories::Under(prefix) => repo.starts_with(prefix.as_str()),
            Repositories::Exactly(name) => name == repo,
        }
    }
}

/// One access rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    user: Who,
    #[serde(default)]
    repositories: Option<Repositories>,
    #[serde(default)]
    actions: Vec<Action>,
    /// May list the catalog.
    #[serde(default)]
    catalog: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<Rule>,
}

/// What a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Being let in at all (`GET /v2/`): a user, or anyone with `--anonymous-pull`.
    Login,
    Catalog,
    Repository {
        name: String,
        actions: Vec<Action>,
        /// A cross-repository mount's source: reading it needs pull there, but without
        /// that the mount only falls back to an upload session, so it is not required.
        mount_from: Option<String>,
    },
}

impl Need {
    /// The scopes a Bearer challenge asks for (space-separated in one `scope` parameter,
    /// as the token specification writes a list of scopes).
    pub(crate) fn scopes(&self) -> Vec<String> {
        match self {
            Need::Login => vec![],
            Need::Repository {
                name,
                actions,
                mount_from,
            } => {
                let actions: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
                let mut scopes = vec![format!("repository:{name}:{}", actions.join(","))];
                if let Some(from) = mount_from {
                    scopes.push(format!("repository:{from}:pull"));
                }
                scopes
            }
            Need::Catalog => vec!["registry:catalog:*".into()],
        }
    }
}

/// The access an endpoint needs on repository `name`; `query` is the request's query string
/// (a POST with `mount` and `from` also asks to read `from`). Pushes ask for pull too, as
/// clients do.
pub(crate) fn need(endpoint: Endpoint, name: Option<&str>, query: Option<&str>) -> Need {
    use Endpoint as E;
    let name = name.unwrap_or_default().to_string();
    let repo = |actions: Vec<Action>| Need::Repository {
        name: name.clone(),
        actions,
        mount_from: None,
    };
    match endpoint {
        E::Base => Need::Login,
        E::Catalog => Need::Catalog,
        E::BlobGet | E::ManifestGet | E::TagsList | E::Referrers => repo(vec![Action::Pull]),
        E::UploadStart => Need::Repository {
            name: name.clone(),
            actions: vec![Action::Pull, Action::Push],
            mount_from: mount_source(query),
        },
        E::UploadChunk | E::UploadClose | E::UploadStatus | E::UploadCancel | E::ManifestPut => {
            repo(vec![Action::Pull, Action::Push])
        }
        E::ManifestDelete | E::BlobDelete => repo(vec![Action::Delete]),
    }
}

/// `from` of a mount request, when it is one and names a valid repository (only valid names
/// reach a challenge, so a crafted `from` cannot add parameters to it).
fn mount_source(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    get("mount")?;
    get("from")
        .filter(|from| crate::oci::name::valid_name(from))
        .map(String::from)
}

/// The rules in force, and whether anonymous clients may pull.
#[derive(Debug)]
pub(crate) struct Rules {
    rules: Vec<Rule>,
    anonymous_pull: bool,
}

impl Rules {
    /// The rules of `path`; none: every authenticated user may do everything.
    pub(crate) fn load(path: Option<&Path>, anonymous_pull: bool) -> Result<Rules, AuthError> {
        let rules = match path {
            None => vec![Rule {
                user: Who::AnyUser,
                repositories: Some(Repositories::All),
                actions: vec![Action::Pull, Action::Push, Action::Delete],
                catalog: true,
            }],
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| AuthError::Read {
                    path: p.to_path_buf(),
                    source: e,
                })?;
                serde_saphyr::from_str::<RulesFile>(&text)
                    .map_err(|e| AuthError::Rules {
                        path: p.to_path_buf(),
                        message: e.to_string().lines().next().unwrap_or("").to_string(),
                    })?
                    .rules
            }
        };
        Ok(Rules {
            rules,
            anonymous_pull,
        })
    }

    fn about(
        rule: &Rule,
        user: Option<&str>,
        action: Option<Action>,
        anonymous_pull: bool,
    ) -> bool {
        match (&rule.user, user) {
            (Who::Anonymous, None) => true,
            (Who::AnyUser, Some(_)) => true,
            // --anonymous-pull: for pulling, anonymous clients count as any user
            (Who::AnyUser, None) => anonymous_pull && action == Some(Action::Pull),
            (Who::User(u), Some(x)) => u == x,
            _ => false,
        }
    }

    /// Whether `user` (`None`: anonymous) may do `action` on `repo`.
    pub(crate) fn allows(&self, user: Option<&str>, repo: &str, action: Action) -> bool {
        self.rules.iter().any(|r| {
            Self::about(r, user, Some(action), self.anonymous_pull)
                && r.repositories.as_ref().is_some_and(|p| p.cover(repo))
                && r.actions.contains(&action)
        })
    }

    pub(crate) fn catalog(&self, user: Option<&str>) -> bool {
        self.rules
            .iter()
            .any(|r| r.catalog && Self::about(r, user, None, self.anonymous_pull))
    }

    /// Whether `user` may be let in at all.
    pub(crate) fn login(&self, user: Option<&str>) -> bool {
        user.is_some() || self.anonymous_pull
    }

    /// Whether the rules give `user` everything `need` requires (a mount's source aside).
    pub(crate) fn grant(&self, user: Option<&str>, need: &Need) -> bool {
        match need {
            Need::Login => self.login(user),
            Need::Catalog => self.catalog(user),
            Need::Repository { name, actions, .. } => {
                actions.iter().all(|a| self.allows(user, name, *a))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str, anonymous_pull: bool) -> Rules {
        Rules {
            rules: serde_saphyr::from_str::<RulesFile>(text).unwrap().rules,
            anonymous_pull,
        }
    }

    const RULES: &str = "rules:\n  - {user: alice, repositories: \"alice/*\", actions: [pull, push]}\n  - {user: \"*\", repositories: \"shared/*\", actions: [pull]}\n  - {user: anonymous, repositories: \"public/*\", actions: [pull]}\n  - {user: admin, catalog: true}\n";

    #[test]
    fn anonymous_pull_does_not_override_the_rules() {
        let r = rules(RULES, true);
        assert!(!r.allows(None, "alice/private", Action::Pull));
        assert!(r.allows(None, "shared/x", Action::Pull));
        assert!(r.allows(None, "public/x", Action::Pull));
        assert!(!r.allows(None, "shared/x", Action::Push));
        assert!(!r.catalog(None));
        assert!(r.login(None));
        // without the flag, anonymous clients get only the anonymous rules
        let r = rules(RULES, false);
        assert!(!r.allows(None, "shared/x", Action::Pull));
        assert!(r.allows(None, "public/x", Action::Pull));
        assert!(!r.login(None));
    }

    #[test]
    fn patterns_and_users() {
        let r = rules(RULES, false);
        assert!(r.allows(Some("alice"), "alice/a/b", Action::Push));
        assert!(!r.allows(Some("alice"), "alicex/a", Action::Pull));
        assert!(!r.allows(Some("bob"), "alice/a", Action::Pull));
        assert!(r.allows(Some("bob"), "shared/a", Action::Pull));
        assert!(r.catalog(Some("admin")) && !r.catalog(Some("alice")));
    }

    #[test]
    fn needs_and_scopes() {
        let n = need(Endpoint::UploadStart, Some("a/b"), None);
        assert_eq!(n.scopes(), ["repository:a/b:pull,push"]);
        let n = need(
            Endpoint::UploadStart,
            Some("a/b"),
            Some("mount=sha256:00&from=c/d"),
        );
        assert_eq!(
            n.scopes(),
            ["repository:a/b:pull,push", "repository:c/d:pull"]
        );
        // a crafted source never reaches a challenge
        let n = need(
            Endpoint::UploadStart,
            Some("a/b"),
            Some("mount=sha256:00&from=c%22,error=%22x"),
        );
        assert_eq!(n.scopes(), ["repository:a/b:pull,push"]);
        assert_eq!(
            need(Endpoint::Catalog, None, None).scopes(),
            ["registry:catalog:*"]
        );
    }
}
