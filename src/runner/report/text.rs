//! Exchanges as text, in the `> request / < response` form of curl -v.

use crate::runner::client::{BodyView, Exchange};
use crate::runner::redact::redact;
use crate::runner::sanitize::terminal;

/// Exchanges in the `> request / < response` form of curl -v, with what the registry sent
/// escaped for a terminal (and so for XML too).
pub fn transcript(ex: &[Exchange]) -> String {
    terminal(&lines(ex))
}

fn lines(ex: &[Exchange]) -> String {
    let mut s = String::new();
    for e in ex {
        s.push_str(&format!("  > {} {}\n", e.method, e.url));
        for (k, v) in &e.request_headers {
            s.push_str(&format!("  > {k}: {v}\n"));
        }
        body_lines(&mut s, "  >", &e.request_body);
        if let Some(err) = &e.error {
            // a transport error may quote a URL or an answer
            s.push_str(&format!("  ! {}\n", redact(err)));
        }
        if let Some(st) = e.status {
            s.push_str(&format!("  < {st}\n"));
            for (k, v) in &e.response_headers {
                s.push_str(&format!("  < {k}: {v}\n"));
            }
            body_lines(&mut s, "  <", &e.response_body);
        }
        if let Some(f) = &e.framing {
            s.push_str(&format!("  ! {f}\n"));
        }
        s.push_str(&format!("  ({} ms)\n", e.millis));
    }
    s
}

fn body_lines(s: &mut String, prefix: &str, b: &BodyView) {
    if b.size == 0 {
        return;
    }
    match &b.text {
        Some(t) => {
            for l in t.lines() {
                s.push_str(&format!("{prefix} {l}\n"));
            }
            if b.truncated {
                s.push_str(&format!(
                    "{prefix} … ({} bytes in all, {})\n",
                    b.size,
                    b.digest.as_deref().unwrap_or("")
                ));
            }
        }
        None => s.push_str(&format!(
            "{prefix} [{} bytes of binary, {}]\n",
            b.size,
            b.digest.as_deref().unwrap_or("")
        )),
    }
}
