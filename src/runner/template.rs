//! `{name}` placeholders in scenario strings. A placeholder is `{` followed by letters,
//! digits, `_`, `-` or `.` and `}`; any other brace is literal text.

/// The placeholders of a template, in order.
pub fn placeholders(t: &str) -> Vec<&str> {
    let mut out = vec![];
    scan(t, |name| {
        out.push(name);
    });
    out
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

fn scan<'a>(t: &'a str, mut f: impl FnMut(&'a str)) {
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            let mut j = i + 1;
            while j < b.len() && is_name_byte(b[j]) {
                j += 1;
            }
            if j > i + 1 && j < b.len() && b[j] == b'}' {
                f(&t[i + 1..j]);
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
}

/// A placeholder naming nothing known when the template is rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variable {{{0}}}")]
pub struct UnknownVariable(pub String);

/// Replaces every placeholder through `lookup`; the first unknown name is an error.
pub fn render(t: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, UnknownVariable> {
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'{' {
            let mut j = i + 1;
            while j < b.len() && is_name_byte(b[j]) {
                j += 1;
            }
            if j > i + 1 && j < b.len() && b[j] == b'}' {
                let name = &t[i + 1..j];
                let v = lookup(name).ok_or_else(|| UnknownVariable(name.to_string()))?;
                out.push_str(&t[last..i]);
                out.push_str(&v);
                i = j + 1;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&t[last..]);
    Ok(out)
}

/// Renders every string inside a JSON value.
pub fn render_json(
    v: &serde_json::Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<serde_json::Value, UnknownVariable> {
    use serde_json::Value;
    Ok(match v {
        Value::String(s) => Value::String(render(s, lookup)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_json(x, lookup))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((render(k, lookup)?, render_json(x, lookup)?)))
                .collect::<Result<_, UnknownVariable>>()?,
        ),
        other => other.clone(),
    })
}

/// Walks every string of a JSON value (for static checks of placeholders).
pub fn json_strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    use serde_json::Value;
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k);
            json_strings(x, out)
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_leaves_other_braces() {
        let f = |n: &str| (n == "a.b").then(|| "X".to_string());
        assert_eq!(render("x{a.b}y{a.b}", &f).unwrap(), "xXyX");
        assert_eq!(render("{ not } {} {a b}", &f).unwrap(), "{ not } {} {a b}");
        assert!(render("{missing}", &f).is_err());
        assert_eq!(
            placeholders("/v2/{repo}/blobs/{layer.digest}"),
            vec!["repo", "layer.digest"]
        );
    }
}
