//! Token mode: requests carry a Bearer token from the registry's own token endpoint; what
//! the token grants decides, and a request without enough of it gets a challenge naming the
//! scopes it needs.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::challenge::{self, BearerError, Presented, Realm, presented};
use super::rules::{Need, Rules};
use super::token::{self, Tokens};
use super::{AccessController, Asking, Grant, Refusal};

pub(crate) struct TokenController {
    pub(crate) tokens: Arc<Tokens>,
    pub(crate) rules: Arc<Rules>,
    pub(crate) realm: Arc<Realm>,
}

impl TokenController {
    fn challenge(&self, need: &Need, error: Option<BearerError>) -> Refusal {
        Refusal::Unauthorized {
            challenge: challenge::bearer(
                self.realm.url(),
                &self.tokens.service,
                &need.scopes(),
                error,
            ),
        }
    }
}

impl AccessController for TokenController {
    fn authorize<'a>(&'a self, asking: Asking<'a>) -> BoxFuture<'a, Result<Grant, Refusal>> {
        Box::pin(async move {
            let need = asking.need;
            let Presented::Bearer(token) = presented(asking.headers) else {
                // what the rules give anonymous clients needs no token at all
                return if self.rules.grant(None, need) {
                    Ok(Grant::Rules(None))
                } else {
                    Err(self.challenge(need, None))
                };
            };
            let claims = self
                .tokens
                .verify(&token)
                .map_err(|_| self.challenge(need, Some(BearerError::InvalidToken)))?;
            let subject = (!claims.sub.is_empty()).then_some(claims.sub);
            if asking.scope_ignored {
                return Ok(Grant::Unchecked(subject));
            }
            let covered = match need {
                // a token fetched without credentials is no login
                Need::Login => self.rules.login(subject.as_deref()),
                _ => token::covers_need(&claims.access, need),
            };
            if !covered {
                // a user the rules refuse is denied outright; others may fetch a better token
                if subject.is_some() && !self.rules.grant(subject.as_deref(), need) {
                    return Err(Refusal::Denied);
                }
                let error = (need != &Need::Login).then_some(BearerError::InsufficientScope);
                return Err(self.challenge(need, error));
            }
            // A mount whose token was never asked about the source: ask, so the client comes
            // back with a token that answers (with pull or without it; see `may_pull`).
            if let Need::Repository {
                mount_from: Some(from),
                ..
            } = need
                && !token::asked_about(&claims.access, from)
            {
                return Err(self.challenge(need, Some(BearerError::InsufficientScope)));
            }
            Ok(Grant::Token {
                subject,
                access: claims.access,
            })
        })
    }
}
