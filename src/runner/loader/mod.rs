//! Loads the spec files (requirements, profiles, scenarios) and checks them before anything
//! runs: YAML errors and unknown fields ([`parse`]), then references — requirement ids,
//! endpoints and error codes against the tables of `oci`, profiles, content, fixtures,
//! variables — while the scenarios become the checked [`plan`](crate::runner::plan)
//! ([`check`]). Every problem is a [`Diagnostic`] with `file:line:col`.
//!
//! The inputs are `(display path, text)` pairs and a fixture lookup, so the files may come
//! from a directory or from a corpus embedded in the binary.

mod aliases;
mod blame;
mod bounds;
mod catalogue;
mod check;
mod diagnostics;
mod parse;
mod places;
mod references;
mod request;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

pub use aliases::Aliases;
pub use diagnostics::Diagnostic;
use diagnostics::FileText;
pub use places::{requirement_places, uncited};

use super::corpus::{Corpus, Layer, SpecKind, SpecsMode};
use super::fixtures::Fixtures;
use super::foreign::ForeignUrls;
use super::model::{Profile, ProfilesFile, Requirement, RequirementsFile};
use super::plan::{self, Scenario};
use super::raw::ScenarioFile;

#[derive(Debug)]
pub struct Specs {
    pub requirements: BTreeMap<String, Requirement>,
    pub profiles: BTreeMap<String, Profile>,
    pub scenarios: Vec<Scenario>,
    pub fixtures: Fixtures,
    /// Old names of renamed requirements and scenarios.
    pub aliases: Aliases,
    /// Whether the scenarios may send requests to other hosts than the registry: checked
    /// when they load, and again by the runner on the URLs they build.
    pub foreign_urls: ForeignUrls,
    /// Which corpus this is (its digest), when it was read from one: what reports name.
    pub corpus: Option<crate::runner::corpus::CorpusIdentity>,
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

    /// The error codes `profile` allows (the OCI table when it names none, or is unknown).
    pub fn code_table(&self, profile: &str) -> crate::oci::errors::CodeTable {
        self.profiles
            .get(profile)
            .map(|p| p.error_codes)
            .unwrap_or_default()
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

/// Loads `specs_dir` as a complete corpus (requirements/*.yaml, profiles.yaml, aliases.yaml,
/// scenarios/*.yaml) with fixtures under `fixtures_dir`; `Err` holds every diagnostic found.
pub fn load(specs_dir: &Path, fixtures_dir: &Path) -> Result<Specs, Vec<Diagnostic>> {
    let corpus =
        Corpus::open(Some(specs_dir), SpecsMode::Replace, Some(fixtures_dir)).map_err(|e| {
            vec![whole_file(
                specs_dir.display().to_string(),
                format!("cannot read: {e}"),
            )]
        })?;
    load_corpus(&corpus)
}

/// Loads a corpus: the embedded one, one with an overlay laid over it, or one replaced by
/// directories (`--specs`, `--fixtures`).
pub fn load_corpus(corpus: &Corpus) -> Result<Specs, Vec<Diagnostic>> {
    let files = corpus.spec_files();
    let texts = |kind: SpecKind| -> Vec<(String, String)> {
        files
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| (f.display.clone(), f.text.clone()))
            .collect()
    };
    // the base corpus has each of these once; an overlay may add one more, merged by id
    let base = |kind: SpecKind, name: &str| -> Option<Diagnostic> {
        let mut of_kind = files
            .iter()
            .filter(|f| f.kind == kind && f.layer == Layer::Base);
        match (of_kind.next(), of_kind.next()) {
            (Some(_), None) => None,
            (None, _) => Some(whole_file(format!("specs/{name}"), "missing".into())),
            (Some(_), Some(f)) => Some(whole_file(f.display.clone(), "found twice".into())),
        }
    };
    // requirements may be split over several files of `requirements/` (one per part of
    // the spec); there must be at least one
    let no_requirements = (!files
        .iter()
        .any(|f| f.kind == SpecKind::Requirements && f.layer == Layer::Base))
    .then(|| whole_file("specs/requirements/".into(), "missing".into()));
    let missing: Vec<Diagnostic> = [no_requirements, base(SpecKind::Profiles, "profiles.yaml")]
        .into_iter()
        .flatten()
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let scenarios = texts(SpecKind::Scenarios);
    if scenarios.is_empty() {
        return Err(vec![whole_file(
            "specs/scenarios".into(),
            "no scenario files (*.yaml)".into(),
        )]);
    }
    // `uncited.yaml` is `trace`'s; its form is checked with the rest of the spec files
    let uncited_problems = uncited(corpus).err().unwrap_or_default();
    let loaded = load_layers(
        &Texts {
            requirements: &texts(SpecKind::Requirements),
            base_requirements: files
                .iter()
                .filter(|f| f.kind == SpecKind::Requirements && f.layer == Layer::Base)
                .count(),
            profiles: &texts(SpecKind::Profiles),
            aliases: &texts(SpecKind::Aliases),
            scenarios: &scenarios,
            foreign_urls: corpus.foreign_urls(),
        },
        corpus.fixtures(),
    );
    match loaded {
        Ok(specs) if uncited_problems.is_empty() => Ok(specs),
        Ok(_) => Err(uncited_problems),
        Err(mut diags) => {
            diags.extend(uncited_problems);
            Err(diags)
        }
    }
}

/// A problem with a whole file (missing, unreadable), not at a place in it.
fn whole_file(file: String, message: String) -> Diagnostic {
    Diagnostic {
        file,
        line: 0,
        column: 0,
        message,
        hint: None,
        excerpt: None,
    }
}

/// Loads from texts: the requirements file, the profiles file and the scenario files as
/// `(display path, text)`, with the fixtures they send.
pub fn load_files(
    requirements: (&str, &str),
    profiles: (&str, &str),
    scenarios: &[(String, String)],
    fixtures: Fixtures,
) -> Result<Specs, Vec<Diagnostic>> {
    let one = |(name, text): (&str, &str)| vec![(name.to_string(), text.to_string())];
    load_layers(
        &Texts {
            requirements: &one(requirements),
            base_requirements: 1,
            profiles: &one(profiles),
            aliases: &[],
            scenarios,
            foreign_urls: ForeignUrls::Refused,
        },
        fixtures,
    )
}

/// The spec files' texts as `(display path, text)`. Of requirements, profiles and aliases
/// there may be several files (the corpus's, then an overlay's): an entry of a later file
/// replaces the one with the same id of an earlier file.
pub(crate) struct Texts<'a> {
    pub requirements: &'a [(String, String)],
    /// How many of `requirements` are the corpus's own files (the rest is an overlay's):
    /// an id may appear once among them, while an overlay's entry replaces one.
    pub base_requirements: usize,
    pub profiles: &'a [(String, String)],
    pub aliases: &'a [(String, String)],
    pub scenarios: &'a [(String, String)],
    pub foreign_urls: ForeignUrls,
}

fn file_texts(files: &[(String, String)]) -> Vec<FileText<'_>> {
    files
        .iter()
        .map(|(name, text)| FileText { name, text })
        .collect()
}

pub(crate) fn load_layers(texts: &Texts<'_>, fixtures: Fixtures) -> Result<Specs, Vec<Diagnostic>> {
    let mut diags = vec![];
    let mut specs = Specs {
        requirements: BTreeMap::new(),
        profiles: BTreeMap::new(),
        scenarios: vec![],
        fixtures,
        aliases: Aliases::default(),
        foreign_urls: texts.foreign_urls,
        corpus: None,
    };
    let fixture = |f: &str| specs.fixtures.check(f);
    let mut presences = BTreeMap::new();
    let mut in_base = HashSet::new();
    for (i, req_file) in file_texts(texts.requirements).into_iter().enumerate() {
        let Some(f) = parse::parse_yaml::<RequirementsFile>(&req_file, &mut diags) else {
            continue;
        };
        let mut in_overlay_file = HashSet::new();
        let here = if i < texts.base_requirements {
            &mut in_base
        } else {
            &mut in_overlay_file
        };
        for r in f.requirements {
            let src = req_file.source(&r);
            if !here.insert(r.value.id.clone()) {
                diags.push(req_file.at(
                    &src,
                    format!("requirement {} is defined twice", r.value.id),
                    None,
                ));
            }
            catalogue::requirement_tables(&req_file, &src, &r.value, &mut presences, &mut diags);
            specs.requirements.insert(r.value.id.clone(), r.value);
        }
    }
    let prof_files = file_texts(texts.profiles);
    // where each profile was defined last: (file, place)
    let mut places: BTreeMap<String, (usize, plan::Source)> = BTreeMap::new();
    for (i, prof_file) in prof_files.iter().enumerate() {
        let Some(f) = parse::parse_yaml::<ProfilesFile>(prof_file, &mut diags) else {
            continue;
        };
        let mut here = HashSet::new();
        for p in f.profiles {
            let src = prof_file.source(&p);
            if !here.insert(p.value.id.clone()) {
                diags.push(prof_file.at(
                    &src,
                    format!("profile {} is defined twice", p.value.id),
                    None,
                ));
            }
            places.insert(p.value.id.clone(), (i, src));
            specs.profiles.insert(p.value.id.clone(), p.value);
        }
    }
    for p in specs.profiles.values() {
        for e in &p.extends {
            if !specs.profiles.contains_key(e) {
                let (i, src) = &places[&p.id];
                diags.push(prof_files[*i].at(
                    src,
                    format!("profile {} extends unknown profile {e}", p.id),
                    None,
                ));
            }
        }
    }
    let alias_files = file_texts(texts.aliases);
    let declared = aliases::read(&alias_files, &mut diags);
    let scenarios = texts.scenarios;
    let mut ids = HashSet::new();
    for (name, text) in scenarios {
        let file = FileText { name, text };
        let Some(f) = parse::parse_yaml::<ScenarioFile>(&file, &mut diags) else {
            continue;
        };
        let mut checker = check::Checker {
            specs: &specs,
            file: &file,
            library: &f.steps,
            fixture: &fixture,
            foreign_urls: specs.foreign_urls,
            diags: &mut diags,
        };
        let mut planned = vec![];
        for s in &f.scenarios {
            let Some(p) = checker.scenario(s) else {
                continue;
            };
            if !ids.insert(p.id.clone()) {
                checker.diags.push(
                    file.at(
                        &p.source,
                        format!("scenario id {} is used twice", p.id),
                        Some(
                            "ids must be unique across all files: they are the stable test names"
                                .into(),
                        ),
                    ),
                );
            }
            planned.push(p);
        }
        specs.scenarios.extend(planned);
    }
    let names: HashSet<String> = specs.scenarios.iter().map(Scenario::name).collect();
    specs.aliases = aliases::check(
        &declared,
        &alias_files,
        |kind, name| match kind {
            aliases::AliasKind::Requirement => specs.requirements.contains_key(name),
            aliases::AliasKind::Scenario => names.contains(name),
        },
        &mut diags,
    );
    if diags.is_empty() {
        Ok(specs)
    } else {
        Err(diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILES: &str = "profiles:\n  - {id: oci-1.0, title: t}\n";
    const SCENARIO: &str = "scenarios:\n  - id: s\n    title: t\n    requirements: [a.b]\n    workflows: [pull]\n    steps:\n      - name: s\n        request: {method: GET, url: /v2/}\n        expect: {req: a.b, status: 200}\n";
    // (a requirement naming endpoints must list the one its checks are on: end-1 here)

    fn load(requirements: &str, profiles: &str) -> Result<Specs, Vec<Diagnostic>> {
        load_files(
            ("specs/requirements.yaml", requirements),
            ("specs/profiles.yaml", profiles),
            &[("specs/scenarios/s.yaml".into(), SCENARIO.into())],
            Fixtures::Files(Default::default()),
        )
    }

    fn requirement(extra: &str) -> String {
        format!(
            "requirements:\n  - {{id: a.b, level: MUST, category: pull, keyword: MUST, section: s, summary: x{extra}}}\n"
        )
    }

    #[test]
    fn pieces_name_where_each_piece_starts_and_ends() {
        let scenario = |content: &str, range: &str| {
            format!(
                "scenarios:\n  - id: s\n    title: t\n    requirements: [a.b]\n    workflows: [pull]\n    content:\n      layer: {content}\n    steps:\n      - name: s\n        request: {{method: GET, url: /v2/, headers: {{Content-Range: \"{range}\"}}, body: {{slice: {{content: layer, start: \"{{layer.at.1}}\"}}}}}}\n        expect: {{req: a.b, status: 200}}\n"
            )
        };
        let with = |content: &str, range: &str| {
            load_files(
                ("specs/requirements.yaml", &requirement("")),
                ("specs/profiles.yaml", PROFILES),
                &[("specs/scenarios/s.yaml".into(), scenario(content, range))],
                Fixtures::Files(Default::default()),
            )
        };
        let pieces = "{pieces: {count: 2, size: 10, min: \"{seed}\"}}";
        assert!(with(pieces, "{layer.at.1}-{layer.end.2}").is_ok());
        // past the last piece, and on content that is not cut into pieces, nothing is named
        let past = with(pieces, "0-{layer.end.3}").unwrap_err();
        assert!(
            past[0]
                .to_string()
                .contains("unknown variable {layer.end.3}"),
            "{past:?}"
        );
        let random = with("{random: 20}", "0-{layer.end.1}").unwrap_err();
        assert!(
            random
                .iter()
                .any(|d| d.to_string().contains("unknown variable {layer.at.1}")),
            "{random:?}"
        );
    }

    #[test]
    fn texts_load_into_a_plan() {
        let specs = load(&requirement(""), PROFILES).unwrap();
        assert_eq!(specs.scenarios.len(), 1);
        assert_eq!(
            specs.scenarios[0].source.to_string(),
            "specs/scenarios/s.yaml:2:5"
        );
    }

    #[test]
    fn an_expectation_names_a_requirement_of_its_own_endpoint() {
        // a.b is about the upload POST (end-4a); the PATCH to the session its Location
        // names (end-5) and the GET of /v2/ (end-1) are other endpoints' requests
        let scenario = "scenarios:\n  - id: s\n    title: t\n    requirements: [a.b]\n    workflows: [push]\n    steps:\n      - name: open\n        request: {method: POST, url: \"/v2/{repo}/blobs/uploads/\"}\n        expect: {req: a.b, status: 202}\n        capture: {up: {header: Location}}\n      - name: chunk\n        request: {method: PATCH, url: \"{up}\"}\n        expect: {req: a.b, status: 202}\n      - name: base\n        request: {method: GET, url: /v2/}\n        expect: {req: a.b, status: 200}\n";
        let d = load_files(
            (
                "specs/requirements.yaml",
                &requirement(", endpoints: [end-4a]"),
            ),
            ("specs/profiles.yaml", PROFILES),
            &[("specs/scenarios/s.yaml".into(), scenario.into())],
            Fixtures::Files(Default::default()),
        )
        .unwrap_err();
        let text: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(
            text[0].starts_with("specs/scenarios/s.yaml:13:")
                && text[0].contains("a.b is about end-4a, not PATCH {up} (end-5"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("specs/scenarios/s.yaml:16:")
                && text[1].contains("not GET /v2/ (end-1"),
            "{text:?}"
        );
        // a requirement without endpoints is judged on every answer: named anywhere
        assert!(
            load_files(
                ("specs/requirements.yaml", &requirement("")),
                ("specs/profiles.yaml", PROFILES),
                &[("specs/scenarios/s.yaml".into(), scenario.into())],
                Fixtures::Files(Default::default()),
            )
            .is_ok()
        );
    }

    #[test]
    fn endpoints_and_codes_come_from_the_oci_tables() {
        assert!(
            load(
                &requirement(
                    ", endpoints: [end-1, end-2, end-4b, end-11, end-12b], codes: [code-1, code-14]"
                ),
                PROFILES
            )
            .is_ok()
        );
        let d = load(
            &requirement(", endpoints: [end-99], codes: [code-15]"),
            PROFILES,
        )
        .unwrap_err();
        let text: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert!(
            text[0].starts_with(
                "specs/requirements.yaml:2:5: error: requirement a.b: unknown endpoint end-99"
            ),
            "{text:?}"
        );
        assert!(text[1].contains("unknown error code code-15"), "{text:?}");
    }

    #[test]
    fn needs_names_earlier_steps_and_adds_those_whose_captures_are_used() {
        let scenario = "scenarios:\n  - id: s\n    title: t\n    requirements: [a.b]\n    workflows: [pull]\n    steps:\n      - name: one\n        request: {method: POST, url: /v2/}\n        expect: {req: a.b, status: 202}\n        capture: {loc: {header: Location}}\n      - name: two\n        request: {method: GET, url: /v2/}\n        expect: {req: a.b, status: 200}\n      - name: three\n        needs: []\n        request: {method: GET, url: \"{loc}\"}\n        expect: {req: a.b, status: 200}\n      - name: four\n        needs: [two, five]\n        request: {method: GET, url: /v2/}\n        expect: {req: a.b, status: 200}\n";
        let files = |text: &str| {
            load_files(
                ("specs/requirements.yaml", &requirement("")),
                ("specs/profiles.yaml", PROFILES),
                &[("specs/scenarios/s.yaml".into(), text.into())],
                Fixtures::Files(Default::default()),
            )
        };
        let d = files(scenario).unwrap_err();
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].to_string().starts_with(
                "specs/scenarios/s.yaml:19:22: error: needs \"five\": no earlier step"
            ),
            "{}",
            d[0]
        );
        let specs = files(&scenario.replace("[two, five]", "[two]")).unwrap();
        let needs: Vec<&crate::runner::plan::Needs> =
            specs.scenarios[0].steps.iter().map(|s| &s.needs).collect();
        use crate::runner::plan::Needs;
        // without needs: the earlier writes (the POST); with it, what it names and the
        // steps whose captures it uses
        assert_eq!(
            needs,
            [
                &Needs(vec![]),
                &Needs(vec![0]),
                &Needs(vec![0]),
                &Needs(vec![1])
            ]
        );
    }

    #[test]
    fn a_capture_replacement_and_an_index_without_platform_are_checked() {
        let scenario = "scenarios:\n  - id: s\n    title: t\n    requirements: [a.b]\n    workflows: [pull]\n    content:\n      c: {json: {}}\n      i: {image: {config: c}}\n      x: {index: {manifests: [i], without_platform: [c]}}\n    steps:\n      - name: one\n        request: {method: POST, url: /v2/}\n        expect: {req: a.b, status: 202}\n        capture: {loc: {header: Location, replace: {from: \"/{repo}/\", to: \"/{nowhere}/\"}}}\n      - name: two\n        request: {method: GET, url: /v2/}\n        expect: {req: a.b, status: 200}\n        capture: {s: {status: true, replace: {from: a, to: b}}}\n";
        let d = load_files(
            ("specs/requirements.yaml", &requirement("")),
            ("specs/profiles.yaml", PROFILES),
            &[("specs/scenarios/s.yaml".into(), scenario.into())],
            Fixtures::Files(Default::default()),
        )
        .unwrap_err();
        let text: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text.iter().any(
                |t| t.contains("content x: without_platform names c, not one of its manifests")
            ),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("unknown variable {nowhere}")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("resolve and replace are for header captures")),
            "{text:?}"
        );
    }

    #[test]
    fn a_profile_defined_twice_is_refused() {
        let d = load(
            &requirement(""),
            "profiles:\n  - {id: oci-1.0, title: t}\n  - {id: oci-1.0, title: u}\n",
        )
        .unwrap_err();
        assert_eq!(d.len(), 1);
        assert!(
            d[0].to_string()
                .starts_with("specs/profiles.yaml:3:5: error: profile oci-1.0 is defined twice"),
            "{}",
            d[0]
        );
    }
}
