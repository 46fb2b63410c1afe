//! The token issuer and its tokens: HMAC-SHA256 signed JWTs (RFC 7519) carrying the access
//! granted, in the claim layout of the distribution token specification.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

use super::AuthError;
use super::rules::{Action, Need, Rules};

/// One granted access, as a token carries it (`type`, `name`, `actions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Access {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) actions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    iss: String,
    pub(crate) sub: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    pub(crate) access: Vec<Access>,
}

#[derive(Debug, Deserialize)]
struct JoseHeader {
    alg: String,
}

/// Seconds since the epoch as RFC 3339 UTC (the token's `issued_at`).
fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Why a token is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum TokenError {
    #[error("not three base64url segments")]
    Malformed,
    #[error("not signed with HS256 by this registry")]
    Signature,
    #[error("for another service")]
    Audience,
    #[error("expired or not yet valid")]
    Expired,
}

/// What the token endpoint answers.
#[derive(Debug, Serialize)]
pub(crate) struct Issued {
    token: String,
    access_token: String,
    expires_in: u64,
    issued_at: String,
}

const ISSUER: &str = "regverify";

pub(crate) struct Tokens {
    key: [u8; 32],
    pub(crate) service: String,
    ttl: Duration,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Tokens {
    pub(crate) fn new(service: &str, ttl: Duration) -> Result<Tokens, AuthError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| AuthError::Random(e.to_string()))?;
        Ok(Tokens {
            key,
            service: service.to_string(),
            ttl,
        })
    }

    fn mac(&self) -> hmac::Hmac<sha2::Sha256> {
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length")
    }

    /// A signed token for `subject` (empty: anonymous) carrying `access`.
    pub(crate) fn issue(&self, subject: Option<String>, access: Vec<Access>) -> Issued {
        let iat = now();
        let mut jti = [0u8; 12];
        // a repeated jti only weakens replay detection, which this registry does not do
        let _ = getrandom::fill(&mut jti);
        let claims = Claims {
            iss: ISSUER.into(),
            sub: subject.unwrap_or_default(),
            aud: self.service.clone(),
            exp: iat + self.ttl.as_secs(),
            nbf: iat.saturating_sub(1),
            iat,
            jti: crate::oci::digest::hex(&jti),
            access,
        };
        let token = self.sign(&claims);
        Issued {
            access_token: token.clone(),
            token,
            expires_in: self.ttl.as_secs(),
            issued_at: rfc3339(iat),
        }
    }

    fn sign(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let mut mac = self.mac();
        mac.update(format!("{header}.{body}").as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{body}.{sig}")
    }

    /// The claims of a token this registry signed, for this service, valid now.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let parts: Vec<&str> = token.split('.').collect();
        let [h, b, s] = parts[..] else {
            return Err(TokenError::Malformed);
        };
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(format!("{h}.{b}").as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let header: JoseHeader = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Signature);
        }
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(b)
            .ok()
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.aud != self.service || claims.iss != ISSUER {
            return Err(TokenError::Audience);
        }
        let t = now();
        if claims.exp <= t || claims.nbf > t {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// What the rules allow `user` of the scopes asked for (each `scope` parameter may hold
/// several, space-separated). Every scope asked is answered, with no actions when none is
/// granted, so a token tells which questions were asked.
pub(crate) fn grant<'a>(
    rules: &Rules,
    user: Option<&str>,
    scopes: impl Iterator<Item = &'a str>,
) -> Vec<Access> {
    let mut access = vec![];
    for scope in scopes.flat_map(|s| s.split(' ')) {
        let mut parts = scope.splitn(3, ':');
        let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let granted: BTreeSet<&str> = match kind {
            "repository" => actions
                .split(',')
                .filter_map(Action::parse)
                .filter(|a| rules.allows(user, name, *a))
                .map(Action::as_str)
                .collect(),
            "registry" if name == "catalog" && rules.catalog(user) => ["*"].into(),
            _ => BTreeSet::new(),
        };
        access.push(Access {
            kind: kind.to_string(),
            name: name.to_string(),
            actions: granted.into_iter().map(String::from).collect(),
        });
    }
    access
}

/// Whether a token's access grants `action` on repository `name`.
pub(crate) fn covers(access: &[Access], name: &str, action: Action) -> bool {
    access.iter().any(|a| {
        a.kind == "repository"
            && a.name == name
            && a.actions.iter().any(|x| x == action.as_str() || x == "*")
    })
}

/// Whether a token was issued in answer to a scope naming repository `name`.
pub(crate) fn asked_about(access: &[Access], name: &str) -> bool {
    access
        .iter()
        .any(|a| a.kind == "repository" && a.name == name)
}

/// Whether a token's access covers everything `need` requires (a mount's source aside).
pub(crate) fn covers_need(access: &[Access], need: &Need) -> bool {
    match need {
        Need::Login => true,
        Need::Catalog => access.iter().any(|a| {
            a.kind == "registry" && a.name == "catalog" && a.actions.iter().any(|x| x == "*")
        }),
        Need::Repository { name, actions, .. } => {
            actions.iter().all(|want| covers(access, name, *want))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::api::Endpoint;
    use crate::server::auth::rules::need;

    #[test]
    fn tokens_verify_and_extra_segments_do_not() {
        let t = Tokens::new("svc", Duration::from_secs(60)).unwrap();
        let issued = t.issue(Some("u".into()), vec![]);
        assert!(issued.issued_at.ends_with('Z'), "{}", issued.issued_at);
        assert_eq!(t.verify(&issued.token).unwrap().sub, "u");
        assert_eq!(
            t.verify(&format!("{}.", issued.token)).err(),
            Some(TokenError::Malformed)
        );
        assert_eq!(
            t.verify(&format!("{}.e30", issued.token)).err(),
            Some(TokenError::Malformed)
        );
        let other = Tokens::new("svc", Duration::from_secs(60)).unwrap();
        assert_eq!(
            other.verify(&issued.token).err(),
            Some(TokenError::Signature)
        );
        let elsewhere = Tokens {
            service: "other".into(),
            ..t
        };
        assert_eq!(
            elsewhere.verify(&issued.token).err(),
            Some(TokenError::Audience)
        );
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn coverage() {
        let access = vec![Access {
            kind: "repository".into(),
            name: "a/b".into(),
            actions: vec!["pull".into()],
        }];
        let push = need(Endpoint::UploadStart, Some("a/b"), None);
        assert!(covers_need(
            &access,
            &need(Endpoint::BlobGet, Some("a/b"), None)
        ));
        assert!(!covers_need(&access, &push));
        assert!(!covers_need(
            &access,
            &need(Endpoint::BlobGet, Some("a/c"), None)
        ));
        assert!(asked_about(&access, "a/b") && !asked_about(&access, "a/c"));
    }
}
