//! Text from a registry made safe for where it is written. A registry chooses its bodies,
//! headers and error messages, and a run shows them: on a terminal (where a carriage return
//! or a bidi override rewrites what is read), in JUnit XML (where U+FFFE makes the file
//! unreadable), in Markdown (where a link or an image renders live, an image fetched by every
//! reader), in a baseline (YAML that must read back). One rule per sink; HTML is escaped by
//! its template engine.
//!
//! Characters a sink cannot hold are shown as `\u{…}`, so a reader sees that they were
//! there.

/// Whether `c` is never written raw: C0 controls but tab and newline (a carriage return
/// overwrites a line, escape sequences drive the terminal), DEL, C1 controls, bidi controls
/// (they reorder what is shown), the line and paragraph separators, and U+FFFE / U+FFFF
/// (not characters: XML 1.0 and YAML forbid them).
fn hidden(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x08'
            | '\x0b'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{fffe}'
            | '\u{ffff}'
    )
}

fn escape(s: &str, also: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(e) = also(c) {
            out.push_str(e);
        } else if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// For a terminal, lines kept: newlines and tabs stay, every other control is shown escaped.
pub fn terminal(s: &str) -> String {
    escape(s, |_| None)
}

/// For a terminal, on one line: newlines and tabs shown as `\n` and `\t` too.
pub fn line(s: &str) -> String {
    escape(s, |c| match c {
        '\n' => Some("\\n"),
        '\t' => Some("\\t"),
        _ => None,
    })
}

/// For XML 1.0 text and attributes (the writer escapes markup): every character XML
/// forbids is shown escaped, and so is what the terminal would not show raw, since CI pages
/// display this text as well.
pub fn xml(s: &str) -> String {
    terminal(s)
}

/// Markdown text outside code: link, image, emphasis and table syntax escaped, HTML made
/// text, on one line.
pub fn md_text(s: &str) -> String {
    escape(s, |c| match c {
        '\\' => Some("\\\\"),
        '`' => Some("\\`"),
        '*' => Some("\\*"),
        '_' => Some("\\_"),
        '[' => Some("\\["),
        ']' => Some("\\]"),
        '|' => Some("\\|"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '&' => Some("&amp;"),
        '\n' => Some(" "),
        '\r' => Some(" "),
        _ => None,
    })
}

/// Markdown code span: nothing inside renders (no link, image, autolink or HTML). On one
/// line, and a `|` escaped, which a table would otherwise take as a cell's end even inside
/// code. Empty for empty text.
pub fn md_code(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let body = escape(s, |c| match c {
        '|' => Some("\\|"),
        '\n' => Some("\\n"),
        '\t' => Some("\\t"),
        _ => None,
    });
    // a fence longer than any run of backticks inside
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // a space each side keeps a backtick at either end from joining the fence (one space
    // each side is stripped by the reader)
    let pad = if body.starts_with(['`', ' ']) || body.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A YAML double-quoted scalar that reads back as `s`: quotes and backslashes escaped, and
/// every character outside YAML's printable set (and every one the terminal would not show
/// raw) written as an escape, so a baseline holding a registry's text loads again.
pub fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if hidden(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_shown_escaped() {
        assert_eq!(
            terminal("a\rb\x1b[2Kc\u{202e}d\u{85}e\nf\tg\u{fffe}"),
            "a\\u{d}b\\u{1b}[2Kc\\u{202e}d\\u{85}e\nf\tg\\u{fffe}"
        );
        assert_eq!(line("a\nb"), "a\\nb");
        assert!(!terminal("\u{2066}x\u{2069}\x7f").chars().any(hidden));
    }

    #[test]
    fn markdown_renders_nothing_live() {
        assert_eq!(
            md_text("[click](https://evil) <img src=x> a|b"),
            "\\[click\\](https://evil) &lt;img src=x&gt; a\\|b"
        );
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
        assert_eq!(md_code("a|b\nc"), "`a\\|b\\nc`");
        assert_eq!(md_code(""), "");
    }

    #[test]
    fn yaml_scalars_escape_what_yaml_cannot_hold() {
        assert_eq!(
            yaml_quoted("a\"b\\c\u{fffe}\u{202e}\u{85}\r"),
            "\"a\\\"b\\\\c\\uFFFE\\u202E\\u0085\\u000D\""
        );
    }
}
