//! Evidence: what a run keeps of a value to show it (a check's expected and got, a mismatch,
//! an error message). A registry chooses what it sends, up to the body cap, so a value is
//! cut before it is kept: its first [`KEPT`] bytes, then its full size and sha256 digest,
//! `"<first 512 bytes>… (16777216 bytes, sha256:…)"`. Comparisons use the whole value;
//! only what is kept is cut, here and nowhere else, so no report writer, terminal line or
//! results file ever holds more of it.
//!
//! A value is cut as it is written ([`Evidence::json`], [`Evidence::args`]): the whole text
//! of a large value is never built, only hashed and counted on its way past.

use std::fmt::{self, Write as _};

use serde_json::Value;

use crate::oci::{Algorithm, Hasher};

/// Bytes of a value kept whole; a longer value keeps this many, then its size and digest.
pub const KEPT: usize = 512;

/// A value as kept for reports: whole when short, else cut (see the module). The text
/// inside is bounded: at most [`KEPT`] bytes of the value and a short tail, or a short
/// label and one such value ([`Evidence::labelled`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Evidence(String);

impl Evidence {
    /// A value in JSON (compact; strings quoted), cut as it is written.
    pub fn json(v: &Value) -> Evidence {
        let mut c = Cut::default();
        // writing into `Cut` never fails, and a `Value` always serialises
        let _ = serde_json::to_writer(&mut c, v);
        c.finish()
    }

    /// Formatted text, cut as it is written: `Evidence::args(format_args!("{x:?}"))`.
    pub fn args(a: fmt::Arguments<'_>) -> Evidence {
        let mut c = Cut::default();
        let _ = c.write_fmt(a);
        c.finish()
    }

    /// Raw bytes (a body), shown as text where they are UTF-8, cut like any value.
    pub fn bytes(b: &[u8]) -> Evidence {
        let mut c = Cut::default();
        c.push(b);
        c.finish()
    }

    /// `label` (itself cut) followed by a value already kept: the value's own size and
    /// digest stay those of the value, not of the label and value together (so the digest
    /// of a body shown this way is the body's).
    pub fn labelled(label: &str, value: &Evidence) -> Evidence {
        let label = Evidence::from(label);
        Evidence(format!("{}{}", label.0, value.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same evidence with credentials hidden. The kept text is bounded already and
    /// redaction changes its length by little, so it is not cut again (a second cut would
    /// replace the value's own size and digest with those of the kept text).
    pub fn redacted(&self) -> Evidence {
        Evidence(crate::runner::redact::redact(&self.0))
    }
}

impl From<&str> for Evidence {
    fn from(s: &str) -> Evidence {
        Evidence::bytes(s.as_bytes())
    }
}

impl From<String> for Evidence {
    fn from(s: String) -> Evidence {
        if s.len() <= KEPT {
            // short: kept as it is, without copying
            return Evidence(s);
        }
        Evidence::from(s.as_str())
    }
}

impl From<Evidence> for String {
    fn from(e: Evidence) -> String {
        e.0
    }
}

impl std::ops::Deref for Evidence {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Evidence {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Evidence {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A writer that keeps the first [`KEPT`] bytes of what passes and counts and hashes all.
struct Cut {
    head: Vec<u8>,
    total: u64,
    hash: Hasher,
}

impl Default for Cut {
    fn default() -> Cut {
        Cut {
            head: Vec::with_capacity(64),
            total: 0,
            hash: Algorithm::Sha256.hasher(),
        }
    }
}

impl Cut {
    fn push(&mut self, b: &[u8]) {
        // only a text longer than KEPT is ever hashed or reported by size, but the hash
        // must start with the first byte: every byte goes through it
        let room = (KEPT + 1).saturating_sub(self.head.len());
        self.head.extend_from_slice(&b[..b.len().min(room)]);
        self.total += b.len() as u64;
        self.hash.update(b);
    }

    fn finish(self) -> Evidence {
        if self.total <= KEPT as u64 {
            return Evidence(String::from_utf8_lossy(&self.head).into_owned());
        }
        let mut head = &self.head[..KEPT.min(self.head.len())];
        // a cut inside a UTF-8 sequence keeps the characters before it
        if let Err(e) = std::str::from_utf8(head)
            && e.error_len().is_none()
        {
            head = &head[..e.valid_up_to()];
        }
        Evidence(format!(
            "{}… ({} bytes, {})",
            String::from_utf8_lossy(head),
            self.total,
            self.hash.finish()
        ))
    }
}

impl std::io::Write for Cut {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.push(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Write for Cut {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Digest;

    #[test]
    fn short_values_are_kept_whole() {
        assert_eq!(Evidence::from("201"), "201");
        assert_eq!(
            Evidence::json(&serde_json::json!({"a": "b"})),
            r#"{"a":"b"}"#
        );
        let exact = "x".repeat(KEPT);
        assert_eq!(Evidence::from(exact.clone()), exact.as_str());
    }

    #[test]
    fn long_values_keep_their_head_size_and_digest() {
        let v = serde_json::json!({"junk": "a".repeat(1 << 20)});
        let text = v.to_string();
        let e = Evidence::json(&v);
        let want = format!(
            "{}… ({} bytes, {})",
            &text[..KEPT],
            text.len(),
            Digest::sha256(text.as_bytes())
        );
        assert_eq!(e, want.as_str());
        // the same value by any way in is the same evidence
        assert_eq!(Evidence::from(text.clone()), e);
        assert_eq!(Evidence::args(format_args!("{v}")), e);
        assert_eq!(Evidence::bytes(text.as_bytes()), e);
        assert!(e.len() < KEPT + 100, "{}", e.len());
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let s = format!("a{}", "é".repeat(KEPT));
        let e = Evidence::from(s.as_str());
        assert!(
            e.starts_with(&format!("a{}…", "é".repeat((KEPT - 1) / 2))),
            "{e}"
        );
        assert!(e.contains(&format!("({} bytes, sha256:", s.len())), "{e}");
    }

    #[test]
    fn a_labelled_value_keeps_the_values_own_digest() {
        let body = "b".repeat(4 * KEPT);
        let e = Evidence::labelled("400 body: ", &Evidence::from(body.as_str()));
        assert!(e.starts_with("400 body: bbb"), "{e}");
        assert!(
            e.ends_with(&format!(
                "({} bytes, {})",
                body.len(),
                Digest::sha256(body.as_bytes())
            )),
            "{e}"
        );
        // a long label is cut too
        let e = Evidence::labelled(&"l".repeat(10 * KEPT), &Evidence::from("v"));
        assert!(e.len() < 2 * KEPT, "{}", e.len());
    }
}
