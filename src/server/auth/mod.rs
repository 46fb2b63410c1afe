//! Authentication and authorisation of the reference registry (`serve --auth basic|token`).
//!
//! As in distribution's `registry/auth`, one [`AccessController`] decides every request: the
//! Basic one ([`basic`]) checks `user:password` against the htpasswd users ([`users`]) on
//! every request; the token one ([`bearer`]) checks the Bearer tokens that the registry's own
//! token endpoint signs ([`token`]), answering 401 with a challenge ([`challenge`]) naming the
//! scopes a request needs. Both grant what the rules ([`rules`]) allow. Failed password
//! checks slow their client down ([`throttle`]). Passwords and tokens are never logged.

mod basic;
mod bearer;
mod challenge;
mod rules;
mod throttle;
mod token;
mod users;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;

use super::defects::Defect;
use super::error::AppError;
use crate::oci::ErrorCode;
use crate::oci::api::Endpoint;
use rules::Action;
use rules::{Need, Rules};
pub(crate) use throttle::ClientKey;
use token::Access;
use token::Tokens;
use users::{LoginError, Users};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Basic credentials on every request.
    Basic,
    /// Bearer tokens from the registry's own token endpoint.
    Token,
}

/// Why the authentication settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Htpasswd {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Rules { path: PathBuf, message: String },
    #[error("token realm {url:?}: {why}")]
    Realm { url: String, why: String },
    #[error("no randomness from the system: {0}")]
    Random(String),
}

/// The `serve` flags about authentication.
#[derive(Clone, Debug)]
pub struct Settings {
    pub mode: Mode,
    pub htpasswd: PathBuf,
    pub rules: Option<PathBuf>,
    pub anonymous_pull: bool,
    /// Where clients fetch tokens (`--token-realm`); default: `/token` at the address the
    /// server listens on.
    pub token_realm: Option<String>,
}

impl Settings {
    pub fn new(mode: Mode, htpasswd: &Path) -> Settings {
        Settings {
            mode,
            htpasswd: htpasswd.to_path_buf(),
            rules: None,
            anonymous_pull: false,
            token_realm: None,
        }
    }
}

/// What a request was allowed, kept in its extensions for the handlers that decide more
/// (a mount reads its source only if the grant allows pulling there).
#[derive(Clone, Debug)]
pub(crate) enum Grant {
    /// Whatever the rules give this user (`None`: an anonymous client).
    Rules(Option<String>),
    /// Whatever this token carries.
    Token {
        subject: Option<String>,
        access: Vec<Access>,
    },
    /// Anything (the `scope-ignored` defect).
    Unchecked(Option<String>),
}

impl Grant {
    fn subject(&self) -> Option<String> {
        match self {
            Grant::Rules(s) | Grant::Token { subject: s, .. } | Grant::Unchecked(s) => s.clone(),
        }
    }
}

/// A request refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// 401 with this `WWW-Authenticate`.
    Unauthorized { challenge: String },
    /// 403: an authenticated user the rules refuse.
    Denied,
    /// 429: too many failed password checks; come back after this long.
    Throttled(Duration),
}

impl Refusal {
    fn login(e: LoginError, challenge: &str) -> Refusal {
        match e {
            LoginError::Wrong => Refusal::Unauthorized {
                challenge: challenge.to_string(),
            },
            LoginError::Throttled(wait) => Refusal::Throttled(wait),
        }
    }
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> AppError {
        match r {
            Refusal::Unauthorized { challenge } => {
                AppError::code(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
                    .header(header::WWW_AUTHENTICATE, challenge)
            }
            Refusal::Denied => AppError::code(StatusCode::FORBIDDEN, ErrorCode::Denied),
            Refusal::Throttled(wait) => {
                // whole seconds, rounded up, so a client waiting exactly that long is let in
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                AppError::code(StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests)
                    .header(header::RETRY_AFTER, secs.max(1).to_string())
            }
        }
    }
}

/// What an access controller is asked about one request.
pub(crate) struct Asking<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) client: ClientKey,
    pub(crate) need: &'a Need,
    /// The `scope-ignored` defect: any valid token goes.
    pub(crate) scope_ignored: bool,
}

/// Decides whether a request may proceed.
pub(crate) trait AccessController: Send + Sync {
    fn authorize<'a>(&'a self, asking: Asking<'a>) -> BoxFuture<'a, Result<Grant, Refusal>>;
}

pub struct Auth {
    pub(crate) mode: Mode,
    rules: Arc<Rules>,
    users: Arc<Users>,
    tokens: Arc<Tokens>,
    realm: Arc<challenge::Realm>,
    controller: Box<dyn AccessController>,
}

impl Auth {
    pub fn load(settings: &Settings) -> Result<Auth, AuthError> {
        let users = Arc::new(Users::load(&settings.htpasswd)?);
        let rules = Arc::new(Rules::load(
            settings.rules.as_deref(),
            settings.anonymous_pull,
        )?);
        let tokens = Arc::new(Tokens::new("regverify", Duration::from_secs(300))?);
        let realm = Arc::new(challenge::Realm::configured(
            settings.token_realm.as_deref(),
        )?);
        let controller: Box<dyn AccessController> = match settings.mode {
            Mode::Basic => Box::new(basic::BasicController {
                users: users.clone(),
                rules: rules.clone(),
            }),
            Mode::Token => Box::new(bearer::TokenController {
                tokens: tokens.clone(),
                rules: rules.clone(),
                realm: realm.clone(),
            }),
        };
        Ok(Auth {
            mode: settings.mode,
            rules,
            users,
            tokens,
            realm,
            controller,
        })
    }

    /// Records where the server listens: the token realm when none is configured.
    pub(crate) fn listening_on(&self, addr: SocketAddr, tls: bool) {
        self.realm.listening_on(addr, tls);
    }

    /// Decides a request to `endpoint` of repository `name`: the subject to proceed as
    /// (`None`: anonymous), or the 401/403/429 to answer. The grant is left in the request's
    /// extensions for [`Auth::may_pull`].
    pub(crate) async fn authorize(
        &self,
        req: &mut Request,
        endpoint: Endpoint,
        name: Option<&str>,
        defect: Option<Defect>,
    ) -> Result<Option<String>, AppError> {
        let need = rules::need(endpoint, name, req.uri().query());
        let asking = Asking {
            headers: req.headers(),
            client: ClientKey::from_extensions(req.extensions()),
            need: &need,
            scope_ignored: defect == Some(Defect::ScopeIgnored),
        };
        let grant = self.controller.authorize(asking).await?;
        let subject = grant.subject();
        req.extensions_mut().insert(grant);
        Ok(subject)
    }

    /// Whether the request whose extensions these are may pull from `repo` (a mount's
    /// source). A request that was not authorised may not.
    pub(crate) fn may_pull(&self, extensions: &Extensions, repo: &str) -> bool {
        match extensions.get::<Grant>() {
            None => false,
            Some(Grant::Rules(user)) => self.rules.allows(user.as_deref(), repo, Action::Pull),
            Some(Grant::Token { access, .. }) => token::covers(access, repo, Action::Pull),
            Some(Grant::Unchecked(_)) => true,
        }
    }

    /// The token endpoint (`GET /token?service=&scope=`): authenticates the client (or
    /// not), grants what the rules allow of the scopes asked for, and signs a token.
    pub(crate) async fn token_endpoint(&self, req: Request) -> Result<Response, AppError> {
        let user = match challenge::presented(req.headers()) {
            challenge::Presented::Basic { user, password } => {
                let client = ClientKey::from_extensions(req.extensions());
                Some(
                    self.users
                        .login(client, &user, &password)
                        .await
                        .map_err(|e| Refusal::login(e, challenge::BASIC_TOKEN))?,
                )
            }
            challenge::Presented::Malformed => {
                return Err(Refusal::Unauthorized {
                    challenge: challenge::BASIC_TOKEN.into(),
                }
                .into());
            }
            challenge::Presented::Nothing | challenge::Presented::Bearer(_) => None,
        };
        let query: Vec<(String, String)> =
            form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let values = |key: &'static str| {
            query
                .iter()
                .filter(move |(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if let Some(s) = values("service").next()
            && s != self.tokens.service
        {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::Unsupported,
                format!("unknown service {s:?}"),
            ));
        }
        let access = token::grant(&self.rules, user.as_deref(), values("scope"));
        let issued = self.tokens.issue(user, access);
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&issued).expect("a token answer serialises"),
        )
            .into_response())
    }
}
