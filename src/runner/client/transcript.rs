//! What a run shows of its exchanges: each request and answer as recorded, with credentials,
//! tokens and cookies redacted before anything is stored or cut, so no report or log can
//! leak them (the rules are in [`crate::runner::redact`]).

use reqwest::Url;

use super::FramingFault;
use crate::oci::Digest;
use crate::runner::redact::{redact, redact_header};

/// How many header lines of an answer a transcript keeps.
const MAX_HEADERS: usize = 100;

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
    /// Set by the transport as it fails: redacted when shown, since a transport error may
    /// quote a URL or an answer.
    #[serde(serialize_with = "redacted")]
    pub error: Option<String>,
    /// The body broke HTTP message framing after the status and headers arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framing: Option<FramingFault>,
    pub millis: u64,
}

impl Exchange {
    /// A request about to be sent; the answer's fields are filled in as it arrives.
    pub(crate) fn request(
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Exchange {
        Exchange {
            method: method.to_string(),
            url: redact(&display_url(url)),
            request_headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), redact_header(k, v)))
                .collect(),
            request_body: BodyView::of(body),
            status: None,
            response_headers: vec![],
            response_body: BodyView::of(&[]),
            error: None,
            framing: None,
            millis: 0,
        }
    }

    /// Records the status and headers of the answer, redacted, then bounded like every
    /// value kept as evidence: each value cut with its size and digest, and at most
    /// [`MAX_HEADERS`] of them (a registry may send thousands), the rest counted.
    pub(crate) fn answered(&mut self, status: u16, headers: &reqwest::header::HeaderMap) {
        self.status = Some(status);
        self.response_headers = headers
            .iter()
            .take(MAX_HEADERS)
            .map(|(k, v)| {
                let value = redact_header(k.as_str(), &String::from_utf8_lossy(v.as_bytes()));
                (
                    k.as_str().to_string(),
                    crate::runner::evidence::Evidence::from(value).into(),
                )
            })
            .collect();
        if headers.len() > MAX_HEADERS {
            self.response_headers.push((
                "(more)".into(),
                format!("{} more header lines not kept", headers.len() - MAX_HEADERS),
            ));
        }
    }
}

fn redacted<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(t) => s.serialize_some(&redact(t)),
        None => s.serialize_none(),
    }
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

/// Bytes of a text body redacted before it is cut to [`SHOWN`]: a secret that starts in the
/// shown part is hidden whole, however long (one longer than this is hidden to the end of
/// what is redacted, which is past what is shown).
const REDACTED_SPAN: usize = 64 * 1024;

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
        let span = &b[..b.len().min(REDACTED_SPAN)];
        let valid = match std::str::from_utf8(span) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&span[..e.valid_up_to()]).expect("valid up to here"),
        };
        // text when the part that would be shown is UTF-8 (a sequence cut at its end aside)
        // and readable
        let head = prefix(valid, SHOWN);
        let readable = valid.len() + 3 >= b.len().min(SHOWN)
            && head.chars().all(|c| !c.is_control() || c.is_whitespace());
        let text = readable.then(|| redact(valid));
        let truncated = match &text {
            Some(t) => t.len() > SHOWN || valid.len() < b.len(),
            None => b.len() > SHOWN,
        };
        BodyView {
            size: b.len(),
            digest: Some(Digest::sha256(b).to_string()),
            text: text.map(|t| prefix(&t, SHOWN).to_string()),
            truncated,
        }
    }
}

/// The longest start of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A URL without its user-info, for display.
pub fn display_url(u: &Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_request_shows_no_credentials() {
        let u = Url::parse("https://user:pw@host/v2/").unwrap();
        assert_eq!(display_url(&u), "https://host/v2/");
        let ex = Exchange::request(
            "GET",
            &u,
            &[("Authorization".into(), "Basic dXNlcjpwdw==".into())],
            b"",
        );
        let all = serde_json::to_string(&ex).unwrap();
        assert!(
            !all.contains("dXNlcjpwdw==") && !all.contains("pw@"),
            "{all}"
        );
    }

    #[test]
    fn answers_with_huge_or_countless_headers_are_kept_bounded() {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let mut h = HeaderMap::new();
        h.insert(
            "x-big",
            HeaderValue::from_str(&"v".repeat(100_000)).unwrap(),
        );
        for i in 0..500 {
            h.insert(
                HeaderName::from_bytes(format!("x-{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("1"),
            );
        }
        let mut ex = Exchange::request("GET", &Url::parse("http://h/v2/").unwrap(), &[], b"");
        ex.answered(200, &h);
        assert_eq!(ex.response_headers.len(), MAX_HEADERS + 1);
        assert!(ex.response_headers[MAX_HEADERS].1.contains("401 more"));
        let big = &ex.response_headers[0].1;
        assert!(
            big.len() < 1024 && big.contains("100000 bytes, sha256:"),
            "{big}"
        );
    }

    #[test]
    fn a_token_across_the_cut_is_hidden_whole() {
        // the cut at 1 KiB falls inside the token, wherever its value starts
        for lead in [500, 900, 1000, 1012] {
            let token: String = (0..700).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let body = format!(
                "{}{{\"token\": \"{token}\", \"expires_in\": 300}}",
                " ".repeat(lead)
            );
            let v = BodyView::of(body.as_bytes());
            let shown = v.text.unwrap();
            assert!(
                lead > 1000 || shown.contains("<redacted>"),
                "{lead}: {shown}"
            );
            assert!(!shown.contains(&token[..20]), "{lead}: {shown}");
            assert!(v.truncated || shown.contains("expires_in"));
        }
    }
}
