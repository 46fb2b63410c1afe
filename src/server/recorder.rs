//! The request recorder (off unless [`Config::recorder`](super::Config) holds one): every
//! request as the client sent it and every answer as the client received it, defects and
//! variations included, so that `regverify clients` can judge a client's duties on what it
//! actually sent.
//!
//! While recording, upload locations carry a query parameter of their own ([`STATE_PARAM`]):
//! the spec lets a location hold critical query parameters, and only a location that has
//! one shows whether a client uses it as given or rebuilds it from the session's id. A
//! redirecting recorder also sends blob GETs elsewhere first, so that following shows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::oci::api::{self, Endpoint, Target};

/// The query parameter added to upload locations while recording.
pub const STATE_PARAM: &str = "_state";
/// The query parameter marking a blob GET sent to the location a redirect named.
pub const REDIRECTED_PARAM: &str = "_redirected";

/// Request bodies larger than this are counted, not kept (manifests are far smaller).
const KEEP_BODY: usize = 4 * 1024 * 1024;
/// The request body a recorder takes at most, by default (it is held in memory).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One request and its answer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Exchange {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// The endpoint the request reaches, if any.
    #[serde(skip)]
    pub endpoint: Option<Endpoint>,
    /// Request headers, names lower case; credentials replaced by `<redacted>`.
    pub request_headers: Vec<(String, String)>,
    /// Bytes of the request body.
    pub body_len: u64,
    /// The body of a manifest PUT (others are only counted).
    #[serde(skip)]
    pub body: Option<bytes::Bytes>,
    pub status: u16,
    /// Answer headers, names lower case.
    pub response_headers: Vec<(String, String)>,
}

impl Exchange {
    pub fn request_header(&self, name: &str) -> Option<&str> {
        find(&self.request_headers, name)
    }
    pub fn response_header(&self, name: &str) -> Option<&str> {
        find(&self.response_headers, name)
    }
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The exchanges recorded so far.
#[derive(Debug)]
pub struct Recorder {
    exchanges: Mutex<Vec<Exchange>>,
    next_state: AtomicU64,
    /// Largest request body taken.
    max_body: usize,
    /// Whether blob GETs are first answered with a redirect (see [`Recorder::redirecting`]).
    redirect_blobs: bool,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Recorder::with_max_body(MAX_BODY)
    }

    /// A recorder refusing, 413, request bodies over `max_body` bytes.
    pub fn with_max_body(max_body: usize) -> Arc<Recorder> {
        Arc::new(Recorder {
            exchanges: Mutex::default(),
            next_state: AtomicU64::new(0),
            max_body,
            redirect_blobs: false,
        })
    }

    /// A recorder that also answers each blob GET with a `307` to the same URL marked with
    /// [`REDIRECTED_PARAM`], where the blob is served: spec main lets a registry redirect any
    /// request and asks clients to follow.
    pub fn redirecting() -> Arc<Recorder> {
        Arc::new(Recorder {
            exchanges: Mutex::default(),
            next_state: AtomicU64::new(0),
            max_body: MAX_BODY,
            redirect_blobs: true,
        })
    }

    /// Everything recorded since the last call, in the order the answers were sent.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.exchanges.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn push(&self, e: Exchange) {
        self.exchanges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(e);
    }
}

fn headers(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            let value = if *k == header::AUTHORIZATION
                || *k == header::COOKIE
                || *k == header::PROXY_AUTHORIZATION
            {
                "<redacted>".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (k.as_str().to_string(), value)
        })
        .collect()
}

/// The outermost middleware: records the request as it arrives and the answer as it leaves.
pub(crate) async fn layer(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(recorder) = app.config.recorder.clone() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let endpoint = Target::parse(parts.uri.path())
        .and_then(|t| api::route_for(t.resource(), parts.method.as_str()))
        .map(|r| r.endpoint);
    let request_headers = headers(&parts.headers);
    // held whole so its length is known even when the handler reads only part of it
    let bytes = match axum::body::to_bytes(body, recorder.max_body).await {
        Ok(b) => b,
        Err(e) => {
            // never handed on short: the request is answered here, and recorded
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            let status = if too_large {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let res = (status, format!("request body: {e}")).into_response();
            recorder.push(Exchange {
                method,
                target,
                endpoint,
                request_headers,
                body_len: 0,
                body: None,
                status: status.as_u16(),
                response_headers: headers(res.headers()),
            });
            return res;
        }
    };
    let body_len = bytes.len() as u64;
    let kept = (endpoint == Some(Endpoint::ManifestPut) && bytes.len() <= KEEP_BODY)
        .then(|| bytes.clone());
    let redirect = recorder.redirect_blobs
        && endpoint == Some(Endpoint::BlobGet)
        && parts.method == axum::http::Method::GET
        && !parts.uri.query().unwrap_or("").contains(REDIRECTED_PARAM);
    let mut res = if redirect {
        let sep = if parts.uri.query().is_some() {
            '&'
        } else {
            '?'
        };
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(
                header::LOCATION,
                format!("{target}{sep}{REDIRECTED_PARAM}=1"),
            )],
        )
            .into_response()
    } else {
        next.run(Request::from_parts(parts, Body::from(bytes)))
            .await
    };
    let is_upload = matches!(
        endpoint,
        Some(Endpoint::UploadStart | Endpoint::UploadChunk | Endpoint::UploadStatus)
    );
    if is_upload && let Some(loc) = res.headers().get(header::LOCATION) {
        let loc = String::from_utf8_lossy(loc.as_bytes()).into_owned();
        // only session locations: a single POST's answer names the blob
        if loc.contains("/blobs/uploads/") {
            let n = recorder.next_state.fetch_add(1, Ordering::Relaxed);
            let sep = if loc.contains('?') { '&' } else { '?' };
            if let Ok(v) = HeaderValue::from_str(&format!("{loc}{sep}{STATE_PARAM}={n}")) {
                res.headers_mut().insert(header::LOCATION, v);
            }
        }
    }
    recorder.push(Exchange {
        method,
        target,
        endpoint,
        request_headers,
        body_len,
        body: kept,
        status: res.status().as_u16(),
        response_headers: headers(res.headers()),
    });
    res
}
