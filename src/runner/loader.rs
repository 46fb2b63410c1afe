//! Loads `specs/` (requirements, profiles, scenarios) and checks it before anything runs:
//! YAML errors and unknown fields, then references (requirement ids, profiles, content,
//! fixtures, variables, regexes). Every problem is a [`Diagnostic`] with file:line:col.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::content::{self, FIELDS};
use super::corpus::{Corpus, CorpusFile, SpecKind};
use super::model::*;
use super::template;

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub hint: Option<String>,
    /// The line the position points into, when the file is no file on disk (the corpus
    /// embedded in the binary).
    pub line_text: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        let line_text = self.line_text.clone().or_else(|| {
            std::fs::read_to_string(&self.file).ok().and_then(|s| {
                s.lines()
                    .nth(self.line.saturating_sub(1) as usize)
                    .map(String::from)
            })
        });
        if let Some(src) = line_text {
            write!(
                f,
                "\n    | {src}\n    | {}^",
                " ".repeat(self.column.saturating_sub(1) as usize)
            )?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n    = hint: {h}")?;
        }
        Ok(())
    }
}

/// Where a scenario or step came from, for messages.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

pub fn source<T>(file: &Path, s: &Spanned<T>) -> Source {
    Source {
        file: file.to_path_buf(),
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

/// A scenario with where it was written.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    pub scenario: Scenario,
    pub file: PathBuf,
    pub source: Source,
    /// Source of each step, parallel to `scenario.steps`.
    pub step_sources: Vec<Source>,
    pub cleanup_sources: Vec<Source>,
}

impl LoadedScenario {
    /// The stable test name: `<first workflow>::<id>`.
    pub fn name(&self) -> String {
        format!(
            "{}::{}",
            self.scenario.workflows[0].as_str(),
            self.scenario.id
        )
    }
}

#[derive(Debug, Default)]
pub struct Specs {
    pub requirements: BTreeMap<String, Requirement>,
    pub profiles: BTreeMap<String, Profile>,
    pub scenarios: Vec<LoadedScenario>,
    pub fixtures: PathBuf,
}

impl Specs {
    /// Profiles a scenario listed under `profile` runs in: `profile` and everything it
    /// extends, transitively.
    pub fn profile_closure(&self, profile: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![profile.to_string()];
        while let Some(p) = todo.pop() {
            if out.insert(p.clone())
                && let Some(pr) = self.profiles.get(&p)
            {
                todo.extend(pr.extends.iter().cloned());
            }
        }
        out
    }

    pub fn default_profile(&self) -> Option<&str> {
        self.profiles
            .values()
            .find(|p| p.default)
            .map(|p| p.id.as_str())
    }

    pub fn in_profile(&self, s: &Scenario, profile: &str) -> bool {
        let closure = self.profile_closure(profile);
        s.profiles.iter().any(|p| closure.contains(p))
    }
}

fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    match serde_saphyr::from_str::<T>(text) {
        Ok(v) => Some(v),
        Err(e) => {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            let msg = e.to_string();
            let mut first = msg.lines().next().unwrap_or("").trim().to_string();
            // the parser repeats the position inside its message; ours is in front already
            for prefix in ["error: ", &format!("line {line} column {column}: ")] {
                if let Some(rest) = first.strip_prefix(prefix) {
                    first = rest.to_string();
                }
            }
            let hint = if first.contains("unknown field") || first.contains("unknown variant") {
                Some("see the scenario format in README.md (field names are snake_case)".into())
            } else {
                None
            };
            diags.push(Diagnostic {
                file: file.into(),
                line,
                column,
                message: first,
                hint,
                line_text: None,
            });
            None
        }
    }
}

/// Loads and checks the spec files under `specs_dir`, fixtures under `fixtures_dir`.
pub fn load(specs_dir: &Path, fixtures_dir: &Path) -> Result<Specs, Vec<Diagnostic>> {
    let corpus = Corpus::from_dirs(Some(specs_dir), Some(fixtures_dir)).map_err(|e| {
        vec![Diagnostic {
            file: specs_dir.into(),
            line: 0,
            column: 0,
            message: e.to_string(),
            hint: None,
            line_text: None,
        }]
    })?;
    load_corpus(&corpus, fixtures_dir)
}

/// Loads and checks the corpus' spec files; fixtures are read from `fixtures_dir`.
/// `Err` holds every diagnostic found, each with the line it points into.
pub fn load_corpus(corpus: &Corpus, fixtures_dir: &Path) -> Result<Specs, Vec<Diagnostic>> {
    load_files(&corpus.spec_files(), fixtures_dir).map_err(|mut diags| {
        for d in &mut diags {
            d.line_text = corpus
                .spec_text(&d.file.to_string_lossy())
                .and_then(|t| t.lines().nth(d.line.saturating_sub(1) as usize))
                .map(String::from);
        }
        diags
    })
}

fn load_files(files: &[CorpusFile], fixtures_dir: &Path) -> Result<Specs, Vec<Diagnostic>> {
    let mut diags = vec![];
    let mut specs = Specs {
        fixtures: fixtures_dir.to_path_buf(),
        ..Specs::default()
    };
    let of_kind = |k: SpecKind| files.iter().filter(move |f| f.kind == k);
    let missing = |name: &str| Diagnostic {
        file: PathBuf::from(name),
        line: 0,
        column: 0,
        message: "missing from the spec files".into(),
        hint: None,
        line_text: None,
    };
    if of_kind(SpecKind::Requirements).next().is_none() {
        diags.push(missing("requirements.yaml"));
    }
    if of_kind(SpecKind::Profiles).next().is_none() {
        diags.push(missing("profiles.yaml"));
    }
    for file in of_kind(SpecKind::Requirements) {
        let req_file = PathBuf::from(&file.display);
        if let Some(f) = parse_yaml::<RequirementsFile>(&req_file, &file.text, &mut diags) {
            for r in f.requirements {
                let src = source(&req_file, &r);
                if specs.requirements.contains_key(&r.value.id) {
                    diags.push(at(
                        &src,
                        format!("requirement {} is defined twice", r.value.id),
                        None,
                    ));
                }
                specs.requirements.insert(r.value.id.clone(), r.value);
            }
        }
    }
    for file in of_kind(SpecKind::Profiles) {
        let prof_file = PathBuf::from(&file.display);
        if let Some(f) = parse_yaml::<ProfilesFile>(&prof_file, &file.text, &mut diags) {
            for p in f.profiles {
                specs.profiles.insert(p.value.id.clone(), p.value);
            }
            for p in specs.profiles.values() {
                for e in &p.extends {
                    if !specs.profiles.contains_key(e) {
                        diags.push(Diagnostic {
                            file: prof_file.clone(),
                            line: 1,
                            column: 1,
                            message: format!("profile {} extends unknown profile {e}", p.id),
                            hint: None,
                            line_text: None,
                        });
                    }
                }
            }
        }
    }
    if of_kind(SpecKind::Scenarios).next().is_none() {
        diags.push(Diagnostic {
            file: PathBuf::from("scenarios"),
            line: 0,
            column: 0,
            message: "no scenario files (*.yaml)".into(),
            hint: None,
            line_text: None,
        });
    }
    let mut ids = HashSet::new();
    for corpus_file in of_kind(SpecKind::Scenarios) {
        let file = PathBuf::from(&corpus_file.display);
        let Some(f) = parse_yaml::<ScenarioFile>(&file, &corpus_file.text, &mut diags) else {
            continue;
        };
        for s in f.scenarios {
            let loaded = LoadedScenario {
                source: source(&file, &s),
                step_sources: s.value.steps.iter().map(|st| source(&file, st)).collect(),
                cleanup_sources: s.value.cleanup.iter().map(|st| source(&file, st)).collect(),
                file: file.clone(),
                scenario: s.value,
            };
            if !ids.insert(loaded.scenario.id.clone()) {
                diags.push(at(
                    &loaded.source,
                    format!("scenario id {} is used twice", loaded.scenario.id),
                    Some(
                        "ids must be unique across all files: they are the stable test names"
                            .into(),
                    ),
                ));
            }
            check_scenario(&specs, &loaded, &mut diags);
            specs.scenarios.push(loaded);
        }
    }
    if diags.is_empty() {
        Ok(specs)
    } else {
        Err(diags)
    }
}

fn at(src: &Source, message: String, hint: Option<String>) -> Diagnostic {
    Diagnostic {
        file: src.file.clone(),
        line: src.line,
        column: src.column,
        message,
        hint,
        line_text: None,
    }
}

/// Names every scenario may use without defining them.
pub const BUILTINS: &[&str] = &[
    "repo",
    "repo2",
    "namespace",
    "registry",
    "seed",
    "other",
    "uuid",
];

fn check_scenario(specs: &Specs, ls: &LoadedScenario, diags: &mut Vec<Diagnostic>) {
    let s = &ls.scenario;
    let here = &ls.source;
    let id_ok = !s.id.is_empty()
        && s.id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.id.starts_with('-')
        && !s.id.ends_with('-')
        && !s.id.contains("--");
    if !id_ok {
        diags.push(at(
            here,
            format!(
                "scenario id {:?} must be lowercase words joined by single '-'",
                s.id
            ),
            Some("the id becomes part of a repository name".into()),
        ));
    }
    if let Some(r) = &s.repository {
        let probe = r.replace("{namespace}", "ns");
        if !crate::oci::name::valid_name(&probe) {
            diags.push(at(
                here,
                format!("repository {r:?} is not a valid name"),
                None,
            ));
        }
    }
    if s.workflows.is_empty() {
        diags.push(at(
            here,
            format!("scenario {} names no workflow", s.id),
            None,
        ));
    }
    if s.requirements.is_empty() {
        diags.push(at(
            here,
            format!("scenario {} verifies no requirement", s.id),
            Some("list the requirement ids from specs/requirements.yaml it checks".into()),
        ));
    }
    let known_req = |r: &str| specs.requirements.contains_key(r);
    for r in &s.requirements {
        if !known_req(r) {
            diags.push(at(here, format!("unknown requirement id {r}"), None));
        }
    }
    for p in &s.profiles {
        if !specs.profiles.contains_key(p) {
            diags.push(at(here, format!("unknown profile {p}"), None));
        }
    }
    // content: dependencies and fixtures
    for (name, spec) in &s.content {
        for d in content::dependencies(spec) {
            if !s.content.contains_key(d) {
                diags.push(at(
                    here,
                    format!("content {name} is built from unknown content {d}"),
                    None,
                ));
            }
        }
        if let ContentSpec::Fixture(f) = spec
            && !specs.fixtures.join(f).is_file()
        {
            diags.push(at(
                here,
                format!("fixture {f} not found under {}", specs.fixtures.display()),
                None,
            ));
        }
    }
    // variables, in step order
    let mut defined: HashSet<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
    for name in s.content.keys() {
        for f in FIELDS {
            defined.insert(format!("{name}.{f}"));
        }
    }
    let all_steps = s
        .steps
        .iter()
        .zip(&ls.step_sources)
        .chain(s.cleanup.iter().zip(&ls.cleanup_sources));
    for (st, src) in all_steps {
        check_step(specs, s, &st.value, src, &mut defined, diags);
        for sub in &st.value.concurrently {
            check_step(specs, s, sub, src, &mut defined, diags);
        }
    }
}

fn check_step(
    specs: &Specs,
    s: &Scenario,
    st: &Step,
    src: &Source,
    defined: &mut HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut err =
        |m: String, h: Option<String>| diags.push(at(src, format!("step {:?}: {m}", st.name), h));
    let kinds = st.request.is_some() as u8
        + !st.check.is_empty() as u8
        + st.push.is_some() as u8
        + st.skip.is_some() as u8
        + !st.concurrently.is_empty() as u8;
    if kinds != 1 {
        err(
            "a step has exactly one of request, check, push, skip, concurrently".into(),
            None,
        );
    }
    if let Some(p) = &st.push {
        let n = p.blob.is_some() as u8 + p.manifest.is_some() as u8;
        if n != 1 {
            err("push names exactly one of blob, manifest".into(), None);
        }
        for c in p.blob.iter().chain(p.manifest.iter()) {
            if !s.content.contains_key(c) {
                err(format!("unknown content {c}"), None);
            }
        }
        if p.blob.is_some() && p.reference.is_some() {
            err("push.reference is for manifests".into(), None);
        }
    }
    for r in st
        .verifies
        .iter()
        .chain(
            st.expect
                .iter()
                .flat_map(|e| e.as_slice().iter().filter_map(|x| x.req.as_ref())),
        )
        .chain(st.check.iter().filter_map(|c| c.req.as_ref()))
    {
        if !specs.requirements.contains_key(r) {
            err(format!("unknown requirement id {r}"), None);
        }
    }
    if st.repeat.is_some() {
        defined.insert("i".into());
    }
    if let Some(w) = &st.when
        && !defined.contains(&w.var)
    {
        err(format!("condition on undefined variable {}", w.var), None);
    }
    let mut strings: Vec<&str> = vec![];
    if let Some(p) = &st.push {
        strings.extend(p.reference.as_deref());
        strings.extend(p.repo.as_deref());
    }
    let content_ref = |c: &str, err: &mut dyn FnMut(String, Option<String>)| {
        if !s.content.contains_key(c) {
            err(
                format!("unknown content {c}"),
                Some("declare it under the scenario's content:".into()),
            );
        }
    };
    if let Some(r) = &st.request {
        strings.push(&r.url);
        for v in r.query.values() {
            strings.extend(v.as_slice().iter().map(String::as_str));
        }
        strings.extend(r.headers.values().map(String::as_str));
        match &r.body {
            Some(Body::Content(c)) => content_ref(c, &mut err),
            Some(Body::Slice(sl)) => content_ref(&sl.content, &mut err),
            Some(Body::Text(t)) => strings.push(t),
            Some(Body::Json(v)) => template::json_strings(v, &mut strings),
            Some(Body::Fixture(f)) if !specs.fixtures.join(f).is_file() => {
                err(format!("fixture {f} not found"), None);
            }
            Some(Body::Fixture(_)) | None => {}
        }
        if let Some(c) = &r.chunks {
            defined.insert("chunk.start".into());
            defined.insert("chunk.end".into());
            content_ref(&c.content, &mut err);
            if c.count == 0 {
                err("chunks.count must be at least 1".into(), None);
            }
            if !defined.contains(&c.location) {
                err(
                    format!("chunks.location {} is not a defined variable", c.location),
                    None,
                );
            }
            if r.body.is_some() {
                err("chunks and body exclude each other".into(), None);
            }
        }
    }
    for e in st.expect.iter().flat_map(|e| e.as_slice()) {
        for (h, c) in &e.headers {
            match c {
                HeaderCheck::Word(w) if w != "present" && w != "absent" => err(
                    format!("header {h}: expected present, absent or a rule, got {w:?}"),
                    None,
                ),
                HeaderCheck::Rule(r) => {
                    strings.extend(r.equals.as_deref());
                    strings.extend(r.one_of.iter().flatten().map(String::as_str));
                    if let Some(m) = &r.matches
                        && let Err(x) = regex_lite::Regex::new(m)
                    {
                        err(format!("header {h}: bad regex: {x}"), None);
                    }
                }
                _ => {}
            }
        }
        match &e.body {
            Some(BodyCheck::Content(c)) => content_ref(c, &mut err),
            Some(BodyCheck::OneOf(cs)) => cs.iter().for_each(|c| content_ref(c, &mut err)),
            Some(BodyCheck::Slice(sl)) => content_ref(&sl.content, &mut err),
            Some(BodyCheck::Digest(d)) => strings.push(d),
            _ => {}
        }
        for j in &e.json {
            strings.push(&j.path);
            if let Some(v) = &j.equals {
                template::json_strings(v, &mut strings);
            }
            if let Some(v) = &j.contains {
                template::json_strings(v, &mut strings);
            }
        }
        for code in e.error_code.iter().flat_map(|c| c.as_slice()) {
            if crate::oci::ErrorCode::parse(code).is_none() {
                err(format!("unknown error code {code}"), None);
            }
        }
    }
    for c in &st.check {
        for v in [&c.equals, &c.not_equals, &c.contains]
            .into_iter()
            .flatten()
        {
            template::json_strings(v, &mut strings);
        }
    }
    for sk in st.skip_if.iter().flat_map(|s| s.as_slice()) {
        for code in &sk.code {
            if crate::oci::ErrorCode::parse(code).is_none() {
                err(format!("unknown error code {code}"), None);
            }
        }
    }
    for t in strings {
        for p in template::placeholders(t) {
            if !defined.contains(p) {
                err(
                    format!("unknown variable {{{p}}}"),
                    Some("variables are builtins (repo, repo2, namespace, registry, seed, other, uuid), content fields (<name>.digest|size|hex|sha512|media_type), and captures of earlier steps".into()),
                );
            }
        }
    }
    for c in &st.check {
        if !defined.contains(&c.var) {
            err(format!("check on undefined variable {}", c.var), None);
        }
    }
    for (name, c) in &st.capture {
        let sources = c.header.is_some() as u8
            + c.json.is_some() as u8
            + c.status as u8
            + c.challenge.is_some() as u8;
        if sources != 1 {
            err(
                format!("capture {name} needs exactly one of header, json, status, challenge"),
                None,
            );
        }
        defined.insert(name.clone());
    }
    if let Some(p) = st.request.as_ref().and_then(|r| r.paginate.as_ref()) {
        defined.insert(p.into.clone());
    }
}
