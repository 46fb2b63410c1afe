//! The one predicate language of scenarios, for every query (status, header, JSON path,
//! variable): `equals, not_equals, one_of, matches, contains, length, max_length, sorted,
//! no_duplicates, present, absent`, plus `optional` (judge only what is there). A bare
//! scalar is shorthand for `equals`, a bare list for `one_of`, and the words `present` and
//! `absent` for themselves. Regexes are compiled when the file is read, so a bad one is a
//! load error at its position.

use serde::Deserialize;
use serde_json::Value;

use super::evidence::Evidence;

/// A regex compiled once, when the scenario file is read.
#[derive(Clone, Debug)]
pub struct Pattern(pub regex_lite::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        regex_lite::Regex::new(&s)
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("bad regex {s:?}: {e}")))
    }
}

/// What a queried value must satisfy. Values are templates: the caller renders them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub not_equals: Option<Value>,
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    #[serde(default)]
    pub matches: Option<Pattern>,
    /// An array holding this element (an object: these keys and values), or a string
    /// holding this text.
    #[serde(default)]
    pub contains: Option<Value>,
    #[serde(default)]
    pub length: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
    /// An array in lexical order (case-insensitive, as the spec describes tags).
    #[serde(default)]
    pub sorted: bool,
    #[serde(default)]
    pub no_duplicates: bool,
    #[serde(default)]
    pub present: bool,
    #[serde(default)]
    pub absent: bool,
    /// Judge the other predicates only when the value is there.
    #[serde(default)]
    pub optional: bool,
}

/// A predicate as written: the shorthands (a scalar, a list, `present`, `absent`) or the
/// full map. Deserialised by hand so that an error inside the map (an unknown predicate)
/// keeps its own message and position.
#[derive(Clone, Debug)]
pub(crate) struct Written(pub Predicate);

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, value};
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Predicate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a value (equals), a list (one_of), present, absent, or a map of predicates",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Predicate, E> {
                Ok(match v {
                    "present" => Predicate {
                        present: true,
                        ..Predicate::default()
                    },
                    "absent" => Predicate {
                        absent: true,
                        ..Predicate::default()
                    },
                    _ => Predicate::equal(Value::String(v.to_string())),
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Predicate, E> {
                Ok(Predicate::equal(Value::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Predicate, E> {
                Ok(Predicate::equal(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Predicate, E> {
                Ok(Predicate::equal(Value::from(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Predicate, E> {
                Ok(Predicate::equal(Value::Bool(v)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, a: A) -> Result<Predicate, A::Error> {
                let l = Vec::<Value>::deserialize(value::SeqAccessDeserializer::new(a))?;
                Ok(Predicate {
                    one_of: Some(l),
                    ..Predicate::default()
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, a: A) -> Result<Predicate, A::Error> {
                Predicate::deserialize(value::MapAccessDeserializer::new(a))
            }
        }
        let p = d.deserialize_any(V)?;
        p.possible().map_err(serde::de::Error::custom)?;
        Ok(Written(p))
    }
}

impl Predicate {
    /// `Err` explains a predicate that can never hold or tests nothing.
    fn possible(&self) -> Result<(), &'static str> {
        if self.present && self.absent {
            return Err("present and absent exclude each other");
        }
        if self.absent && self.tests_value() {
            return Err("absent excludes predicates on the value (equals, matches, …)");
        }
        if !self.present && !self.absent && !self.tests_value() {
            return Err(
                "a predicate needs one of equals, not_equals, one_of, matches, \
                        contains, length, max_length, sorted, no_duplicates, present, absent",
            );
        }
        Ok(())
    }

    fn equal(v: Value) -> Predicate {
        Predicate {
            equals: Some(v),
            ..Predicate::default()
        }
    }

    fn tests_value(&self) -> bool {
        self.equals.is_some()
            || self.not_equals.is_some()
            || self.one_of.is_some()
            || self.matches.is_some()
            || self.contains.is_some()
            || self.length.is_some()
            || self.max_length.is_some()
            || self.sorted
            || self.no_duplicates
    }

    /// Every template string inside (for the loader's check of placeholders).
    pub(crate) fn strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        for v in [&self.equals, &self.not_equals, &self.contains]
            .into_iter()
            .flatten()
        {
            super::template::json_strings(v, out);
        }
        for v in self.one_of.iter().flatten() {
            super::template::json_strings(v, out);
        }
    }

    /// Judges `got` (`None`: the header, path or variable is not there). `render` fills the
    /// templates of expected values. Each unmet predicate is one [`Mismatch`].
    pub(crate) fn eval(
        &self,
        got: Option<&Value>,
        render: &mut dyn FnMut(&Value) -> Result<Value, RenderError>,
    ) -> Result<Vec<Mismatch>, RenderError> {
        let mut out = vec![];
        let Some(got) = got else {
            if !self.absent && !self.optional {
                out.push(Mismatch::new(self.describe_presence(), "missing"));
            }
            return Ok(out);
        };
        let shown = show(got);
        if self.absent {
            out.push(Mismatch::new("absent", shown));
            return Ok(out);
        }
        if let Some(e) = &self.equals {
            let e = render(e)?;
            if !loose_eq(got, &e) {
                out.push(Mismatch::new(show(&e), shown.clone()));
            }
        }
        if let Some(ne) = &self.not_equals {
            let ne = render(ne)?;
            if loose_eq(got, &ne) {
                out.push(Mismatch::new(
                    Evidence::labelled("anything but ", &show(&ne)),
                    shown.clone(),
                ));
            }
        }
        if let Some(opts) = &self.one_of {
            let opts = opts
                .iter()
                .map(&mut *render)
                .collect::<Result<Vec<_>, _>>()?;
            if !opts.iter().any(|o| loose_eq(got, o)) {
                let list: Vec<Evidence> = opts.iter().map(show).collect();
                let list: Vec<&str> = list.iter().map(Evidence::as_str).collect();
                out.push(Mismatch::new(
                    Evidence::labelled("one of ", &list.join(", ").into()),
                    shown.clone(),
                ));
            }
        }
        if let Some(Pattern(re)) = &self.matches {
            let text = match got {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !re.is_match(&text) {
                out.push(Mismatch::new(
                    Evidence::args(format_args!("matching /{}/", re.as_str())),
                    shown.clone(),
                ));
            }
        }
        if let Some(want) = &self.contains {
            let want = render(want)?;
            let ok = match (got, &want) {
                (Value::String(h), Value::String(n)) => h.contains(n.as_str()),
                (h, n) => contains(h, n),
            };
            if !ok {
                out.push(Mismatch::new(
                    Evidence::labelled("containing ", &show(&want)),
                    shown.clone(),
                ));
            }
        }
        let len = match got {
            Value::Array(a) => Some(a.len()),
            Value::String(s) => Some(s.chars().count()),
            _ => None,
        };
        if let Some(n) = self.length
            && len != Some(n)
        {
            out.push(Mismatch::new(
                format!("length {n}"),
                describe_len(len, &shown),
            ));
        }
        if let Some(n) = self.max_length
            && len.is_none_or(|l| l > n)
        {
            out.push(Mismatch::new(
                format!("length at most {n}"),
                describe_len(len, &shown),
            ));
        }
        if self.sorted {
            match got.as_array() {
                None => out.push(Mismatch::new("a sorted array", shown.clone())),
                Some(_) => {
                    if let Some(pair) = unsorted(got) {
                        out.push(Mismatch::new("lexical order", pair));
                    }
                }
            }
        }
        if self.no_duplicates {
            let mut seen = std::collections::HashSet::new();
            let mut twice = 0usize;
            for x in got.as_array().into_iter().flatten() {
                if !seen.insert(x.to_string()) {
                    twice += 1;
                    // a list of any length keeps a bounded account: the first few, then
                    // how many more
                    if twice <= LISTED {
                        let shown = Evidence::args(format_args!("{x} twice"));
                        out.push(Mismatch::new("no duplicates", shown));
                    }
                }
            }
            if twice > LISTED {
                out.push(Mismatch::new(
                    "no duplicates",
                    format!("{} more duplicates", twice - LISTED),
                ));
            }
        }
        Ok(out)
    }

    fn describe_presence(&self) -> Evidence {
        if self.present && !self.tests_value() {
            "present".into()
        } else if let Some(e) = &self.equals {
            show(e)
        } else {
            "present".into()
        }
    }
}

/// An expected value whose template could not be filled (the message says why).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

/// Mismatches of one kind listed one by one before the rest are only counted (duplicates
/// in a list of any length).
pub(crate) const LISTED: usize = 20;

/// One unmet predicate: what was expected and what came, kept apart for reports (as
/// [`Evidence`]: cut before it is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub expected: Evidence,
    pub got: Evidence,
}

impl Mismatch {
    pub(crate) fn new(expected: impl Into<Evidence>, got: impl Into<Evidence>) -> Mismatch {
        Mismatch {
            expected: expected.into(),
            got: got.into(),
        }
    }
}

fn describe_len(len: Option<usize>, shown: &Evidence) -> Evidence {
    match len {
        Some(l) => Evidence::labelled(&format!("length {l}: "), shown),
        None => Evidence::labelled("no length: ", shown),
    }
}

/// A value as a message shows it: JSON (strings quoted), long ones cut with their size and
/// digest.
pub(crate) fn show(v: &Value) -> Evidence {
    Evidence::json(v)
}

pub(crate) fn contains(hay: &Value, needle: &Value) -> bool {
    match (hay, needle) {
        (Value::Array(a), n) => a
            .iter()
            .any(|x| loose_eq(x, n) || (n.is_object() && contains(x, n))),
        (Value::Object(h), Value::Object(n)) => n
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|x| loose_eq(x, v) || contains(x, v))),
        (h, n) => loose_eq(h, n),
    }
}

/// JSON equality where an expected string also matches a number written the same way:
/// templates render `{x.size}` as a string.
pub(crate) fn loose_eq(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            n.to_string() == *s
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| loose_eq(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && b.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|x| loose_eq(x, v)))
        }
        (g, w) => g == w,
    }
}

/// The first pair out of lexical (case-insensitive, as the spec describes) order.
pub(crate) fn unsorted(v: &Value) -> Option<Evidence> {
    let a = v.as_array()?;
    let s: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
    s.windows(2)
        .find(|w| w[0].to_lowercase() > w[1].to_lowercase())
        .map(|w| {
            Evidence::labelled(
                &format!("{} before ", Evidence::args(format_args!("{:?}", w[0]))),
                &Evidence::args(format_args!("{:?}", w[1])),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(yaml: &str) -> Result<Predicate, serde_saphyr::Error> {
        serde_saphyr::from_str::<Written>(yaml).map(|w| w.0)
    }

    fn judge(pred: &Predicate, got: Option<Value>) -> Vec<Mismatch> {
        pred.eval(got.as_ref(), &mut |v| Ok(v.clone())).unwrap()
    }

    #[test]
    fn shorthands_and_words() {
        assert!(judge(&p("present").unwrap(), Some(json!("x"))).is_empty());
        assert_eq!(judge(&p("present").unwrap(), None).len(), 1);
        assert!(judge(&p("absent").unwrap(), None).is_empty());
        assert_eq!(judge(&p("absent").unwrap(), Some(json!(1))).len(), 1);
        assert!(judge(&p("202").unwrap(), Some(json!(202))).is_empty());
        assert_eq!(judge(&p("202").unwrap(), Some(json!(201)))[0].got, "201");
        assert!(judge(&p("[201, 202]").unwrap(), Some(json!(202))).is_empty());
        assert_eq!(judge(&p("[201, 202]").unwrap(), Some(json!(204))).len(), 1);
    }

    #[test]
    fn every_predicate_can_fail() {
        let cases = [
            ("{equals: a}", json!("b")),
            ("{not_equals: a}", json!("a")),
            ("{one_of: [a, b]}", json!("c")),
            ("{matches: '^0-[0-9]+$'}", json!("1-2")),
            ("{contains: x}", json!(["y"])),
            ("{length: 2}", json!([1])),
            ("{max_length: 1}", json!([1, 2])),
            ("{sorted: true}", json!(["b", "a"])),
            ("{no_duplicates: true}", json!(["a", "a"])),
        ];
        for (yaml, bad) in cases {
            let pred = p(yaml).unwrap();
            let m = judge(&pred, Some(bad.clone()));
            assert_eq!(m.len(), 1, "{yaml} on {bad}: {m:?}");
            assert_eq!(judge(&pred, None).len(), 1, "{yaml} on a missing value");
        }
        assert!(judge(&p("{equals: a, optional: true}").unwrap(), None).is_empty());
    }

    #[test]
    fn impossible_predicates_are_refused() {
        assert!(p("{present: true, absent: true}").is_err());
        assert!(p("{absent: true, equals: a}").is_err());
        assert!(p("{optional: true}").is_err());
        assert!(
            p("{matches: '('}")
                .unwrap_err()
                .to_string()
                .contains("bad regex")
        );
        assert!(
            p("{equal: a}")
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
    }
}
