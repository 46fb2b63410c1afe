//! Credentials kept out of everything a run shows: transcripts, reports, the terminal.
//!
//! Redaction works on whole texts before anything cuts them, and where a secret's end
//! cannot be found it hides everything to the end, so a cut never leaves part of one
//! readable. It hides, wherever they appear: the run's own password and the tokens it sent
//! or received (verbatim and percent-encoded), the user-info of URLs, credential-bearing
//! query and form parameters, and the token fields of JSON bodies.

use std::sync::{LazyLock, RwLock};

use regex_lite::{Captures, Regex};

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Secrets shorter than this are not searched for verbatim: hiding every occurrence of a
/// two-letter password would hide ordinary words of the output too.
const MIN_SECRET: usize = 4;

/// Secrets remembered at most; a run that renews tokens all the time forgets the oldest
/// (expired by then) first, so memory stays bounded.
const MAX_SECRETS: usize = 1024;

/// The run's secrets, learnt from its settings and from what its client sent and received.
/// Process-wide: every report and terminal line of the process must hide them, and runs
/// side by side (`matrix`) only ever add to what is hidden.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Tokens learnt from bodies are this long at least: a registry must not be able to hide
/// ordinary words of the output by handing out "tokens" such as "pass".
const MIN_LEARNT: usize = 8;

/// Remembers `secret` (a password, a token) so that no later output shows it.
pub fn keep_secret(secret: &str) {
    keep(secret, MIN_SECRET)
}

fn keep(secret: &str, min: usize) {
    if secret.chars().count() < min {
        return;
    }
    let mut forms = vec![secret.to_string()];
    // as it appears in a URL or a form body
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    forms.push(encoded.replace('+', "%20"));
    forms.push(encoded);
    // as it appears inside a JSON string
    if let Ok(j) = serde_json::to_string(secret) {
        forms.push(j[1..j.len() - 1].to_string());
    }
    let mut kept = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for f in forms {
        if f.chars().count() >= min && !kept.contains(&f) {
            if kept.len() >= MAX_SECRETS {
                kept.remove(0);
            }
            kept.push(f);
        }
    }
    // longest first, so a secret that contains another is hidden whole
    kept.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `scheme://user:password@` → `scheme://***@`.
static USERINFO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s]*@").expect("static regex"));

/// Query or form parameters that carry credentials, e.g. `?access_token=…`,
/// `password=…` in a token request's body, a presigned URL's signature.
static PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)((?:^|[?&;\s])(?:token|access_token|refresh_token|id_token|password|passwd|secret|client_secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&#\s]*",
    )
    .expect("static regex")
});

/// A JSON token field and its string value; a value cut before its closing quote runs to
/// the end of the text (the `$` branch), so it is hidden whole.
static JSON_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"("(?:token|access_token|refresh_token|id_token|password|client_secret)"\s*:\s*")((?:[^"\\]|\\.)*(?:\\)?)("|$)"#,
    )
    .expect("static regex")
});

/// `text` with every credential it may hold hidden.
pub fn redact(text: &str) -> String {
    let mut out = {
        let kept = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        let mut s = text.to_string();
        for secret in kept.iter() {
            if s.contains(secret.as_str()) {
                s = s.replace(secret.as_str(), REDACTED);
            }
        }
        s
    };
    out = USERINFO.replace_all(&out, "${1}***@").into_owned();
    out = PARAM
        .replace_all(&out, |c: &Captures| format!("{}{REDACTED}", &c[1]))
        .into_owned();
    let mut learnt = vec![];
    out = JSON_FIELD
        .replace_all(&out, |c: &Captures| {
            if c[3].is_empty() {
                // cut before its end: what follows may be the next part of it
                format!("{}{REDACTED}", &c[1])
            } else {
                learnt.push(c[2].to_string());
                format!("{}{REDACTED}\"", &c[1])
            }
        })
        .into_owned();
    // a token handed out in a body must not show when the registry echoes it elsewhere
    for t in learnt {
        keep(&t, MIN_LEARNT);
    }
    out
}

/// A header value as shown: credentials hidden, the rest redacted as any text.
pub fn redact_header(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => {
            let mut parts = value.splitn(2, char::is_whitespace);
            let scheme = parts.next().unwrap_or("");
            let credential = parts.next().unwrap_or("").trim();
            keep_secret(credential);
            if scheme.eq_ignore_ascii_case("basic") {
                keep_basic(credential);
            }
            format!("{scheme} {REDACTED}")
        }
        "cookie" | "set-cookie" => REDACTED.into(),
        _ => redact(value),
    }
}

/// The password of a Basic credential, remembered.
fn keep_basic(credential: &str) {
    use base64::Engine;
    if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(credential)
        && let Ok(pair) = String::from_utf8(raw)
        && let Some((_, password)) = pair.split_once(':')
    {
        keep_secret(password);
    }
}

/// A URL as given, user-info cut at the string level, so a URL that does not parse is
/// shown without its password too: `http://u:p@host/x` → `http://***@host/x`, and
/// `u:p@host` (no scheme) → `***@host`.
pub fn userinfo_cut(raw: &str) -> String {
    let (scheme, rest) = match raw.find("://") {
        Some(i) => raw.split_at(i + 3),
        None => ("", raw),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_fields_are_hidden() {
        assert_eq!(
            redact_header("Authorization", "Bearer abc.def"),
            "Bearer <redacted>"
        );
        assert_eq!(redact_header("Set-Cookie", "session=1"), "<redacted>");
        let s = redact(r#"{"token":"s3cret","access_token": "t0k","expires_in":60}"#);
        assert!(!s.contains("s3cret") && !s.contains("t0k"), "{s}");
        assert!(s.contains("expires_in"));
        // learnt: the same token elsewhere is hidden too
        redact(r#"{"token":"eyJhbGciOi.x"}"#);
        assert!(!redact("echo eyJhbGciOi.x here").contains("eyJhbGciOi.x"));
    }

    #[test]
    fn a_value_cut_before_its_end_is_hidden_to_the_end() {
        let s = redact(r#"{"refresh_token": "abcdefghijklmnop"#);
        assert_eq!(s, r#"{"refresh_token": "<redacted>"#);
        let s = redact(r#"{"token":"abc\"#);
        assert!(!s.contains("abc"), "{s}");
    }

    #[test]
    fn basic_credentials_are_learnt_and_hidden_everywhere() {
        // base64 of "alice:W0nderland-9"
        redact_header("Authorization", "Basic YWxpY2U6VzBuZGVybGFuZC05");
        let s = redact("wrong password W0nderland-9 (W0nderland%2D9 encoded is W0nderland-9)");
        assert!(!s.contains("W0nderland-9"), "{s}");
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact("see https://u:pa55@host/v2/?x=1&access_token=zzz&y=2"),
            "see https://***@host/v2/?x=1&access_token=<redacted>&y=2"
        );
        assert_eq!(
            redact("grant_type=password&username=u&password=hunter22"),
            "grant_type=password&username=u&password=<redacted>"
        );
        assert_eq!(
            userinfo_cut("http://u:p@ss@host:5000/x@y"),
            "http://***@host:5000/x@y"
        );
        assert_eq!(userinfo_cut("u:pw@host"), "***@host");
        assert_eq!(
            userinfo_cut("http://host:port:bad/"),
            "http://host:port:bad/"
        );
    }
}
