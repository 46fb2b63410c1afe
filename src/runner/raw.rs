//! The scenario language as written in YAML (serde structs). The loader turns these into
//! the checked [`super::plan`]; nothing executes them directly. Unknown fields are errors
//! (`deny_unknown_fields`), so a typo never silently disables a check, and every
//! expectation keeps its position ([`Spanned`]) for messages.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::model::{ContentSpec, Workflow};
use super::predicate::Written as Predicate;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    /// Named steps the scenarios of this file reuse with `use:`.
    #[serde(default)]
    pub steps: BTreeMap<String, Spanned<Step>>,
    pub scenarios: Vec<Spanned<Scenario>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    pub id: String,
    pub title: String,
    pub requirements: Vec<String>,
    pub workflows: Vec<Workflow>,
    #[serde(default = "default_profiles")]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub needs_credentials: bool,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub content: BTreeMap<String, ContentSpec>,
    pub steps: Vec<Spanned<Step>>,
    #[serde(default)]
    pub cleanup: Vec<Spanned<Step>>,
}

fn default_profiles() -> Vec<String> {
    vec!["oci-1.0".into()]
}

/// A step as written: the loader requires exactly one kind (request, check, push, skip,
/// concurrently, use).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Step {
    /// Optional under `use:` (the named step's name is taken).
    #[serde(default)]
    pub name: Option<String>,
    /// Run only when every variable named satisfies its predicate.
    #[serde(default)]
    pub when: BTreeMap<String, Spanned<Predicate>>,
    #[serde(default)]
    pub repeat: Option<u32>,
    /// The earlier steps (by name) whose effects this one relies on; without it, a step
    /// relies on every step before it. Steps whose captures it uses are added.
    #[serde(default)]
    pub needs: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub request: Option<Request>,
    /// Expectations on variables, for steps without a request.
    #[serde(default)]
    pub check: Option<OneOrMany<Expect>>,
    #[serde(default)]
    pub concurrently: Vec<Spanned<Step>>,
    #[serde(default)]
    pub skip: Option<String>,
    #[serde(default)]
    pub push: Option<Push>,
    /// A named step of the file's `steps:`.
    #[serde(default, rename = "use")]
    pub use_step: Option<Spanned<String>>,
    /// Under `use:`: captures renamed, `{name in the named step: name here}`.
    #[serde(default, rename = "as")]
    pub rename: BTreeMap<String, String>,
    #[serde(default)]
    pub expect: Option<OneOrMany<Expect>>,
    #[serde(default)]
    pub capture: BTreeMap<String, Spanned<Capture>>,
    #[serde(default)]
    pub skip_if: Option<OneOrMany<SkipIf>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Push {
    #[serde(default)]
    pub blob: Option<String>,
    #[serde(default)]
    pub manifest: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub parallel: Option<u32>,
}

/// A value or a list of values. Deserialised by hand (not `untagged`) so that an error
/// inside, such as an unknown field, keeps its own message and location.
#[derive(Clone, Debug)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IntoDeserializer, value};
        struct V<T>(std::marker::PhantomData<T>);
        macro_rules! scalar {
            ($name:ident, $t:ty) => {
                fn $name<E: de::Error>(self, v: $t) -> Result<Self::Value, E> {
                    T::deserialize(v.into_deserializer()).map(OneOrMany::One)
                }
            };
        }
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(value::SeqAccessDeserializer::new(a)).map(OneOrMany::Many)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
                T::deserialize(value::MapAccessDeserializer::new(a)).map(OneOrMany::One)
            }
            scalar!(visit_str, &str);
            scalar!(visit_u64, u64);
            scalar!(visit_i64, i64);
            scalar!(visit_bool, bool);
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OneOrMany::One)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkipIf {
    pub status: Vec<u16>,
    #[serde(default)]
    pub code: Vec<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Request {
    pub method: super::plan::Method,
    pub url: String,
    #[serde(default)]
    pub query: BTreeMap<String, OneOrMany<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Body>,
    #[serde(default)]
    pub chunks: Option<super::plan::Chunks>,
    #[serde(default)]
    pub paginate: Option<super::plan::Paginate>,
    #[serde(default)]
    pub anonymous: bool,
    #[serde(default)]
    pub basic: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Body {
    Content(String),
    Slice(super::plan::Slice),
    Text(String),
    Json(Value),
    Fixture(String),
}

/// One expectation: the requirement it checks (`req`, mandatory) and predicates on the
/// parts of an answer (or on variables, in a `check:`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    #[serde(default)]
    pub req: Option<Spanned<String>>,
    #[serde(default)]
    pub status: Option<Spanned<Predicate>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<Predicate>>,
    #[serde(default)]
    pub body: Option<Spanned<super::plan::BodyCheck>>,
    /// JSON paths of the body (templated) and what they must satisfy.
    #[serde(default)]
    pub json: BTreeMap<String, Spanned<Predicate>>,
    /// Variables (captures, builtins) and what they must satisfy.
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<Predicate>>,
    /// The error envelope, if the body is JSON, holds one of these codes.
    #[serde(default)]
    pub error_code: Option<Spanned<OneOrMany<String>>>,
    #[serde(default)]
    pub digest_header_matches_body: Option<Spanned<bool>>,
    #[serde(default)]
    pub because: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Capture {
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub resolve: bool,
    #[serde(default)]
    pub json: Option<String>,
    #[serde(default)]
    pub status: bool,
    #[serde(default)]
    pub challenge: Option<String>,
    #[serde(default)]
    pub optional: bool,
    /// The requirement a missing value breaks, when the step has no expectation to blame.
    #[serde(default)]
    pub req: Option<Spanned<String>>,
    /// Of a header capture: the value with `from` replaced by `to` (both templates).
    #[serde(default)]
    pub replace: Option<Replace>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Replace {
    pub from: String,
    pub to: String,
}
