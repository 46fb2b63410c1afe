//! Exchanges as text, in the `> request / < response` form of curl -v.

use crate::runner::client::{BodyView, Exchange};

/// Exchanges in the `> request / < response` form of curl -v.
pub fn transcript(ex: &[Exchange]) -> String {
    let mut s = String::new();
    for e in ex {
        s.push_str(&format!("  > {} {}\n", e.method, e.url));
        for (k, v) in &e.request_headers {
            s.push_str(&format!("  > {k}: {v}\n"));
        }
        body_lines(&mut s, "  >", &e.request_body);
        if let Some(err) = &e.error {
            s.push_str(&format!("  ! {err}\n"));
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
