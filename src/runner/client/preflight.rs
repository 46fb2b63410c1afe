//! `GET /v2/` once before a run: a registry that cannot be reached, whose TLS fails or that
//! refuses the run's credentials gets one clear message instead of one error per scenario;
//! and the authentication scheme it asks for is learnt here, so credentials go with every
//! request of the run from the first one.

use std::fmt;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::WWW_AUTHENTICATE;

use super::auth::parse_challenge;
use super::transcript::display_url;
use super::{Client, Exchange, TokenError, TransportError};

/// The authentication a registry asked for at `/v2/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    /// It answered without a challenge.
    None,
    Basic,
    Bearer,
    /// A challenge in a scheme the client does not speak.
    Other,
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthScheme::None => "none",
            AuthScheme::Basic => "Basic",
            AuthScheme::Bearer => "Bearer",
            AuthScheme::Other => "an unsupported scheme",
        })
    }
}

/// What the preflight learnt.
#[derive(Debug)]
pub struct Preflight {
    /// Status of the last `GET /v2/` (after answering a challenge, if any).
    pub status: u16,
    pub auth: AuthScheme,
    pub exchanges: Vec<Exchange>,
}

/// Why a run cannot start against this registry.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("cannot reach the registry at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error(
        "TLS with the registry at {url} failed: {detail}\n  trust its CA with --ca-file FILE, \
         or skip certificate checks with --insecure"
    )]
    Tls { url: String, detail: String },
    #[error("the registry at {url} did not answer in time: {detail}")]
    Timeout { url: String, detail: String },
    #[error(
        "the registry at {url} asks for {scheme} credentials and none were given: set \
         OCI_USERNAME and OCI_PASSWORD, or put them in the URL"
    )]
    CredentialsNeeded { url: String, scheme: AuthScheme },
    #[error(
        "the registry at {url} refused the credentials given ({scheme}): GET /v2/ answered {status}"
    )]
    CredentialsRefused {
        url: String,
        scheme: AuthScheme,
        status: u16,
    },
    #[error("the token service of the registry at {url} gave no token: {source}")]
    Token { url: String, source: TokenError },
    #[error("GET {url}: {source}")]
    Transport { url: String, source: TransportError },
}

impl Client {
    /// `GET /v2/` under `base`, answering an authentication challenge with the run's
    /// credentials; the scheme learnt is used for every later request.
    pub async fn preflight(&self, base: &Url) -> Result<Preflight, PreflightError> {
        let url = base.join("v2/").unwrap_or_else(|_| base.clone());
        let shown = display_url(base);
        let mut log = vec![];
        let res = self
            .send("GET", &url, &[], &Bytes::new(), false, &mut log)
            .await
            .map_err(|e| self.unusable(&shown, e))?;
        let challenged = log.iter().any(|e| e.status == Some(401));
        let scheme = log
            .iter()
            .filter(|e| e.status == Some(401))
            .flat_map(|e| &e.response_headers)
            .find(|(k, _)| k.eq_ignore_ascii_case(WWW_AUTHENTICATE.as_str()))
            .map(|(_, v)| match parse_challenge(v).scheme.as_str() {
                "basic" => AuthScheme::Basic,
                "bearer" => AuthScheme::Bearer,
                _ => AuthScheme::Other,
            })
            .unwrap_or(AuthScheme::None);
        // a 401 without a challenge is the registry's to answer for (the scenarios judge
        // it); one with a challenge the client could not satisfy is the run's trouble
        if res.status == 401 && scheme != AuthScheme::None {
            return Err(if self.has_credentials() && scheme != AuthScheme::Other {
                PreflightError::CredentialsRefused {
                    url: shown,
                    scheme,
                    status: res.status,
                }
            } else {
                PreflightError::CredentialsNeeded { url: shown, scheme }
            });
        }
        Ok(Preflight {
            status: res.status,
            auth: if challenged { scheme } else { AuthScheme::None },
            exchanges: log,
        })
    }

    fn unusable(&self, url: &str, e: TransportError) -> PreflightError {
        let url = url.to_string();
        match e {
            TransportError::Connect { detail } => PreflightError::Unreachable { url, detail },
            TransportError::Tls { detail } => PreflightError::Tls { url, detail },
            TransportError::Timeout { detail } => PreflightError::Timeout { url, detail },
            TransportError::Token(source) => match source {
                TokenError::Refused { .. } if !self.has_credentials() => {
                    PreflightError::CredentialsNeeded {
                        url,
                        scheme: AuthScheme::Bearer,
                    }
                }
                source => PreflightError::Token { url, source },
            },
            source => PreflightError::Transport { url, source },
        }
    }
}
