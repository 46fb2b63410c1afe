//! Authentication as registries ask for it: Basic with the run's credentials, or Bearer
//! tokens from the realm named in the `WWW-Authenticate` challenge (the Docker token
//! protocol), cached per repository and access. Once the scheme is known (from the
//! preflight or a first challenge of the registry's origin) credentials go with every
//! request to that origin from the first one. Which origin may receive what is
//! [`super::origins`]' to say.

use std::collections::HashMap;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::Url;

use super::origins::{BoundAuth, Grant};
use super::transcript::display_url;
use super::{Client, Credentials, Exchange, TransportError};
use crate::oci::api::Target;

/// How the registry wants to be authenticated, learnt from its challenges.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) enum Scheme {
    /// No challenge seen yet: requests go without credentials.
    #[default]
    Unknown,
    Basic,
    /// Tokens from `realm`, for `service`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// A token service that would not hand out a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("Bearer challenge without a realm")]
    NoRealm,
    #[error("Bearer realm {realm:?}: {source}")]
    BadRealm {
        realm: String,
        source: url::ParseError,
    },
    #[error("token endpoint {url} answered {status}")]
    Refused { url: String, status: u16 },
    #[error("token endpoint answer is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("token endpoint answer has no token")]
    NoToken,
}

#[derive(Debug, Default)]
pub struct Challenge {
    pub scheme: String,
    pub params: HashMap<String, String>,
}

impl Challenge {
    /// The scheme this challenge asks for, when the client can answer it.
    pub(crate) fn scheme(&self) -> Option<Scheme> {
        match self.scheme.as_str() {
            "basic" => Some(Scheme::Basic),
            "bearer" => Some(Scheme::Bearer {
                realm: self.params.get("realm").cloned().unwrap_or_default(),
                service: self.params.get("service").cloned(),
            }),
            _ => None,
        }
    }
}

/// Parses `Scheme k="v",k2="v2"` (RFC 9110 §11.6.1).
pub fn parse_challenge(h: &str) -> Challenge {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        let key = rest[ks..i].trim().to_ascii_lowercase();
        i += 1;
        let mut val = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i] as char);
                i += 1;
            }
            i += 1;
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            val = rest[vs.min(b.len())..i.min(b.len())].trim().to_string();
        }
        if !key.is_empty() {
            params.insert(key, val);
        }
    }
    Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    }
}

/// `Basic base64(user:password)` (RFC 7617).
pub(crate) fn basic(c: &Credentials) -> String {
    let pair = format!("{}:{}", c.username, c.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Tokens are cached by repository and by whether the request writes.
pub(crate) type TokenKey = (String, bool);

pub(crate) fn token_key(url: &Url, method: &str) -> TokenKey {
    let repo = Target::parse(url.path())
        .and_then(|t| t.name().map(String::from))
        .unwrap_or_default();
    (repo, !matches!(method, "GET" | "HEAD"))
}

impl Client {
    /// The `Authorization` value for a request to the registry's origin, before any
    /// challenge: a cached token, Basic once the registry asked for it, or a token fetched
    /// now when the registry is known to want Bearer tokens (so a 401 that follows is the
    /// registry's, not a missing login). The caller asks only for the registry's origin.
    pub(crate) async fn authorization(
        &self,
        url: &Url,
        method: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<Option<String>, TransportError> {
        let key = token_key(url, method);
        if let Some(t) = self.tokens.lock().unwrap().get(&key) {
            return Ok(Some(format!("Bearer {t}")));
        }
        let scheme = self.scheme.lock().unwrap().clone();
        match scheme {
            Scheme::Unknown => Ok(None),
            Scheme::Basic => Ok(self.config.credentials.as_ref().map(basic)),
            Scheme::Bearer { realm, service } => {
                if key.0.is_empty() {
                    // no repository: the challenge will name the scope it needs
                    return Ok(None);
                }
                let access = if key.1 { "pull,push" } else { "pull" };
                let mut params = HashMap::from([
                    ("realm".to_string(), realm),
                    (
                        "scope".to_string(),
                        format!("repository:{}:{access}", key.0),
                    ),
                ]);
                if let Some(s) = service {
                    params.insert("service".into(), s);
                }
                let ch = Challenge {
                    scheme: "bearer".into(),
                    params,
                };
                // the scheme was learnt from a challenge of the registry's origin
                let token = self.fetch_token(&ch, url, log).await?;
                self.tokens.lock().unwrap().insert(key, token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// The `Authorization` value answering `challenge`, sent by `challenger` (the URL that
    /// answered 401), bound to that origin; `None` when the challenge cannot be answered
    /// (no credentials for Basic, an unknown scheme, Basic asked by another origin). Only a
    /// challenge of the registry's origin teaches the scheme for later requests and fills
    /// the token cache; another origin's is answered anonymously, for that origin alone.
    pub(crate) async fn answer_challenge(
        &self,
        challenge: &Challenge,
        challenger: &Url,
        method: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<Option<BoundAuth>, TransportError> {
        let Some(scheme) = challenge.scheme() else {
            return Ok(None);
        };
        let ours = self.trust.is_registry(challenger);
        let value = match &scheme {
            Scheme::Unknown => return Ok(None),
            Scheme::Basic => {
                let Some(c) = self.config.credentials.as_ref().filter(|_| ours) else {
                    return Ok(None);
                };
                *self.scheme.lock().unwrap() = scheme;
                basic(c)
            }
            Scheme::Bearer { .. } => {
                let token = self.fetch_token(challenge, challenger, log).await?;
                if ours {
                    *self.scheme.lock().unwrap() = scheme;
                    self.tokens
                        .lock()
                        .unwrap()
                        .insert(token_key(challenger, method), token.clone());
                }
                format!("Bearer {token}")
            }
        };
        Ok(Some(BoundAuth::for_url(value, challenger)))
    }

    /// A token from the challenge's realm, asked with the run's credentials where
    /// [`super::origins::Trust::realm_grant`] allows it (`challenger`: the URL whose answer
    /// named the realm), anonymously otherwise.
    async fn fetch_token(
        &self,
        ch: &Challenge,
        challenger: &Url,
        log: &mut Vec<Exchange>,
    ) -> Result<String, TransportError> {
        let realm = ch
            .params
            .get("realm")
            .filter(|r| !r.is_empty())
            .ok_or(TokenError::NoRealm)?;
        let mut url = Url::parse(realm).map_err(|source| TokenError::BadRealm {
            realm: realm.clone(),
            source,
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = ch.params.get("service") {
                q.append_pair("service", s);
            }
            if let Some(s) = ch.params.get("scope") {
                for scope in s.split(' ') {
                    q.append_pair("scope", scope);
                }
            }
        }
        let auth = match self.trust.realm_grant(&url, challenger) {
            Grant::User => self.config.credentials.as_ref().map(basic),
            Grant::Anonymous => None,
        }
        .map(|value| BoundAuth::for_url(value, &url));
        let res = self
            .once("GET", &url, &[], &Bytes::new(), auth.as_ref(), log)
            .await?;
        if res.status != 200 {
            return Err(TokenError::Refused {
                url: display_url(&url),
                status: res.status,
            }
            .into());
        }
        let v: serde_json::Value =
            serde_json::from_slice(&res.body).map_err(TokenError::NotJson)?;
        Ok(v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(String::from)
            .ok_or(TokenError::NoToken)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        assert_eq!(
            c.scheme(),
            Some(Scheme::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#).scheme(),
            Some(Scheme::Basic)
        );
        assert_eq!(parse_challenge("Negotiate").scheme(), None);
    }

    #[test]
    fn basic_credentials_are_base64() {
        let c = |u: &str, p: &str| Credentials {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(basic(&c("user", "pass")), "Basic dXNlcjpwYXNz");
        assert_eq!(basic(&c("a", "")), "Basic YTo=");
        assert_eq!(basic(&c("ab", "")), "Basic YWI6");
    }
}
