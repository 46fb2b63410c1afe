//! The `Authorization` a request presents and the `WWW-Authenticate` challenges it gets.
//!
//! Scheme names are case-insensitive (RFC 9110 §11.1). Every value put in a challenge is
//! either from configuration or a validated repository name, and is written as a quoted
//! string with `"` and `\` escaped, so nothing a client sends can add a parameter.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::AuthError;

/// The credentials of a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented {
    /// No `Authorization`, or one of a scheme this registry does not use.
    Nothing,
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
    /// Basic credentials that do not decode to `user:password`.
    Malformed,
}

pub(crate) fn presented(headers: &HeaderMap) -> Presented {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Presented::Nothing;
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Presented::Bearer(rest.to_string())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok());
        match decoded.as_deref().and_then(|s| s.split_once(':')) {
            Some((user, password)) => Presented::Basic {
                user: user.to_string(),
                password: password.to_string(),
            },
            None => Presented::Malformed,
        }
    } else {
        Presented::Nothing
    }
}

/// The challenge of Basic mode.
pub(crate) const BASIC: &str = "Basic realm=\"regverify\"";
/// The challenge of the token endpoint itself.
pub(crate) const BASIC_TOKEN: &str = "Basic realm=\"regverify token\"";

/// Why a Bearer challenge refuses a token (RFC 6750 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BearerError {
    InvalidToken,
    InsufficientScope,
}

impl BearerError {
    fn as_str(self) -> &'static str {
        match self {
            BearerError::InvalidToken => "invalid_token",
            BearerError::InsufficientScope => "insufficient_scope",
        }
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

pub(crate) fn bearer(
    realm: &str,
    service: &str,
    scopes: &[String],
    error: Option<BearerError>,
) -> String {
    let mut c = format!("Bearer realm={},service={}", quoted(realm), quoted(service));
    if !scopes.is_empty() {
        c.push_str(&format!(",scope={}", quoted(&scopes.join(" "))));
    }
    if let Some(e) = error {
        c.push_str(&format!(",error={}", quoted(e.as_str())));
    }
    c
}

/// Where clients fetch tokens: `--token-realm`, or else the token endpoint at the address
/// the server listens on. Never taken from a request.
#[derive(Debug, Default)]
pub(crate) struct Realm {
    configured: Option<String>,
    listening: OnceLock<String>,
}

impl Realm {
    pub(crate) fn configured(url: Option<&str>) -> Result<Realm, AuthError> {
        let configured = match url {
            None => None,
            Some(u) => {
                let bad = |why: &str| AuthError::Realm {
                    url: u.to_string(),
                    why: why.to_string(),
                };
                let parsed = reqwest::Url::parse(u).map_err(|e| bad(&e.to_string()))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                    return Err(bad("not an http(s) URL"));
                }
                Some(parsed.to_string())
            }
        };
        Ok(Realm {
            configured,
            listening: OnceLock::new(),
        })
    }

    /// Records the address the server listens on (the default realm's host).
    pub(crate) fn listening_on(&self, addr: SocketAddr, tls: bool) {
        let scheme = if tls { "https" } else { "http" };
        let _ = self.listening.set(format!("{scheme}://{addr}/token"));
    }

    pub(crate) fn url(&self) -> &str {
        self.configured
            .as_deref()
            .or(self.listening.get().map(String::as_str))
            // a router served by other means than `spawn`: a realm on this host
            .unwrap_or("http://127.0.0.1/token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn schemes_are_case_insensitive() {
        let basic = STANDARD.encode("u:p:q");
        let want = Presented::Basic {
            user: "u".into(),
            password: "p:q".into(),
        };
        for s in ["Basic", "basic", "BASIC"] {
            assert_eq!(presented(&with(&format!("{s} {basic}"))), want);
        }
        for s in ["Bearer", "bearer", "BEARER"] {
            assert_eq!(
                presented(&with(&format!("{s} abc"))),
                Presented::Bearer("abc".into())
            );
        }
        assert_eq!(presented(&with("basic !!")), Presented::Malformed);
        assert_eq!(presented(&with("Digest x")), Presented::Nothing);
        assert_eq!(presented(&HeaderMap::new()), Presented::Nothing);
    }

    #[test]
    fn challenges_quote_their_values() {
        let c = bearer(
            "https://r.example/token",
            "svc",
            &["repository:a:pull,push".into(), "repository:b:pull".into()],
            Some(BearerError::InsufficientScope),
        );
        assert_eq!(
            c,
            "Bearer realm=\"https://r.example/token\",service=\"svc\",scope=\"repository:a:pull,push repository:b:pull\",error=\"insufficient_scope\""
        );
        assert_eq!(quoted("a\"b\\"), "\"a\\\"b\\\\\"");
    }

    #[test]
    fn realms_come_from_configuration() {
        let r = Realm::configured(Some("https://reg.example/token")).unwrap();
        r.listening_on("127.0.0.1:5000".parse().unwrap(), false);
        assert_eq!(r.url(), "https://reg.example/token");
        let r = Realm::configured(None).unwrap();
        r.listening_on("127.0.0.1:5000".parse().unwrap(), true);
        assert_eq!(r.url(), "https://127.0.0.1:5000/token");
        assert!(Realm::configured(Some("ftp://x/token")).is_err());
        assert!(Realm::configured(Some("not a url")).is_err());
        // a quote is percent-encoded by the URL parser
        let r = Realm::configured(Some("https://x/t\"o")).unwrap();
        assert!(!r.url().contains('"'), "{}", r.url());
    }
}
