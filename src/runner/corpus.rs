//! The corpus a run replays: the spec files (requirements, profiles, aliases, scenarios) and
//! the fixtures. Both are embedded in the binary at build time, so it runs from anywhere.
//! `--specs DIR` is an overlay on the embedded spec files by default: its requirements and
//! profiles add to or replace the embedded ones by id (the loader merges them), and a
//! scenario file replaces the embedded file of the same name or adds to them; with
//! [`SpecsMode::Replace`] the directory is the whole corpus. `--fixtures DIR` replaces the
//! fixtures. Nothing is picked up implicitly (a `specs/` folder in the working directory
//! shadows nothing). Files are named relative to the corpus (`specs/scenarios/push.yaml`),
//! never by the build machine's paths.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::runner::foreign::ForeignUrls;

mod identity;
pub use identity::{CorpusIdentity, OverlayIdentity};

static SPECS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/specs");
static FIXTURES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/fixtures");

/// What a spec file holds, from where it sits in the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SpecKind {
    /// `requirements/*.yaml` (or one `requirements.yaml`)
    Requirements,
    /// `profiles.yaml`
    Profiles,
    /// `aliases.yaml`: old ids of renamed requirements and scenarios
    Aliases,
    /// `scenarios/*.yaml`
    Scenarios,
    /// `uncited.yaml`: the spec's normative sentences no requirement cites, each with why
    /// (read by `trace`; an overlay's entries add to the corpus's)
    Uncited,
}

/// Where a spec file comes from: the corpus itself, or an overlay laid on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    /// The embedded files, or the directory given with [`SpecsMode::Replace`].
    Base,
    /// A file of `--specs DIR` laid on the embedded corpus.
    Overlay,
}

/// How `--specs DIR` combines with the embedded spec files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SpecsMode {
    /// Add to and replace the embedded requirements, profiles, aliases and scenario files.
    #[default]
    Overlay,
    /// Use the directory alone, as a complete corpus.
    Replace,
}

/// One spec file: its name as printed in positions, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusFile {
    pub kind: SpecKind,
    pub layer: Layer,
    /// Its path relative to the specs folder (`scenarios/push.yaml`): what an overlay file
    /// must be named to replace it.
    pub rel: String,
    /// `specs/scenarios/push.yaml` when embedded; the path under `--specs DIR` otherwise.
    pub display: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: not a directory")]
    NotADirectory { path: PathBuf },
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{display}: not UTF-8 text")]
    NotText { display: String },
    #[error("fixture {name}: not found in {fixtures}")]
    NoFixture { name: String, fixtures: String },
    #[error("fixture {name}: a fixture is named by a relative path inside the fixtures")]
    OutsideFixtures { name: String },
    #[error("fixture {name}: refused: it resolves outside the fixtures directory {fixtures}")]
    FixtureEscapes { name: String, fixtures: String },
    #[error("{path}: refused: it resolves outside the spec directory {dir} (a symbolic link)")]
    SpecEscapes { path: PathBuf, dir: PathBuf },
    #[error(
        "{path}: no spec files (requirements.yaml, profiles.yaml, aliases.yaml, uncited.yaml, scenarios/*.yaml)"
    )]
    EmptyOverlay { path: PathBuf },
}

/// Where the fixtures come from.
#[derive(Clone, Debug)]
enum FixtureSource {
    Embedded,
    Dir(PathBuf),
}

#[derive(Clone, Debug)]
pub struct Corpus {
    specs: Vec<CorpusFile>,
    /// Embedded scenario files an overlay file of the same name replaced (to say what the
    /// overlay changes).
    shadowed: Vec<CorpusFile>,
    /// The overlay directory, when there is one.
    overlay: Option<PathBuf>,
    fixtures: FixtureSource,
    /// Whether the spec files may send requests to hosts other than the registry.
    foreign_urls: ForeignUrls,
}

/// A spec file's kind from its path relative to the specs folder; `None` for files that
/// are no spec (READMEs, notes).
fn kind_of(rel: &Path) -> Option<SpecKind> {
    let yaml = rel.extension().is_some_and(|x| x == "yaml" || x == "yml");
    let parts: Vec<_> = rel.components().collect();
    match parts.as_slice() {
        [Component::Normal(f)] if *f == "requirements.yaml" => Some(SpecKind::Requirements),
        [Component::Normal(d), Component::Normal(_)] if *d == "requirements" && yaml => {
            Some(SpecKind::Requirements)
        }
        [Component::Normal(f)] if *f == "profiles.yaml" => Some(SpecKind::Profiles),
        [Component::Normal(f)] if *f == "aliases.yaml" => Some(SpecKind::Aliases),
        [Component::Normal(f)] if *f == "uncited.yaml" => Some(SpecKind::Uncited),
        [Component::Normal(d), Component::Normal(_)] if *d == "scenarios" && yaml => {
            Some(SpecKind::Scenarios)
        }
        _ => None,
    }
}

/// Requirements, then profiles, aliases, scenario files by name and the uncited sentences, the embedded file of a
/// kind before the overlay's: the order the loader reads them (a later one replaces) and
/// diagnostics appear in, the same on every machine.
fn sort(files: &mut [CorpusFile]) {
    files.sort_by(|a, b| (a.kind, a.layer, &a.display).cmp(&(b.kind, b.layer, &b.display)));
}

impl Corpus {
    /// The corpus built into the binary.
    pub fn embedded() -> Corpus {
        let mut specs = vec![];
        let mut todo = vec![&SPECS];
        while let Some(dir) = todo.pop() {
            for f in dir.files() {
                let Some(kind) = kind_of(f.path()) else {
                    continue;
                };
                let display = format!("specs/{}", slashed(f.path()));
                // the build embeds what is there; spec files are UTF-8 by the loader's rule
                let Some(text) = f.contents_utf8() else {
                    continue;
                };
                specs.push(CorpusFile {
                    kind,
                    layer: Layer::Base,
                    rel: slashed(f.path()),
                    display,
                    text: text.to_string(),
                });
            }
            todo.extend(dir.dirs());
        }
        sort(&mut specs);
        Corpus {
            specs,
            shadowed: vec![],
            overlay: None,
            fixtures: FixtureSource::Embedded,
            foreign_urls: ForeignUrls::Refused,
        }
    }

    /// The embedded corpus with the spec files of `specs` laid over it, and the fixtures
    /// replaced by `fixtures`: what `--specs DIR` and `--fixtures DIR` do.
    pub fn from_dirs(specs: Option<&Path>, fixtures: Option<&Path>) -> Result<Corpus, CorpusError> {
        Corpus::open(specs, SpecsMode::Overlay, fixtures)
    }

    /// The embedded corpus with the spec files of `specs` laid over it or replacing it
    /// (`mode`), and the fixtures replaced by `fixtures`.
    pub fn open(
        specs: Option<&Path>,
        mode: SpecsMode,
        fixtures: Option<&Path>,
    ) -> Result<Corpus, CorpusError> {
        let mut corpus = Corpus::embedded();
        match (specs, mode) {
            (None, _) => {}
            (Some(dir), SpecsMode::Replace) => corpus.specs = read_specs(dir, Layer::Base)?,
            (Some(dir), SpecsMode::Overlay) => {
                let over = read_specs(dir, Layer::Overlay)?;
                if over.is_empty() {
                    return Err(CorpusError::EmptyOverlay { path: dir.into() });
                }
                // a scenario file replaces the embedded one of the same name, whole: its
                // `steps:` library and its scenarios belong together
                let (shadowed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut corpus.specs)
                    .into_iter()
                    .partition(|f| {
                        f.kind == SpecKind::Scenarios
                            && over
                                .iter()
                                .any(|o| o.kind == SpecKind::Scenarios && o.rel == f.rel)
                    });
                corpus.specs = kept;
                corpus.specs.extend(over);
                sort(&mut corpus.specs);
                corpus.shadowed = shadowed;
                corpus.overlay = Some(dir.to_path_buf());
            }
        }
        if let Some(dir) = fixtures {
            if !dir.is_dir() {
                return Err(CorpusError::NotADirectory { path: dir.into() });
            }
            corpus.fixtures = FixtureSource::Dir(dir.to_path_buf());
        }
        Ok(corpus)
    }

    /// The corpus with requests to other hosts than the registry allowed or refused
    /// (`--allow-foreign-urls`); refused unless said.
    pub fn with_foreign_urls(mut self, policy: ForeignUrls) -> Corpus {
        self.foreign_urls = policy;
        self
    }

    pub fn foreign_urls(&self) -> ForeignUrls {
        self.foreign_urls
    }

    /// The spec files: requirements, profiles, aliases, scenarios sorted by name, then the
    /// uncited sentences; of
    /// each kind the embedded file before the overlay's.
    pub fn spec_files(&self) -> Vec<CorpusFile> {
        self.specs.clone()
    }

    /// The embedded scenario files the overlay's replaced.
    pub fn shadowed_files(&self) -> &[CorpusFile] {
        &self.shadowed
    }

    /// The overlay directory, if `--specs DIR` was laid over the embedded corpus.
    pub fn overlay_dir(&self) -> Option<&Path> {
        self.overlay.as_deref()
    }

    /// The text of a spec file by its display name (for showing a diagnostic's line).
    pub fn spec_text(&self, display: &str) -> Option<&str> {
        self.specs
            .iter()
            .find(|f| f.display == display)
            .map(|f| f.text.as_str())
    }

    /// The bytes of a fixture, by its path relative to the fixtures (`manifests/index.json`).
    pub fn fixture(&self, rel: &str) -> Result<Vec<u8>, CorpusError> {
        use crate::runner::fixtures::{FixtureError, confined, valid_name};
        if !valid_name(rel) {
            return Err(CorpusError::OutsideFixtures { name: rel.into() });
        }
        let missing = || CorpusError::NoFixture {
            name: rel.into(),
            fixtures: self.fixtures_display(),
        };
        match &self.fixtures {
            FixtureSource::Embedded => FIXTURES
                .get_file(rel)
                .map(|f| f.contents().to_vec())
                .ok_or_else(missing),
            FixtureSource::Dir(dir) => {
                let p = match confined(dir, rel) {
                    Ok(p) => p,
                    Err(FixtureError::NotFound) => return Err(missing()),
                    Err(FixtureError::NotRelative) => {
                        return Err(CorpusError::OutsideFixtures { name: rel.into() });
                    }
                    Err(FixtureError::Escapes { .. }) => {
                        return Err(CorpusError::FixtureEscapes {
                            name: rel.into(),
                            fixtures: self.fixtures_display(),
                        });
                    }
                    Err(FixtureError::Io(source)) => {
                        return Err(CorpusError::Read {
                            path: dir.join(rel),
                            source,
                        });
                    }
                };
                std::fs::read(&p).map_err(|source| CorpusError::Read { path: p, source })
            }
        }
    }

    /// Every fixture, by relative path with `/` separators, sorted.
    pub fn fixture_names(&self) -> Vec<String> {
        let mut out = vec![];
        match &self.fixtures {
            FixtureSource::Embedded => {
                let mut todo = vec![&FIXTURES];
                while let Some(dir) = todo.pop() {
                    out.extend(dir.files().map(|f| slashed(f.path())));
                    todo.extend(dir.dirs());
                }
            }
            FixtureSource::Dir(root) => {
                let mut todo = vec![root.clone()];
                while let Some(dir) = todo.pop() {
                    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                        let p = e.path();
                        // a linked directory is not walked (it may lead out, or in circles);
                        // a linked file is listed when it stays inside, as reads allow
                        if e.file_type().is_ok_and(|t| t.is_dir()) {
                            todo.push(p);
                        } else if let Ok(rel) = p.strip_prefix(root) {
                            let rel = slashed(rel);
                            if crate::runner::fixtures::confined(root, &rel).is_ok() {
                                out.push(rel);
                            }
                        }
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// The fixtures as the run reads them: the embedded files, held in memory, or the
    /// directory given.
    pub fn fixtures(&self) -> crate::runner::fixtures::Fixtures {
        use crate::runner::fixtures::Fixtures;
        match &self.fixtures {
            FixtureSource::Dir(d) => Fixtures::Dir(d.clone()),
            FixtureSource::Embedded => {
                let mut files = std::collections::BTreeMap::new();
                let mut todo = vec![&FIXTURES];
                while let Some(dir) = todo.pop() {
                    for f in dir.files() {
                        files.insert(slashed(f.path()), bytes::Bytes::from_static(f.contents()));
                    }
                    todo.extend(dir.dirs());
                }
                Fixtures::Files(std::sync::Arc::new(files))
            }
        }
    }

    fn fixtures_display(&self) -> String {
        match &self.fixtures {
            FixtureSource::Embedded => "the embedded fixtures".into(),
            FixtureSource::Dir(d) => d.display().to_string(),
        }
    }
}

impl fmt::Display for SpecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpecKind::Requirements => "requirements",
            SpecKind::Profiles => "profiles",
            SpecKind::Aliases => "aliases",
            SpecKind::Scenarios => "scenarios",
            SpecKind::Uncited => "uncited sentences",
        })
    }
}

fn slashed(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_specs(dir: &Path, layer: Layer) -> Result<Vec<CorpusFile>, CorpusError> {
    if !dir.is_dir() {
        return Err(CorpusError::NotADirectory { path: dir.into() });
    }
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CorpusError::Read { path, source }
    };
    let mut candidates = vec![
        dir.join("requirements.yaml"),
        dir.join("profiles.yaml"),
        dir.join("aliases.yaml"),
        dir.join("uncited.yaml"),
    ];
    for sub in ["requirements", "scenarios"] {
        let sub = dir.join(sub);
        if sub.is_dir() {
            for e in std::fs::read_dir(&sub).map_err(read_err(&sub))? {
                candidates.push(e.map_err(read_err(&sub))?.path());
            }
        }
    }
    // a spec file is read only from inside the directory: a link to a file elsewhere
    // would show that file's lines in the loader's diagnostics
    let root = dir.canonicalize().map_err(read_err(dir))?;
    let mut out = vec![];
    for p in candidates {
        let Some(rel) = p.strip_prefix(dir).ok() else {
            continue;
        };
        let Some(kind) = kind_of(rel) else {
            continue;
        };
        let rel = slashed(rel);
        if !p.is_file() {
            continue;
        }
        let real = p.canonicalize().map_err(read_err(&p))?;
        if !real.starts_with(&root) {
            return Err(CorpusError::SpecEscapes {
                path: p,
                dir: dir.to_path_buf(),
            });
        }
        let bytes = std::fs::read(&real).map_err(read_err(&p))?;
        let display = p.display().to_string();
        let text = String::from_utf8(bytes).map_err(|_| CorpusError::NotText {
            display: display.clone(),
        })?;
        out.push(CorpusFile {
            kind,
            layer,
            rel,
            display,
            text,
        });
    }
    sort(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests;
