//! The data model of `specs/`: requirements, profiles and scenarios, as written in YAML.
//! Unknown fields are errors (`deny_unknown_fields`), so a typo never silently disables a
//! check. Runtime errors point back at a step through its [`Spanned`] location.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

// --- requirements catalogue ----------------------------------------------------------------

#[derive(
    Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize,
)]
pub enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "MUST NOT")]
    MustNot,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    #[serde(rename = "MAY")]
    May,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::MustNot => "MUST NOT",
            Level::Should => "SHOULD",
            Level::ShouldNot => "SHOULD NOT",
            Level::May => "MAY",
        }
    }
    /// MUST and MUST NOT are one class in verdicts, likewise SHOULD and SHOULD NOT.
    pub fn class(self) -> &'static str {
        match self {
            Level::Must | Level::MustNot => "MUST",
            Level::Should | Level::ShouldNot => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// The normative word of the sentence a requirement comes from, as the sentence uses it;
/// `none` when the sentence has no keyword.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Keyword {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "MUST NOT")]
    MustNot,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    #[serde(rename = "MAY")]
    May,
    #[serde(rename = "none")]
    Unstated,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub level: Level,
    /// Section anchor in the spec, e.g. `pulling-blobs`.
    pub section: String,
    /// The keyword of the cited sentence; `level` may be stronger only with `derived_from`.
    pub keyword: Keyword,
    /// In our words, the rule a duty is derived from when no sentence states it of the
    /// registry's answer (a grammar of names, a rule about documents or clients).
    #[serde(default)]
    pub derived_from: Option<String>,
    /// Which spec text states it: `v1.1.1` (default) or `main`, or `distribution` for the
    /// Docker Registry HTTP API V2 document.
    #[serde(default = "default_source")]
    pub source: String,
    pub summary: String,
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub codes: Vec<String>,
    /// Why a client cannot observe it; present only for untestable requirements.
    #[serde(default)]
    pub untestable: Option<String>,
}

fn default_source() -> String {
    "v1.1.1".into()
}

impl Requirement {
    pub fn spec_url(&self) -> String {
        let base = match self.source.as_str() {
            "main" => "https://github.com/opencontainers/distribution-spec/blob/main/spec.md",
            "auth" => {
                "https://github.com/distribution/distribution/blob/main/docs/content/spec/auth/token.md"
            }
            "distribution" => {
                "https://github.com/distribution/distribution/blob/main/docs/content/spec/api.md"
            }
            _ => "https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md",
        };
        format!("{base}#{}", self.section)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementsFile {
    pub requirements: Vec<Spanned<Requirement>>,
}

// --- profiles ------------------------------------------------------------------------------

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub id: String,
    pub title: String,
    /// Profiles whose scenarios this one also runs.
    #[serde(default)]
    pub extends: Vec<String>,
    #[serde(default)]
    pub default: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilesFile {
    pub profiles: Vec<Spanned<Profile>>,
}

// --- scenarios -----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenarios: Vec<Spanned<Scenario>>,
}

#[derive(
    Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Workflow {
    Pull,
    Push,
    Discovery,
    Management,
    Referrers,
    Auth,
    Errors,
}

impl Workflow {
    pub fn as_str(self) -> &'static str {
        match self {
            Workflow::Pull => "pull",
            Workflow::Push => "push",
            Workflow::Discovery => "discovery",
            Workflow::Management => "management",
            Workflow::Referrers => "referrers",
            Workflow::Auth => "auth",
            Workflow::Errors => "errors",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub requirements: Vec<String>,
    /// The first workflow names the scenario (`<workflow>::<id>`).
    pub workflows: Vec<Workflow>,
    /// Profiles that include this scenario; profiles extending one of them do too.
    #[serde(default = "default_profiles")]
    pub profiles: Vec<String>,
    /// Runs only when the run has credentials; otherwise reported as skipped.
    #[serde(default)]
    pub needs_credentials: bool,
    /// A fixed repository (templated with `{namespace}`) instead of one of its own: for
    /// content seeded once and pulled by read-only scenarios. Never cleaned up.
    #[serde(default)]
    pub repository: Option<String>,
    /// Content generated or loaded for this scenario, by name.
    #[serde(default)]
    pub content: BTreeMap<String, ContentSpec>,
    pub steps: Vec<Spanned<Step>>,
    /// Steps run after the others whatever happened, results ignored.
    #[serde(default)]
    pub cleanup: Vec<Spanned<Step>>,
}

fn default_profiles() -> Vec<String> {
    vec!["oci-1.0".into()]
}

/// A piece of content a scenario pushes, pulls or compares.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentSpec {
    /// That many bytes from the run's seed.
    Random(u64),
    /// Text (templated).
    Text(String),
    /// JSON (strings templated), serialised compactly.
    Json(Value),
    /// A file under `fixtures/`, taken as is.
    Fixture(String),
    /// An image manifest built from other content.
    Image(ImageSpec),
    /// An image index built from other manifests.
    Index(IndexSpec),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    pub config: String,
    #[serde(default)]
    pub layers: Vec<String>,
    /// `oci` (default) or `docker` (schema 2 media types throughout).
    #[serde(default)]
    pub format: ManifestFormat,
    #[serde(default)]
    pub config_media_type: Option<String>,
    #[serde(default)]
    pub layer_media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Grow the manifest to about this many bytes with a padding annotation.
    #[serde(default)]
    pub pad_to: Option<u64>,
    /// Leave out the `mediaType` field (allowed by the image spec).
    #[serde(default)]
    pub omit_media_type: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    pub manifests: Vec<String>,
    #[serde(default)]
    pub format: ManifestFormat,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ManifestFormat {
    #[default]
    Oci,
    Docker,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// Requirement ids a failure here breaks; defaults to the scenario's.
    #[serde(default)]
    pub verifies: Vec<String>,
    #[serde(default)]
    pub when: Option<Condition>,
    /// Run the request this many times, with `{i}` = 0, 1, …
    #[serde(default)]
    pub repeat: Option<u32>,
    #[serde(default)]
    pub request: Option<Request>,
    /// Checks on variables, for steps without a request.
    #[serde(default)]
    pub check: Vec<VarCheck>,
    /// Sub-steps run at the same time (each with its own `repeat`), each judged.
    #[serde(default)]
    pub concurrently: Vec<Step>,
    /// End the scenario as skipped with this reason (under a `when:`: the branch means an
    /// optional feature is absent).
    #[serde(default)]
    pub skip: Option<String>,
    /// Push content the usual way (setup): a blob by POST then PUT, a manifest by PUT.
    #[serde(default)]
    pub push: Option<Push>,
    #[serde(default)]
    pub expect: Option<OneOrMany<Expect>>,
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
    /// A status here means the registry lacks an optional feature: the scenario is skipped.
    #[serde(default)]
    pub skip_if: Option<OneOrMany<SkipIf>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Push {
    /// A declared content pushed as a blob.
    #[serde(default)]
    pub blob: Option<String>,
    /// A declared content pushed as a manifest (with its media type as Content-Type).
    #[serde(default)]
    pub manifest: Option<String>,
    /// Tag or digest to push the manifest to (templated; default: its digest).
    #[serde(default)]
    pub reference: Option<String>,
    /// Repository (templated; default `{repo}`).
    #[serde(default)]
    pub repo: Option<String>,
    /// Push the same blob this many times at once.
    #[serde(default)]
    pub parallel: Option<u32>,
}

/// A value or a list of values. Deserialised by hand (not `untagged`) so that an error
/// inside, such as an unknown field, keeps its own message and location.
#[derive(Clone, Debug)]
pub enum OneOrMany<T> {
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
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(t) => std::slice::from_ref(t),
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub var: String,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub not_equals: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipIf {
    pub status: Vec<u16>,
    /// Only when a JSON error body carries one of these codes (a non-JSON body matches).
    #[serde(default)]
    pub code: Vec<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: Method,
    /// Absolute, or a path resolved against the registry URL (templated).
    pub url: String,
    /// Query parameters appended to the URL (templated); a list repeats the key.
    #[serde(default)]
    pub query: BTreeMap<String, OneOrMany<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Body>,
    /// Send a content in this many chunks, one request each, with `Content-Range`.
    #[serde(default)]
    pub chunks: Option<Chunks>,
    /// Follow `Link: <…>; rel="next"` to the end, collecting a JSON array.
    #[serde(default)]
    pub paginate: Option<Paginate>,
    /// Send no credentials, whatever the run has.
    #[serde(default)]
    pub anonymous: bool,
    /// Send the run's credentials as Basic, unasked (e.g. to a token endpoint).
    #[serde(default)]
    pub basic: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Method {
    GET,
    HEAD,
    POST,
    PUT,
    PATCH,
    DELETE,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    /// A declared content's bytes.
    Content(String),
    /// Bytes `start..end` of a declared content (end exclusive, default: the end).
    Slice(Slice),
    Text(String),
    Json(Value),
    Fixture(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slice {
    pub content: String,
    pub start: u64,
    #[serde(default)]
    pub end: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunks {
    pub content: String,
    pub count: u32,
    /// Variable holding the upload URL, updated from each response's `Location`.
    pub location: String,
    /// Leave the last chunk out (to send it with the closing PUT).
    #[serde(default)]
    pub hold_last: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paginate {
    /// JSON path of the array in each page (e.g. `tags`).
    pub collect: String,
    /// Variable receiving the concatenated arrays.
    pub into: String,
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

fn default_max_pages() -> u32 {
    1000
}

/// What to check of a response. Every field is optional; a `req` attributes a failure to
/// one requirement (default: the step's `verifies`, else the scenario's).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub req: Option<String>,
    #[serde(default)]
    pub status: Option<OneOrMany<u16>>,
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderCheck>,
    #[serde(default)]
    pub body: Option<BodyCheck>,
    #[serde(default)]
    pub json: Vec<JsonCheck>,
    /// The error envelope, if the body is JSON, holds one of these codes.
    #[serde(default)]
    pub error_code: Option<OneOrMany<String>>,
    /// `Docker-Content-Digest`, when present, is the digest of the body.
    #[serde(default)]
    pub digest_header_matches_body: bool,
    /// Said in the failure message, to explain what the mismatch means.
    #[serde(default)]
    pub because: Option<String>,
}

#[derive(Clone, Debug)]
pub enum HeaderCheck {
    /// `present` or `absent`.
    Word(String),
    Rule(HeaderRule),
}

impl<'de> Deserialize<'de> for HeaderCheck {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, value};
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = HeaderCheck;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("present, absent, or a rule {equals | one_of | matches, optional}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HeaderCheck, E> {
                match v {
                    "present" | "absent" => Ok(HeaderCheck::Word(v.to_string())),
                    _ => Err(E::custom(format!(
                        "expected present, absent or a rule, got {v:?} (to compare, write {{equals: {v:?}}})"
                    ))),
                }
            }
            fn visit_map<A: de::MapAccess<'de>>(self, a: A) -> Result<HeaderCheck, A::Error> {
                HeaderRule::deserialize(value::MapAccessDeserializer::new(a)).map(HeaderCheck::Rule)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
    #[serde(default)]
    pub matches: Option<String>,
    /// Only checked when the header is there.
    #[serde(default)]
    pub optional: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BodyCheck {
    /// Byte for byte a declared content.
    Content(String),
    /// Byte for byte one of these contents.
    OneOf(Vec<String>),
    /// Bytes `start..end` of a declared content.
    Slice(Slice),
    Empty(bool),
    /// The body hashes to this digest (templated).
    Digest(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonCheck {
    /// Dotted path with indices and filters (templated): `tags`, `errors[0].code`,
    /// `manifests[digest={a.digest}].artifactType`, `annotations["org.x"]`.
    pub path: String,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub length: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
    #[serde(default)]
    pub absent: bool,
    /// An array containing this element, or an object containing these keys and values.
    #[serde(default)]
    pub contains: Option<Value>,
    /// An array in lexical order.
    #[serde(default)]
    pub sorted: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VarCheck {
    #[serde(default)]
    pub req: Option<String>,
    pub var: String,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub not_equals: Option<Value>,
    /// An array holding this element, or a string holding this text.
    #[serde(default)]
    pub contains: Option<Value>,
    #[serde(default)]
    pub length: Option<usize>,
    #[serde(default)]
    pub sorted: bool,
    #[serde(default)]
    pub no_duplicates: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    #[serde(default)]
    pub header: Option<String>,
    /// Resolve a captured URL (e.g. `Location`) against the request URL.
    #[serde(default)]
    pub resolve: bool,
    #[serde(default)]
    pub json: Option<String>,
    #[serde(default)]
    pub status: bool,
    /// A part of the `WWW-Authenticate` challenge: `scheme`, `realm`, `service`, `scope`.
    #[serde(default)]
    pub challenge: Option<String>,
    /// A missing header or path captures "" instead of failing.
    #[serde(default)]
    pub optional: bool,
}
