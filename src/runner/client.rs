//! The runner's HTTP client: reqwest with a timeout on every request, a cap on response
//! bodies, redirects followed (reqwest drops `Authorization` when a redirect leaves the
//! host), and authentication: Basic, or Bearer tokens from the `WWW-Authenticate`
//! challenge, cached per repository and access. Every exchange is recorded for transcripts
//! with credentials redacted.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE};

use crate::oci::Digest;
use crate::oci::api::Target;

#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub timeout: Duration,
    pub max_body: u64,
    pub insecure: bool,
    pub ca_file: Option<std::path::PathBuf>,
    pub credentials: Option<Credentials>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            timeout: Duration::from_secs(30),
            max_body: 256 * 1024 * 1024,
            insecure: false,
            ca_file: None,
            credentials: None,
        }
    }
}

/// A transport-level failure: the run could not get an answer (an error, not a fail).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// One request and its response, as shown in transcripts and reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: BodyView,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: BodyView,
    pub error: Option<String>,
    pub millis: u64,
}

/// A body as shown to people: text when it is short readable text, else size and digest.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BodyView {
    pub size: usize,
    pub digest: Option<String>,
    pub text: Option<String>,
    pub truncated: bool,
}

/// Bytes of a text body shown in transcripts.
const SHOWN: usize = 1024;

impl BodyView {
    pub fn of(b: &[u8]) -> BodyView {
        if b.is_empty() {
            return BodyView {
                size: 0,
                digest: None,
                text: None,
                truncated: false,
            };
        }
        let text = std::str::from_utf8(&b[..b.len().min(SHOWN + 4)])
            .ok()
            .or_else(|| {
                // a cut in the middle of a UTF-8 sequence
                std::str::from_utf8(&b[..b.len().min(SHOWN)]).ok()
            })
            .filter(|s| s.chars().all(|c| !c.is_control() || c.is_whitespace()));
        BodyView {
            size: b.len(),
            digest: Some(Digest::sha256(b).to_string()),
            text: text.map(|t| redact_json_secrets(&t.chars().take(SHOWN).collect::<String>())),
            truncated: b.len() > SHOWN,
        }
    }
}

/// Token fields of an auth server's answer never appear in output.
fn redact_json_secrets(s: &str) -> String {
    let mut out = s.to_string();
    for key in [
        "\"token\"",
        "\"access_token\"",
        "\"refresh_token\"",
        "\"password\"",
    ] {
        let mut from = 0;
        while let Some(p) = out[from..].find(key) {
            let start = from + p + key.len();
            let rest = &out[start..];
            let Some(q1) = rest.find('"') else { break };
            if !rest[..q1].trim().trim_start_matches(':').trim().is_empty() {
                from = start;
                continue;
            }
            let Some(q2) = rest[q1 + 1..].find('"') else {
                break;
            };
            let (a, b) = (start + q1 + 1, start + q1 + 1 + q2);
            out.replace_range(a..b, "<redacted>");
            from = a + "<redacted>".len();
        }
    }
    out
}

fn redact_header(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => {
            let scheme = value.split_whitespace().next().unwrap_or("");
            format!("{scheme} <redacted>")
        }
        "cookie" | "set-cookie" => "<redacted>".into(),
        _ => value.to_string(),
    }
}

/// A URL without its user-info, for display.
pub fn display_url(u: &Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// An answer, fully read.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub url: Url,
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

/// How the registry wants to be authenticated, learnt from its challenges.
#[derive(Clone, Debug, PartialEq)]
enum Scheme {
    None,
    Basic,
}

pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    scheme: Mutex<Scheme>,
    /// Bearer tokens by (repository, needs write access).
    tokens: Mutex<HashMap<(String, bool), String>>,
}

/// Installs ring as rustls' provider (once per process): one TLS stack, no C compiler.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, String> {
        install_crypto();
        let mut b = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // redirects are followed by `send`, hop by hop, so each is recorded and checked
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("regverify/", env!("CARGO_PKG_VERSION")));
        if config.insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("--ca-file {}: {e}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("--ca-file {}: {e}", ca.display()))?;
            for c in certs {
                b = b.tls_certs_merge([c]);
            }
        }
        Ok(Client {
            http: b.build().map_err(|e| format!("HTTP client: {e}"))?,
            config,
            scheme: Mutex::new(Scheme::None),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    pub fn has_credentials(&self) -> bool {
        self.config.credentials.is_some()
    }

    /// The run's credentials as a Basic `Authorization` value.
    pub fn basic_value(&self) -> Option<String> {
        self.config.credentials.as_ref().map(basic)
    }

    fn token_key(url: &Url, method: &str) -> (String, bool) {
        let repo = Target::parse(url.path())
            .and_then(|t| t.name().map(String::from))
            .unwrap_or_default();
        (repo, !matches!(method, "GET" | "HEAD"))
    }

    fn auth_header(&self, url: &Url, method: &str) -> Option<String> {
        if let Some(t) = self
            .tokens
            .lock()
            .unwrap()
            .get(&Self::token_key(url, method))
        {
            return Some(format!("Bearer {t}"));
        }
        let creds = self.config.credentials.as_ref()?;
        (*self.scheme.lock().unwrap() == Scheme::Basic).then(|| basic(creds))
    }

    /// Sends one request, answering an authentication challenge once.
    pub async fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &Bytes,
        anonymous: bool,
        log: &mut Vec<Exchange>,
    ) -> Result<Response, TransportError> {
        let auth = if anonymous {
            None
        } else {
            self.auth_header(url, method)
        };
        let res = self
            .once(method, url, headers, body, auth.as_deref(), log)
            .await?;
        if res.status != 401 || anonymous {
            return Ok(res);
        }
        let Some(challenge) = res.header(WWW_AUTHENTICATE.as_str()).map(parse_challenge) else {
            return Ok(res);
        };
        let auth = match challenge.scheme.as_str() {
            "basic" => {
                let Some(c) = &self.config.credentials else {
                    return Ok(res);
                };
                *self.scheme.lock().unwrap() = Scheme::Basic;
                basic(c)
            }
            "bearer" => {
                let token = self.fetch_token(&challenge, log).await?;
                self.tokens
                    .lock()
                    .unwrap()
                    .insert(Self::token_key(url, method), token.clone());
                format!("Bearer {token}")
            }
            _ => return Ok(res),
        };
        self.once(method, url, headers, body, Some(&auth), log)
            .await
    }

    async fn fetch_token(
        &self,
        ch: &Challenge,
        log: &mut Vec<Exchange>,
    ) -> Result<String, TransportError> {
        let realm = ch
            .params
            .get("realm")
            .ok_or_else(|| TransportError("Bearer challenge without a realm".into()))?;
        let mut url = Url::parse(realm)
            .map_err(|e| TransportError(format!("Bearer realm {realm:?}: {e}")))?;
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
        let auth = self.config.credentials.as_ref().map(basic);
        let res = self
            .once("GET", &url, &[], &Bytes::new(), auth.as_deref(), log)
            .await?;
        if res.status != 200 {
            return Err(TransportError(format!(
                "token endpoint {} answered {}",
                display_url(&url),
                res.status
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&res.body)
            .map_err(|e| TransportError(format!("token endpoint answer is not JSON: {e}")))?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(String::from)
            .ok_or_else(|| TransportError("token endpoint answer has no token".into()))
    }

    /// One request, following redirects (at most 10 hops). `Authorization` goes only to the
    /// registry's own origin; a `Docker-Content-Digest` given on the redirect is kept when
    /// the final answer (often a storage service) has none.
    async fn once(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &Bytes,
        auth: Option<&str>,
        log: &mut Vec<Exchange>,
    ) -> Result<Response, TransportError> {
        let origin = url.origin();
        let (mut method, mut url, mut body) = (method.to_string(), url.clone(), body.clone());
        let mut digest_from_redirect = None;
        for _ in 0..=10 {
            let auth = auth.filter(|_| url.origin() == origin);
            let mut res = self.hop(&method, &url, headers, &body, auth, log).await?;
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
                .map_err(|e| TransportError(format!("redirect to {next:?}: {e}")))?;
            if res.status == 303 || (matches!(res.status, 301 | 302) && method == "POST") {
                method = "GET".into();
                body = Bytes::new();
            }
        }
        Err(TransportError("more than 10 redirects".into()))
    }

    async fn hop(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &Bytes,
        auth: Option<&str>,
        log: &mut Vec<Exchange>,
    ) -> Result<Response, TransportError> {
        let start = Instant::now();
        let mut shown_headers: Vec<(String, String)> = headers.to_vec();
        let mut hm = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| TransportError(format!("header name {k:?}: {e}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| TransportError(format!("header {k} value {v:?}: {e}")))?;
            hm.append(name, value);
        }
        if let Some(a) = auth {
            hm.insert(
                reqwest::header::AUTHORIZATION,
                HeaderValue::from_str(a).map_err(|e| TransportError(e.to_string()))?,
            );
            shown_headers.push(("Authorization".into(), a.into()));
        }
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| TransportError(e.to_string()))?;
        let mut req = self.http.request(m, url.clone()).headers(hm);
        if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
            req = req.body(body.clone());
        }
        let mut ex = Exchange {
            method: method.to_string(),
            url: display_url(url),
            request_headers: shown_headers
                .iter()
                .map(|(k, v)| (k.clone(), redact_header(k, v)))
                .collect(),
            request_body: BodyView::of(body),
            status: None,
            response_headers: vec![],
            response_body: BodyView::of(&[]),
            error: None,
            millis: 0,
        };
        let result = self.read(req, &mut ex).await;
        ex.millis = start.elapsed().as_millis() as u64;
        if let Err(e) = &result {
            ex.error = Some(e.0.clone());
        }
        log.push(ex);
        result
    }

    async fn read(
        &self,
        req: reqwest::RequestBuilder,
        ex: &mut Exchange,
    ) -> Result<Response, TransportError> {
        let mut res = req.send().await.map_err(|e| TransportError(describe(&e)))?;
        let status = res.status().as_u16();
        let url = res.url().clone();
        let headers = res.headers().clone();
        ex.status = Some(status);
        ex.response_headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    redact_header(k.as_str(), &String::from_utf8_lossy(v.as_bytes())),
                )
            })
            .collect();
        let mut body = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(c)) => {
                    if (body.len() + c.len()) as u64 > self.config.max_body {
                        return Err(TransportError(format!(
                            "response body exceeds {} bytes; stopped reading",
                            self.config.max_body
                        )));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => return Err(TransportError(describe(&e))),
            }
        }
        ex.response_body = BodyView::of(&body);
        Ok(Response {
            status,
            headers,
            body: Bytes::from(body),
            url,
        })
    }
}

fn basic(c: &Credentials) -> String {
    format!(
        "Basic {}",
        base64(format!("{}:{}", c.username, c.password).as_bytes())
    )
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// An error with its chain of causes, which reqwest hides behind "error sending request".
fn describe(e: &reqwest::Error) -> String {
    let mut s = String::new();
    if e.is_timeout() {
        s.push_str("timed out: ");
    }
    let _ = write!(s, "{e}");
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let _ = write!(s, ": {c}");
        src = c.source();
    }
    s
}

#[derive(Debug, Default)]
pub struct Challenge {
    pub scheme: String,
    pub params: HashMap<String, String>,
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
        assert_eq!(parse_challenge(r#"Basic realm="x""#).scheme, "basic");
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact_header("Authorization", "Bearer abc.def"),
            "Bearer <redacted>"
        );
        let s = redact_json_secrets(r#"{"token":"s3cret","access_token": "t0k","expires_in":60}"#);
        assert!(!s.contains("s3cret") && !s.contains("t0k"), "{s}");
        assert!(s.contains("expires_in"));
        let u = Url::parse("https://user:pw@host/v2/").unwrap();
        assert_eq!(display_url(&u), "https://host/v2/");
    }

    #[test]
    fn base64_encodes() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
