//! The catalogue of `specs/` as written in YAML: requirements, profiles, workflows, and the
//! content a scenario declares. The scenario language itself is in [`super::raw`] (as
//! written) and [`super::plan`] (as checked). Unknown fields are errors.

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
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash, serde::Serialize)]
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

impl Keyword {
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Must => "MUST",
            Keyword::MustNot => "MUST NOT",
            Keyword::Should => "SHOULD",
            Keyword::ShouldNot => "SHOULD NOT",
            Keyword::May => "MAY",
            Keyword::Unstated => "none",
        }
    }
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
    /// Which spec text states it: `v1.1.1` (default) or `main`, `distribution` for the
    /// Docker Registry HTTP API V2 document, `rfc9112` for HTTP/1.1 message framing,
    /// `image-index` for the image spec's index document.
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
    /// The optional feature a duty holds within, in words ("single-POST is supported"): the
    /// duty is judged only where the registry has the feature (a scenario finding it absent
    /// skips it) and is reported as conditional ("MUST, when single-POST is supported").
    #[serde(default)]
    pub when: Option<String>,
    /// The spec's workflow category the duty belongs to: conformance is stated per category.
    pub category: Category,
    /// This requirement is its category's presence: judged from every answer of its
    /// `endpoints:` in the run (absent when they answer only 405, or 404 without an error
    /// envelope, and never a success), not by a check of a scenario.
    #[serde(default)]
    pub presence: bool,
    /// The sentences it rests on, quoted from each document it is judged under.
    #[serde(default)]
    pub cites: Vec<Cite>,
    /// Whose duty it is.
    #[serde(default)]
    pub party: Party,
}

/// One sentence or clause a requirement rests on, quoted exactly as its document says it
/// (markdown and line breaks aside), with the keyword that sentence uses.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cite {
    pub doc: Doc,
    pub keyword: Keyword,
    pub quote: String,
}

/// The spec documents requirements cite, by the names `cites:` and `trace --doc` use.
#[derive(
    Clone,
    Copy,
    Debug,
    Deserialize,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    clap::ValueEnum,
)]
pub enum Doc {
    /// distribution-spec v1.1.1, the current release
    #[serde(rename = "v1.1.1")]
    #[value(name = "v1.1.1")]
    V111,
    /// distribution-spec main (unreleased)
    #[serde(rename = "main")]
    #[value(name = "main")]
    Main,
    /// the Docker Registry HTTP API V2 document
    #[serde(rename = "distribution")]
    #[value(name = "distribution")]
    Distribution,
    /// distribution's token authentication document
    #[serde(rename = "auth")]
    #[value(name = "auth")]
    Auth,
    /// the image spec's image index
    #[serde(rename = "image-index")]
    #[value(name = "image-index")]
    ImageIndex,
    /// the image spec's image manifest
    #[serde(rename = "image-manifest")]
    #[value(name = "image-manifest")]
    ImageManifest,
    /// the image spec's descriptor
    #[serde(rename = "image-descriptor")]
    #[value(name = "image-descriptor")]
    ImageDescriptor,
    /// Docker Image Manifest V2, Schema 2
    #[serde(rename = "docker-schema2")]
    #[value(name = "docker-schema2")]
    DockerSchema2,
    /// HTTP/1.1 (RFC 9112); its text is not among the spec documents a trace reads
    #[serde(rename = "rfc9112")]
    #[value(name = "rfc9112")]
    Rfc9112,
}

impl Doc {
    pub const ALL: [Doc; 9] = [
        Doc::V111,
        Doc::Main,
        Doc::Distribution,
        Doc::Auth,
        Doc::ImageIndex,
        Doc::ImageManifest,
        Doc::ImageDescriptor,
        Doc::DockerSchema2,
        Doc::Rfc9112,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Doc::V111 => "v1.1.1",
            Doc::Main => "main",
            Doc::Distribution => "distribution",
            Doc::Auth => "auth",
            Doc::ImageIndex => "image-index",
            Doc::ImageManifest => "image-manifest",
            Doc::ImageDescriptor => "image-descriptor",
            Doc::DockerSchema2 => "docker-schema2",
            Doc::Rfc9112 => "rfc9112",
        }
    }
    /// The file of the spec texts (`../shared/reference/`, or `REGVERIFY_SPEC_DIR`) that holds
    /// it, when the texts include it.
    pub fn file_name(self) -> Option<&'static str> {
        Some(match self {
            Doc::V111 => "distribution-spec-v1.1.1.md",
            Doc::Main => "distribution-spec-main.md",
            Doc::Distribution => "distribution-api.md",
            Doc::Auth => "distribution-auth-token.md",
            Doc::ImageIndex => "image-spec-image-index.md",
            Doc::ImageManifest => "image-spec-manifest.md",
            Doc::ImageDescriptor => "image-spec-descriptor.md",
            Doc::DockerSchema2 => "distribution-manifest-v2-2.md",
            Doc::Rfc9112 => return None,
        })
    }
    /// Whether the document invokes RFC 2119 (its keywords are upper case); the Docker
    /// documents do not, and their lower-case "must", "should" and "may" are their keywords.
    pub fn uses_rfc2119(self) -> bool {
        !matches!(self, Doc::Distribution | Doc::Auth | Doc::DockerSchema2)
    }
}

/// Whose duty a requirement states.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// The registry's: judged on its answers.
    #[default]
    Registry,
    /// A client's: judged on the requests a client sends (`regverify clients`).
    Client,
}

/// The spec's four workflow categories ("Conformance" › "Workflow Categories"). A registry
/// MUST support Pull and SHOULD support the others; one claiming another category MUST
/// implement all of its APIs.
#[derive(
    Clone,
    Copy,
    Debug,
    Deserialize,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Pull,
    Push,
    ContentDiscovery,
    ContentManagement,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Pull,
        Category::Push,
        Category::ContentDiscovery,
        Category::ContentManagement,
    ];

    /// The spec's name of the category.
    pub fn title(self) -> &'static str {
        match self {
            Category::Pull => "Pull",
            Category::Push => "Push",
            Category::ContentDiscovery => "Content Discovery",
            Category::ContentManagement => "Content Management",
        }
    }

    /// The name `--claim` takes.
    pub fn slug(self) -> &'static str {
        match self {
            Category::Pull => "pull",
            Category::Push => "push",
            Category::ContentDiscovery => "content-discovery",
            Category::ContentManagement => "content-management",
        }
    }

    /// The spec requires Pull of every registry; the others only of one claiming them.
    pub fn always_claimed(self) -> bool {
        self == Category::Pull
    }
}

/// `MUST` or, within an optional feature, `MUST, when <feature>`.
pub fn level_text(level: &str, when: Option<&str>) -> String {
    match when {
        Some(w) => format!("{level}, when {w}"),
        None => level.to_string(),
    }
}

fn default_source() -> String {
    "v1.1.1".into()
}

impl Requirement {
    /// The level as reports show it: with its condition, when it has one.
    pub fn level_text(&self) -> String {
        level_text(self.level.as_str(), self.when.as_deref())
    }

    pub fn spec_url(&self) -> String {
        let base = match self.source.as_str() {
            "main" => "https://github.com/opencontainers/distribution-spec/blob/main/spec.md",
            "auth" => {
                "https://github.com/distribution/distribution/blob/main/docs/content/spec/auth/token.md"
            }
            "distribution" => {
                "https://github.com/distribution/distribution/blob/main/docs/content/spec/api.md"
            }
            "rfc9112" => "https://www.rfc-editor.org/rfc/rfc9112",
            "image-index" => {
                "https://github.com/opencontainers/image-spec/blob/v1.1.1/image-index.md"
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
    /// The table an error code must be in (`errors.code-form`): the profile's own, not
    /// inherited (default: the OCI spec's).
    #[serde(default)]
    pub error_codes: crate::oci::errors::CodeTable,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilesFile {
    pub profiles: Vec<Spanned<Profile>>,
}

// --- scenarios -----------------------------------------------------------------------------

#[derive(
    Clone,
    Copy,
    Debug,
    Deserialize,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    clap::ValueEnum,
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

/// A piece of content a scenario pushes, pulls or compares.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentSpec {
    /// That many bytes from the run's seed.
    Random(u64),
    /// Bytes from the run's seed for `count` chunks of equal length: `size`, or the
    /// registry's announced chunk minimum when larger.
    Pieces(PiecesSpec),
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

/// `{pieces: {count: 3, size: 2000, min: "{chunk_min}"}}`: content cut into chunks that
/// keep the client's rule (each chunk but the final one SHOULD be at least the
/// `OCI-Chunk-Min-Length` the session's POST announced). Resolved when first used, so
/// after the capture `min` renders.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiecesSpec {
    pub count: u32,
    /// The length of a piece when the registry announces no larger minimum.
    pub size: u64,
    /// The announced minimum (templated; empty: none announced).
    #[serde(default)]
    pub min: Option<String>,
    /// The length of the final piece, when it is to be shorter than the others (the final
    /// chunk may have any length); by default it is as long as they are.
    #[serde(default)]
    pub last: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    pub manifests: Vec<String>,
    /// Entries (of `manifests`) left without a `platform`, which the image spec makes
    /// optional; every other entry gets one.
    #[serde(default)]
    pub without_platform: Vec<String>,
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

// --- aliases -------------------------------------------------------------------------------

/// A renamed requirement or scenario: files written with the old name still mean the new.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    pub old: String,
    pub new: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasesFile {
    /// Old requirement ids.
    #[serde(default)]
    pub requirements: Vec<Spanned<Alias>>,
    /// Old scenario names (`<workflow>::<id>`).
    #[serde(default)]
    pub scenarios: Vec<Spanned<Alias>>,
}

// --- uncited sentences ---------------------------------------------------------------------

/// A normative sentence of a spec document that no requirement cites, on purpose: `trace`
/// lists every other one. `quote` is matched like a cite's (markdown and line breaks
/// aside); an entry that matches no normative sentence is stale.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Uncited {
    pub doc: Doc,
    pub quote: String,
    pub reason: UncitedReason,
    /// More words on the reason, when it needs them (where a sentence is covered, …).
    #[serde(default)]
    pub note: Option<String>,
}

/// Why a normative sentence has no requirement.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UncitedReason {
    /// The sentence's subject is a client (or, in the image spec, an image consumer); a
    /// `party: client` requirement may come to cite it.
    BindsClient,
    /// A duty or freedom of the registry no client can observe (`note` says why).
    Untestable,
    /// Defines terms, explains, or speaks of the document itself: no duty.
    Descriptive,
    /// A rule for the content pushed (manifests, indexes, descriptors), which the image spec
    /// governs, not for the registry's answer.
    ContentFormat,
    /// The same duty as a sentence a requirement cites, or one a requirement's check already
    /// judges (`note` names the requirement).
    Covered,
    /// A duty or freedom of the registry a run could judge, with no requirement yet (`note`
    /// says what the check would do): the catalogue's gaps, which `trace` lists.
    NotYet,
}

impl UncitedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UncitedReason::BindsClient => "binds-client",
            UncitedReason::Untestable => "untestable",
            UncitedReason::Descriptive => "descriptive",
            UncitedReason::ContentFormat => "content-format",
            UncitedReason::Covered => "covered",
            UncitedReason::NotYet => "not-yet",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UncitedFile {
    #[serde(default)]
    pub uncited: Vec<Spanned<Uncited>>,
}
