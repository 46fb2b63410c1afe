//! Basic mode: every request carries `user:password`, checked against the htpasswd users,
//! and the rules decide.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::challenge::{BASIC, Presented, presented};
use super::rules::Rules;
use super::users::Users;
use super::{AccessController, Asking, Grant, Refusal};

pub(crate) struct BasicController {
    pub(crate) users: Arc<Users>,
    pub(crate) rules: Arc<Rules>,
}

impl AccessController for BasicController {
    fn authorize<'a>(&'a self, asking: Asking<'a>) -> BoxFuture<'a, Result<Grant, Refusal>> {
        Box::pin(async move {
            let unauthorized = || Refusal::Unauthorized {
                challenge: BASIC.to_string(),
            };
            let user = match presented(asking.headers) {
                Presented::Basic { user, password } => Some(
                    self.users
                        .login(asking.client, &user, &password)
                        .await
                        .map_err(|e| Refusal::login(e, BASIC))?,
                ),
                Presented::Malformed => return Err(unauthorized()),
                // a Bearer token means nothing here: the client is anonymous
                Presented::Nothing | Presented::Bearer(_) => None,
            };
            if self.rules.grant(user.as_deref(), asking.need) {
                Ok(Grant::Rules(user))
            } else if user.is_some() {
                Err(Refusal::Denied)
            } else {
                Err(unauthorized())
            }
        })
    }
}
