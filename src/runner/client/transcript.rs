//! What a run shows of its exchanges: each request and answer as recorded, with credentials,
//! tokens and cookies redacted before anything is stored, so no report or log can leak them.

use reqwest::Url;

use super::FramingFault;
use crate::oci::Digest;

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
            url: display_url(url),
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

    /// Records the status and headers of the answer, redacted.
    pub(crate) fn answered(&mut self, status: u16, headers: &reqwest::header::HeaderMap) {
        self.status = Some(status);
        self.response_headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    redact_header(k.as_str(), &String::from_utf8_lossy(v.as_bytes())),
                )
            })
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact_header("Authorization", "Bearer abc.def"),
            "Bearer <redacted>"
        );
        assert_eq!(redact_header("Set-Cookie", "session=1"), "<redacted>");
        let s = redact_json_secrets(r#"{"token":"s3cret","access_token": "t0k","expires_in":60}"#);
        assert!(!s.contains("s3cret") && !s.contains("t0k"), "{s}");
        assert!(s.contains("expires_in"));
        let u = Url::parse("https://user:pw@host/v2/").unwrap();
        assert_eq!(display_url(&u), "https://host/v2/");
    }

    #[test]
    fn a_recorded_request_shows_no_credentials() {
        let u = Url::parse("https://user:pw@host/v2/").unwrap();
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
}
