//! Authentication and authorisation of the reference registry (`serve --auth basic|token`).
//!
//! Users come from an htpasswd file (bcrypt, as `htpasswd -B` writes it); what each may do
//! comes from a rules file (repository prefixes × actions). In `basic` mode every request
//! carries Basic credentials. In `token` mode the registry answers 401 with a Bearer
//! challenge naming the scope the request needs, and serves the token endpoint itself
//! (`/token`): tokens are HMAC-signed JWTs carrying the granted access, checked on every
//! request. Passwords and tokens are never logged.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

use super::error::AppError;
use crate::oci::ErrorCode;
use crate::oci::api::Endpoint;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Basic credentials on every request.
    Basic,
    /// Bearer tokens from the registry's own token endpoint.
    Token,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
    fn parse(s: &str) -> Option<Action> {
        match s {
            "pull" => Some(Action::Pull),
            "push" => Some(Action::Push),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// One access rule: `user` (a name, `*` for any authenticated user, `anonymous`) may do
/// `actions` on repositories matching `repositories` (`*`, `prefix/*`, or an exact name).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub user: String,
    #[serde(default)]
    pub repositories: Option<String>,
    #[serde(default)]
    pub actions: Vec<Action>,
    /// May list the catalog.
    #[serde(default)]
    pub catalog: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<Rule>,
}

/// What a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// Any authenticated identity (GET /v2/).
    Login,
    Repository {
        name: String,
        actions: Vec<Action>,
    },
    Catalog,
}

impl Need {
    /// The scope string of a Bearer challenge.
    fn scope(&self) -> Option<String> {
        match self {
            Need::Login => None,
            Need::Repository { name, actions } => Some(format!(
                "repository:{name}:{}",
                actions
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            Need::Catalog => Some("registry:catalog:*".into()),
        }
    }
}

/// The access an endpoint needs on a repository. Pushes ask for pull too, as clients do.
pub fn need(endpoint: Endpoint, name: Option<&str>) -> Need {
    use Endpoint as E;
    let repo = |actions: Vec<Action>| Need::Repository {
        name: name.unwrap_or_default().to_string(),
        actions,
    };
    match endpoint {
        E::Base => Need::Login,
        E::Catalog => Need::Catalog,
        E::BlobGet | E::ManifestGet | E::TagsList | E::Referrers => repo(vec![Action::Pull]),
        E::UploadStart
        | E::UploadChunk
        | E::UploadClose
        | E::UploadStatus
        | E::UploadCancel
        | E::ManifestPut => repo(vec![Action::Pull, Action::Push]),
        E::ManifestDelete | E::BlobDelete => repo(vec![Action::Delete]),
    }
}

/// One granted access, as a token carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    access: Vec<Access>,
}

pub struct Auth {
    pub mode: Mode,
    users: HashMap<String, String>,
    rules: Vec<Rule>,
    anonymous_pull: bool,
    pub service: String,
    key: [u8; 32],
    pub token_ttl: Duration,
    /// Credentials already checked (bcrypt is slow on purpose): sha256 of "user:password".
    verified: Mutex<HashMap<String, String>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Auth {
    pub fn load(
        mode: Mode,
        htpasswd: &Path,
        rules: Option<&Path>,
        anonymous_pull: bool,
    ) -> Result<Auth, String> {
        let text = std::fs::read_to_string(htpasswd)
            .map_err(|e| format!("{}: {e}", htpasswd.display()))?;
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(format!(
                    "{}:{}: expected user:hash",
                    htpasswd.display(),
                    n + 1
                ));
            };
            if !hash.starts_with("$2") {
                return Err(format!(
                    "{}:{}: only bcrypt hashes are accepted (htpasswd -B)",
                    htpasswd.display(),
                    n + 1
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        let rules = match rules {
            None => vec![Rule {
                user: "*".into(),
                repositories: Some("*".into()),
                actions: vec![Action::Pull, Action::Push, Action::Delete],
                catalog: true,
            }],
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                serde_saphyr::from_str::<RulesFile>(&text)
                    .map_err(|e| {
                        format!(
                            "{}: {}",
                            p.display(),
                            e.to_string().lines().next().unwrap_or("")
                        )
                    })?
                    .rules
            }
        };
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| e.to_string())?;
        Ok(Auth {
            mode,
            users,
            rules,
            anonymous_pull,
            service: "regverify".into(),
            key,
            token_ttl: Duration::from_secs(300),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Checks Basic credentials; `None` when absent, `Err` when wrong.
    fn basic_user(&self, headers: &HeaderMap) -> Result<Option<String>, ()> {
        let Some(v) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let Some(b64) = v.strip_prefix("Basic ") else {
            return Ok(None);
        };
        let raw = STANDARD.decode(b64.trim()).map_err(|_| ())?;
        let raw = String::from_utf8(raw).map_err(|_| ())?;
        let (user, password) = raw.split_once(':').ok_or(())?;
        let hash = self.users.get(user).ok_or(())?;
        let fingerprint = crate::oci::Digest::sha256(raw.as_bytes()).to_string();
        if self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            == Some(&fingerprint)
        {
            return Ok(Some(user.to_string()));
        }
        if bcrypt::verify(password, hash).unwrap_or(false) {
            self.verified
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(user.to_string(), fingerprint);
            Ok(Some(user.to_string()))
        } else {
            Err(())
        }
    }

    fn allowed(&self, user: Option<&str>, repo: &str, action: Action) -> bool {
        if user.is_none() && self.anonymous_pull && action == Action::Pull {
            return true;
        }
        self.rules.iter().any(|r| {
            let who = match (r.user.as_str(), user) {
                ("anonymous", None) => true,
                ("*", Some(_)) => true,
                (u, Some(x)) => u == x,
                _ => false,
            };
            let pattern = r.repositories.as_deref().unwrap_or("");
            let matches = pattern == "*"
                || pattern == repo
                || pattern
                    .strip_suffix("/*")
                    .is_some_and(|p| repo.starts_with(&format!("{p}/")));
            who && matches && r.actions.contains(&action)
        })
    }

    fn catalog_allowed(&self, user: Option<&str>) -> bool {
        self.rules.iter().any(|r| {
            r.catalog
                && match (r.user.as_str(), user) {
                    ("*", Some(_)) => true,
                    (u, Some(x)) => u == x,
                    ("anonymous", None) => true,
                    _ => false,
                }
        })
    }

    fn grants(&self, user: Option<&str>, need: &Need) -> bool {
        match need {
            Need::Login => user.is_some() || self.anonymous_pull,
            Need::Catalog => self.catalog_allowed(user),
            Need::Repository { name, actions } => {
                actions.iter().all(|a| self.allowed(user, name, *a))
            }
        }
    }

    fn challenge(&self, realm: &str, need: &Need, error: Option<&str>) -> String {
        match self.mode {
            Mode::Basic => "Basic realm=\"regverify\"".into(),
            Mode::Token => {
                let mut c = format!("Bearer realm=\"{realm}\",service=\"{}\"", self.service);
                if let Some(s) = need.scope() {
                    c.push_str(&format!(",scope=\"{s}\""));
                }
                if let Some(e) = error {
                    c.push_str(&format!(",error=\"{e}\""));
                }
                c
            }
        }
    }

    /// Decides a request: `Ok(subject)` to proceed, or the 401/403 to answer.
    pub fn check(
        &self,
        headers: &HeaderMap,
        need: &Need,
        realm: &str,
        defect: Option<super::defects::Defect>,
    ) -> Result<Option<String>, AppError> {
        let unauthorized = |error: Option<&str>| {
            AppError::code(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
                .header(header::WWW_AUTHENTICATE, self.challenge(realm, need, error))
        };
        let denied = || AppError::code(StatusCode::FORBIDDEN, ErrorCode::Denied);
        match self.mode {
            Mode::Basic => {
                let user = self.basic_user(headers).map_err(|_| unauthorized(None))?;
                if self.grants(user.as_deref(), need) {
                    Ok(user)
                } else if user.is_some() {
                    Err(denied())
                } else {
                    Err(unauthorized(None))
                }
            }
            Mode::Token => {
                let bearer = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                // anonymous pull needs no token at all
                if bearer.is_none() && self.grants(None, need) && self.anonymous_pull {
                    return Ok(None);
                }
                let Some(token) = bearer else {
                    return Err(unauthorized(None));
                };
                let claims = self
                    .verify(token.trim())
                    .ok_or_else(|| unauthorized(Some("invalid_token")))?;
                let subject = (!claims.sub.is_empty()).then(|| claims.sub.clone());
                let any_scope = defect == Some(super::defects::Defect::ScopeIgnored);
                if any_scope || token_covers(&claims.access, need) {
                    return Ok(subject);
                }
                // the token lacks the scope: a user the rules refuse is denied outright
                if subject.is_some() && !self.grants(subject.as_deref(), need) {
                    return Err(denied());
                }
                Err(unauthorized(Some("insufficient_scope")))
            }
        }
    }

    /// The token endpoint: authenticates (or not), grants what the rules allow of the
    /// scopes asked for, and signs a token.
    pub fn issue(
        &self,
        headers: &HeaderMap,
        query: &super::request::Query,
    ) -> Result<serde_json::Value, AppError> {
        let user = self.basic_user(headers).map_err(|_| {
            AppError::code(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
                .header(header::WWW_AUTHENTICATE, "Basic realm=\"regverify token\"")
        })?;
        if let Some(s) = query.get("service")
            && s != self.service
        {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::Unsupported,
                format!("unknown service {s:?}"),
            ));
        }
        let mut access = vec![];
        for scope in query.all("scope").flat_map(|s| s.split(' ')) {
            let mut parts = scope.splitn(3, ':');
            let (Some(kind), Some(name), Some(actions)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let granted: BTreeSet<&str> = match kind {
                "repository" => actions
                    .split(',')
                    .filter_map(Action::parse)
                    .filter(|a| self.allowed(user.as_deref(), name, *a))
                    .map(Action::as_str)
                    .collect(),
                "registry" if name == "catalog" && self.catalog_allowed(user.as_deref()) => {
                    ["*"].into_iter().collect()
                }
                _ => BTreeSet::new(),
            };
            access.push(Access {
                kind: kind.to_string(),
                name: name.to_string(),
                actions: granted.into_iter().map(String::from).collect(),
            });
        }
        let iat = now();
        let exp = iat + self.token_ttl.as_secs();
        let mut jti = [0u8; 12];
        let _ = getrandom::fill(&mut jti);
        let claims = Claims {
            iss: "regverify".into(),
            sub: user.unwrap_or_default(),
            aud: self.service.clone(),
            exp,
            nbf: iat.saturating_sub(1),
            iat,
            jti: crate::oci::digest::hex(&jti),
            access,
        };
        let token = self.sign(&claims);
        let issued_at = humantime_rfc3339(iat);
        Ok(serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": self.token_ttl.as_secs(),
            "issued_at": issued_at,
        }))
    }

    fn mac(&self) -> hmac::Hmac<sha2::Sha256> {
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length")
    }

    fn sign(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let mut mac = self.mac();
        mac.update(format!("{header}.{body}").as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{body}.{sig}")
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        let mut parts = token.split('.');
        let (h, b, s) = (parts.next()?, parts.next()?, parts.next()?);
        let mut mac = self.mac();
        mac.update(format!("{h}.{b}").as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b).ok()?).ok()?;
        let t = now();
        (claims.aud == self.service && claims.exp > t && claims.nbf <= t).then_some(claims)
    }
}

fn token_covers(access: &[Access], need: &Need) -> bool {
    match need {
        Need::Login => true,
        Need::Catalog => access.iter().any(|a| {
            a.kind == "registry" && a.name == "catalog" && a.actions.iter().any(|x| x == "*")
        }),
        Need::Repository { name, actions } => actions.iter().all(|want| {
            access.iter().any(|a| {
                a.kind == "repository"
                    && &a.name == name
                    && a.actions.iter().any(|x| x == want.as_str() || x == "*")
            })
        }),
    }
}

/// Seconds since the epoch as RFC 3339 UTC (the token's `issued_at`).
fn humantime_rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(humantime_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(humantime_rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn needs_and_scopes() {
        let n = need(Endpoint::UploadStart, Some("a/b"));
        assert_eq!(n.scope().unwrap(), "repository:a/b:pull,push");
        assert_eq!(
            need(Endpoint::Catalog, None).scope().unwrap(),
            "registry:catalog:*"
        );
        let access = vec![Access {
            kind: "repository".into(),
            name: "a/b".into(),
            actions: vec!["pull".into()],
        }];
        assert!(token_covers(&access, &need(Endpoint::BlobGet, Some("a/b"))));
        assert!(!token_covers(&access, &n));
        assert!(!token_covers(
            &access,
            &need(Endpoint::BlobGet, Some("a/c"))
        ));
    }
}
