//! The runner's HTTP client: reqwest with one time limit per request (its redirects
//! included), a cap on response bodies, redirects followed hop by hop, and authentication
//! (Basic, or Bearer tokens from the `WWW-Authenticate` challenge). The user's credentials
//! go to the registry's origin alone (`origins` decides, whatever way a URL arrived).
//! Every exchange is recorded for transcripts with credentials redacted.
//!
//! `transport` puts requests on the wire and classifies what breaks, `auth` answers
//! challenges, `origins` says which origin may receive which credential, `transcript`
//! records exchanges, `preflight` checks the registry once before a run.

mod auth;
mod origins;
mod preflight;
mod transcript;
mod transport;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

pub use auth::{Challenge, TokenError, parse_challenge};
pub use preflight::{AuthScheme, Preflight, PreflightError};
pub use transcript::{BodyView, Exchange, display_url};
pub use transport::FramingFault;

#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// The largest response body read unless `--max-body` says otherwise. Every scenario
/// running at once may hold one, so bodies take at most this times the test threads.
pub const DEFAULT_MAX_BODY: u64 = 32 * 1024 * 1024;

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The registry under test: its origin alone receives `credentials` (none: nobody
    /// does).
    pub registry: Option<Url>,
    /// Time allowed for one request, its redirects included.
    pub timeout: Duration,
    pub max_body: u64,
    pub insecure: bool,
    pub ca_file: Option<PathBuf>,
    pub credentials: Option<Credentials>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            registry: None,
            timeout: Duration::from_secs(30),
            max_body: DEFAULT_MAX_BODY,
            insecure: false,
            ca_file: None,
            credentials: None,
        }
    }
}

/// The client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--ca-file {path}: {source}")]
    CaFileRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--ca-file {path}: {source}")]
    CaFileParse {
        path: PathBuf,
        source: reqwest::Error,
    },
    #[error("HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

/// A transport-level failure: the run could not get an answer (an error, not a fail).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect: {detail}")]
    Connect { detail: String },
    #[error("TLS failed: {detail}")]
    Tls { detail: String },
    #[error("timed out: {detail}")]
    Timeout { detail: String },
    #[error("{detail}")]
    Exchange { detail: String },
    /// The request went out and the connection closed without an answer: an incomplete
    /// message (RFC 9112 §8), judged as a framing failure rather than left unjudged.
    #[error("the connection closed without an answer (RFC 9112 §8): {detail}")]
    NoAnswer { detail: String },
    #[error("response body exceeds {limit} bytes; stopped reading")]
    BodyTooLarge { limit: u64 },
    #[error("header {name}: {detail}")]
    InvalidHeader { name: String, detail: String },
    #[error("invalid method {0:?}")]
    InvalidMethod(String),
    #[error("redirect to {location:?}: {source}")]
    BadRedirect {
        location: String,
        source: url::ParseError,
    },
    #[error("more than 10 redirects")]
    TooManyRedirects,
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// An answer, read to its end or to where its framing broke.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    /// The bytes that arrived (all of them unless `framing` says otherwise).
    pub body: Bytes,
    pub url: Url,
    /// The body broke HTTP message framing; status and headers are as received.
    pub framing: Option<FramingFault>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }
}

pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    trust: origins::Trust,
    scheme: Mutex<auth::Scheme>,
    /// Bearer tokens by (repository, needs write access).
    tokens: Mutex<HashMap<auth::TokenKey, String>>,
}

/// Installs ring as rustls' provider (once per process): one TLS stack, no C compiler.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        install_crypto();
        let mut b = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // redirects are followed by `once`, hop by hop, so each is recorded and checked
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("regverify/", env!("CARGO_PKG_VERSION")));
        if config.insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca).map_err(|source| ClientError::CaFileRead {
                path: ca.clone(),
                source,
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
                ClientError::CaFileParse {
                    path: ca.clone(),
                    source,
                }
            })?;
            for c in certs {
                b = b.tls_certs_merge([c]);
            }
        }
        Ok(Client {
            http: b.build().map_err(ClientError::Build)?,
            trust: origins::Trust::new(config.registry.as_ref(), config.insecure),
            config,
            scheme: Mutex::default(),
            tokens: Mutex::default(),
        })
    }

    pub fn has_credentials(&self) -> bool {
        self.config.credentials.is_some()
    }

    /// The run's credentials as a Basic `Authorization` value, for a request to `url`:
    /// none unless `url` is on the registry's origin.
    pub fn basic_value(&self, url: &Url) -> Option<String> {
        self.config
            .credentials
            .as_ref()
            .filter(|_| self.trust.is_registry(url))
            .map(auth::basic)
    }

    /// Sends one request, answering an authentication challenge once. `anonymous`: send no
    /// credentials of the run's own. The user's credentials and the registry's tokens go
    /// only to the registry's origin; a challenge from another origin (a storage host an
    /// upload `Location` or a redirect named) is answered anonymously.
    pub async fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &Bytes,
        anonymous: bool,
        log: &mut Vec<Exchange>,
    ) -> Result<Response, TransportError> {
        let auth = if anonymous || !self.trust.is_registry(url) {
            None
        } else {
            self.authorization(url, method, log)
                .await?
                .map(|value| origins::BoundAuth::for_url(value, url))
        };
        let res = self
            .once(method, url, headers, body, auth.as_ref(), log)
            .await?;
        if res.status != 401 || anonymous {
            return Ok(res);
        }
        let Some(challenge) = res.header(WWW_AUTHENTICATE.as_str()).map(parse_challenge) else {
            return Ok(res);
        };
        // the challenge is the last hop's: that origin is the one asking
        let challenger = res.url.clone();
        match self
            .answer_challenge(&challenge, &challenger, method, log)
            .await?
        {
            Some(auth) => {
                self.once(method, url, headers, body, Some(&auth), log)
                    .await
            }
            None => Ok(res),
        }
    }
}
