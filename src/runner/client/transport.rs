//! One request on the wire: redirects followed hop by hop (each recorded), the body read
//! under the size cap, and what went wrong classified. An answer whose status and headers
//! arrived but whose body broke HTTP message framing (RFC 9112 §6) is still an answer: it
//! comes back with a [`FramingFault`] for the engine to judge, not as an error.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use super::origins::BoundAuth;
use super::{Client, Exchange, Response, TransportError};

/// How a body that started arriving broke the framing its headers announced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FramingFault {
    /// RFC 9112 §6.3: the connection closed before the `Content-Length` octets arrived
    /// ("the recipient MUST consider the message to be incomplete").
    #[error(
        "the body is incomplete: {received} of the {announced} bytes announced by \
         Content-Length arrived before the connection closed (RFC 9112 §6.3)"
    )]
    ShortBody { announced: u64, received: u64 },
    /// RFC 9112 §7.1: a chunked body ends with its last chunk (size 0); the connection
    /// closed before it.
    #[error(
        "the chunked body is incomplete: the connection closed after {received} bytes, \
         before the last chunk (RFC 9112 §7.1)"
    )]
    UnfinishedChunks { received: u64 },
    /// RFC 9112 §7.1: a chunk size line or chunk end that does not parse.
    #[error("the chunked body is malformed after {received} bytes: {detail} (RFC 9112 §7.1)")]
    MalformedChunks { received: u64, detail: String },
}

impl Client {
    /// One request, following redirects (at most 10 hops), all within one `--timeout`.
    /// `auth` goes only to the origin it is bound to, and a credential header the step set
    /// itself only to the registry's origin; a `Docker-Content-Digest` given on the
    /// redirect is kept when the final answer (often a storage service) has none.
    pub(crate) async fn once(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &Bytes,
        auth: Option<&BoundAuth>,
        log: &mut Vec<Exchange>,
    ) -> Result<Response, TransportError> {
        // one time limit for the request and its redirects: a registry that redirects
        // from slow hop to slow hop must not multiply it
        let deadline = Instant::now() + self.config.timeout;
        let (mut method, mut url, mut body) = (method.to_string(), url.clone(), body.clone());
        let mut digest_from_redirect = None;
        for _ in 0..=10 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout {
                    detail: format!(
                        "the request and its redirects took longer than {}s",
                        self.config.timeout.as_secs()
                    ),
                });
            }
            let mut hop_headers = self.headers_for(&url, headers);
            if let Some(a) = auth.and_then(|a| a.for_hop(&url)) {
                hop_headers.retain(|(k, _)| !k.eq_ignore_ascii_case(AUTHORIZATION.as_str()));
                hop_headers.push(("Authorization".into(), a.into()));
            }
            let mut res = self
                .hop(&method, &url, &hop_headers, &body, left, log)
                .await?;
            let Some(next) = (matches!(res.status, 301 | 302 | 303 | 307 | 308))
                .then(|| res.header("location").map(String::from))
                .flatten()
            else {
                if let Some(d) = digest_from_redirect
                    && !res.headers.contains_key("docker-content-digest")
                {
                    res.headers.insert("docker-content-digest", d);
                }
                return Ok(res);
            };
            if let Some(d) = res.headers.get("docker-content-digest") {
                digest_from_redirect = Some(d.clone());
            }
            url = url
                .join(&next)
                .map_err(|source| TransportError::BadRedirect {
                    location: next.clone(),
                    source,
                })?;
            if res.status == 303 || (matches!(res.status, 301 | 302) && method == "POST") {
                method = "GET".into();
                body = Bytes::new();
            }
        }
        Err(TransportError::TooManyRedirects)
    }

    /// The step's own headers for a hop to `url`: a credential header it set (an explicit
    /// Basic login, a cookie) goes to the registry's origin alone.
    fn headers_for(&self, url: &Url, headers: &[(String, String)]) -> Vec<(String, String)> {
        const CREDENTIALS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];
        let ours = self.trust.is_registry(url);
        headers
            .iter()
            .filter(|(k, _)| ours || !CREDENTIALS.iter().any(|c| k.eq_ignore_ascii_case(c)))
            .cloned()
            .collect()
    }

    async fn hop(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &Bytes,
        time_left: Duration,
        log: &mut Vec<Exchange>,
    ) -> Result<Response, TransportError> {
        let start = Instant::now();
        let mut hm = HeaderMap::new();
        for (k, v) in headers {
            let invalid = |detail: String| TransportError::InvalidHeader {
                name: k.clone(),
                detail,
            };
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            let value = HeaderValue::from_str(v).map_err(|e| invalid(e.to_string()))?;
            hm.append(name, value);
        }
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| TransportError::InvalidMethod(method.to_string()))?;
        let mut req = self
            .http
            .request(m, url.clone())
            .headers(hm)
            .timeout(time_left);
        if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
            req = req.body(body.clone());
        }
        let mut ex = Exchange::request(method, url, headers, body);
        let result = self.read(req, &mut ex).await;
        ex.millis = start.elapsed().as_millis() as u64;
        if let Err(e) = &result {
            ex.error = Some(e.to_string());
        }
        log.push(ex);
        result
    }

    async fn read(
        &self,
        req: reqwest::RequestBuilder,
        ex: &mut Exchange,
    ) -> Result<Response, TransportError> {
        let mut res = req.send().await.map_err(|e| classify(&e))?;
        let status = res.status().as_u16();
        let url = res.url().clone();
        let headers = res.headers().clone();
        ex.answered(status, &headers);
        let mut body = Vec::new();
        let mut framing = None;
        loop {
            match res.chunk().await {
                Ok(Some(c)) => {
                    if (body.len() + c.len()) as u64 > self.config.max_body {
                        return Err(TransportError::BodyTooLarge {
                            limit: self.config.max_body,
                        });
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => match framing_fault(&e, &headers, body.len() as u64) {
                    Some(f) => {
                        framing = Some(f);
                        break;
                    }
                    None => return Err(classify(&e)),
                },
            }
        }
        ex.response_body = super::BodyView::of(&body);
        ex.framing = framing.clone();
        Ok(Response {
            status,
            headers,
            body: Bytes::from(body),
            url,
            framing,
        })
    }
}

/// The framing fault behind a body error, if it is one; timeouts and resets that are not
/// about the message's length stay transport errors (the run could not get the answer).
fn framing_fault(e: &reqwest::Error, headers: &HeaderMap, received: u64) -> Option<FramingFault> {
    if e.is_timeout() {
        return None;
    }
    let hyper_err = chain(e).find_map(|c| c.downcast_ref::<hyper::Error>());
    let io_kind = chain(e)
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map(|io| io.kind());
    let chunked = headers.get_all("transfer-encoding").iter().any(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .to_ascii_lowercase()
            .contains("chunked")
    });
    let announced = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let cut = io_kind == Some(std::io::ErrorKind::UnexpectedEof)
        || hyper_err.is_some_and(|h| h.is_incomplete_message());
    if chunked {
        if cut {
            return Some(FramingFault::UnfinishedChunks { received });
        }
        if matches!(
            io_kind,
            Some(std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput)
        ) {
            return Some(FramingFault::MalformedChunks {
                received,
                detail: describe(e),
            });
        }
        return None;
    }
    match announced {
        Some(announced) if cut && received < announced => Some(FramingFault::ShortBody {
            announced,
            received,
        }),
        _ => None,
    }
}

fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |c| c.source())
}

/// A reqwest failure, typed by what the user can do about it.
pub(crate) fn classify(e: &reqwest::Error) -> TransportError {
    let detail = describe(e);
    if e.is_timeout() {
        return TransportError::Timeout { detail };
    }
    // the connector wraps rustls' error in io errors, one inside the other
    let tls = chain(e).any(|c| {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(c);
        while let Some(x) = cur {
            if x.downcast_ref::<rustls::Error>().is_some() {
                return true;
            }
            cur = x
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        false
    });
    if tls {
        return TransportError::Tls { detail };
    }
    if e.is_connect() {
        return TransportError::Connect { detail };
    }
    // closed (not reset) before the status line: hyper's "incomplete message" with no io
    // error beneath it
    let closed = chain(e).any(|c| {
        c.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
    }) && !chain(e).any(|c| c.downcast_ref::<std::io::Error>().is_some());
    if closed {
        return TransportError::NoAnswer { detail };
    }
    TransportError::Exchange { detail }
}

/// An error with its chain of causes, which reqwest hides behind "error sending request".
fn describe(e: &reqwest::Error) -> String {
    let mut s = String::new();
    let _ = write!(s, "{e}");
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let _ = write!(s, ": {c}");
        src = c.source();
    }
    s
}
