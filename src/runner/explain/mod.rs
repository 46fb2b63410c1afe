//! `regverify explain ID`: everything about one requirement or one scenario, gathered from
//! the checked plan — the sentence it cites, the scenarios and checks that verify it (with
//! their `file:line:col`), the profiles that run them, the defects that prove it failable and
//! the variations that show it quiet. Defects and variations belong to the reference
//! registry, which the runner does not know: the caller passes them in as [`Proofs`].

mod text;

use std::collections::BTreeSet;

use serde::Serialize;

use super::loader::Specs;
use super::model::{Cite, Level, Party, Requirement};
use super::overlay::{Entry, How, OverlayChanges};
use super::plan::{Scenario, Step, StepKind, Test};

/// The reference's deliberate defects and allowed variations, as plain data.
#[derive(Clone, Debug, Default)]
pub struct Proofs {
    pub defects: Vec<DefectProof>,
    pub variations: Vec<VariationProof>,
    /// How many variations the test suite runs every profile against.
    pub variations_total: usize,
}

/// A defect of the reference and the requirements every run against it fails.
#[derive(Clone, Debug)]
pub struct DefectProof {
    pub name: String,
    pub summary: String,
    pub breaks: Vec<String>,
    /// Requirements it fails only when a race happens.
    pub at_times: Vec<String>,
    /// It shows only with authentication on.
    pub needs_auth: bool,
}

/// A behaviour the spec allows and the reference can show; no requirement may fail with it.
#[derive(Clone, Debug)]
pub struct VariationProof {
    pub name: String,
    /// The anchor of the section whose words allow it.
    pub section: String,
    pub summary: String,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Explanation {
    Requirement(RequirementView),
    Scenario(ScenarioView),
}

#[derive(Debug, Serialize)]
pub struct RequirementView {
    pub id: String,
    /// The old name asked for, when it was an alias.
    pub renamed_from: Option<String>,
    pub level: Level,
    pub keyword: &'static str,
    pub section: String,
    pub source: String,
    pub spec: String,
    pub derived_from: Option<String>,
    pub summary: String,
    /// The sentences it rests on, quoted from each document it is judged under.
    pub cites: Vec<Cite>,
    /// Whose duty it is.
    pub party: Party,
    pub endpoints: Vec<String>,
    pub codes: Vec<String>,
    pub untestable: Option<String>,
    /// Old names that resolve to it.
    pub aliases: Vec<String>,
    /// The overlay file that added or replaced it, if one did.
    pub overlay: Option<String>,
    /// Profiles whose runs verify it.
    pub profiles: Vec<String>,
    /// Every scenario verifying it runs only with credentials.
    pub needs_credentials: bool,
    pub scenarios: Vec<Verifier>,
    pub defects: Vec<DefectRef>,
    pub variations: Vec<VariationRef>,
    pub variations_total: usize,
}

/// A scenario verifying a requirement, with the checks of it that name the requirement.
#[derive(Debug, Serialize)]
pub struct Verifier {
    pub name: String,
    pub title: String,
    pub source: String,
    pub checks: Vec<CheckRef>,
}

#[derive(Debug, Serialize)]
pub struct CheckRef {
    pub requirement: String,
    pub step: String,
    /// What it looks at: `status`, `header Location`, `json tags`, `body`, …
    pub what: String,
    pub source: String,
}

#[derive(Debug, Serialize)]
pub struct DefectRef {
    pub name: String,
    pub summary: String,
    /// The requirements in question it breaks.
    pub breaks: Vec<String>,
    /// Only when a race happens.
    pub at_times: bool,
    pub needs_auth: bool,
}

#[derive(Debug, Serialize)]
pub struct VariationRef {
    pub name: String,
    pub section: String,
    pub summary: String,
}

#[derive(Debug, Serialize)]
pub struct ScenarioView {
    pub name: String,
    pub id: String,
    pub renamed_from: Option<String>,
    pub title: String,
    pub source: String,
    pub workflows: Vec<&'static str>,
    /// Profiles that run it (those it lists and those extending them).
    pub profiles: Vec<String>,
    pub needs_credentials: bool,
    pub aliases: Vec<String>,
    /// The overlay file that added or replaced it, if one did.
    pub overlay: Option<String>,
    pub requirements: Vec<RequirementRef>,
    pub defects: Vec<DefectRef>,
    pub variations: Vec<VariationRef>,
    pub variations_total: usize,
}

/// A requirement a scenario verifies, with the scenario's checks of it.
#[derive(Debug, Serialize)]
pub struct RequirementRef {
    pub id: String,
    pub level: Level,
    pub summary: String,
    pub spec: String,
    pub checks: Vec<CheckRef>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("no requirement or scenario is named {id}{}", did_you_mean(.suggestions))]
    Unknown {
        id: String,
        suggestions: Vec<String>,
    },
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        "; `regverify coverage` lists the requirements, `regverify run --list` the scenarios".into()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

/// Explains `id`: a requirement id, a scenario's name (`push::chunked`) or bare id
/// (`chunked`), or an old name of either. `overlay`: what the corpus's overlay changed, so
/// that entries it brought are not presented as proven.
pub fn explain(
    specs: &Specs,
    proofs: &Proofs,
    overlay: Option<&OverlayChanges>,
    id: &str,
) -> Result<Explanation, ExplainError> {
    let from_overlay = |entry: Entry, name: &str| {
        overlay.and_then(|o| {
            o.changes
                .iter()
                .find(|c| c.entry == entry && c.name == name && c.how != How::Removed)
                .map(|c| c.file.clone())
        })
    };
    let req_id = specs.aliases.requirement(id);
    if let Some(r) = specs.requirements.get(req_id) {
        let mut view = requirement(specs, proofs, r, (req_id != id).then(|| id.to_string()));
        view.overlay = from_overlay(Entry::Requirement, &r.id);
        return Ok(Explanation::Requirement(view));
    }
    let name = specs.aliases.scenario(id);
    let by_name = specs.scenarios.iter().find(|s| s.name() == name);
    let by_id = || {
        let mut it = specs.scenarios.iter().filter(|s| s.id == id);
        match (it.next(), it.next()) {
            (Some(s), None) => Some(s),
            _ => None,
        }
    };
    if let Some(s) = by_name.or_else(by_id) {
        let renamed = (name != id).then(|| id.to_string());
        let mut view = scenario(specs, proofs, s, renamed);
        view.overlay = from_overlay(Entry::Scenario, &view.name);
        return Ok(Explanation::Scenario(view));
    }
    Err(ExplainError::Unknown {
        id: id.to_string(),
        suggestions: suggestions(specs, id),
    })
}

fn requirement(
    specs: &Specs,
    proofs: &Proofs,
    r: &Requirement,
    renamed_from: Option<String>,
) -> RequirementView {
    let mut scenarios = vec![];
    let mut profiles = BTreeSet::new();
    for s in &specs.scenarios {
        let checks: Vec<CheckRef> = checks_of(s)
            .into_iter()
            .filter(|c| c.requirement == r.id)
            .collect();
        if checks.is_empty() && !s.requirements.contains(&r.id) {
            continue;
        }
        profiles.extend(profiles_running(specs, s));
        scenarios.push(Verifier {
            name: s.name(),
            title: s.title.clone(),
            source: s.source.to_string(),
            checks,
        });
    }
    let ids = BTreeSet::from([r.id.as_str()]);
    let needs_credentials = !scenarios.is_empty()
        && specs
            .scenarios
            .iter()
            .all(|s| s.needs_credentials || !scenarios.iter().any(|v| v.name == s.name()));
    RequirementView {
        id: r.id.clone(),
        renamed_from,
        level: r.level,
        keyword: r.keyword.as_str(),
        section: r.section.clone(),
        source: r.source.clone(),
        spec: r.spec_url(),
        derived_from: r.derived_from.clone(),
        summary: r.summary.trim().to_string(),
        cites: r.cites.clone(),
        party: r.party,
        endpoints: r.endpoints.clone(),
        codes: r.codes.clone(),
        untestable: r.untestable.clone(),
        aliases: old_names(specs.aliases.requirements(), &r.id),
        overlay: None,
        profiles: profiles.into_iter().collect(),
        needs_credentials,
        scenarios,
        defects: defects_breaking(proofs, &ids),
        variations: variations_of(proofs, &BTreeSet::from([r.section.as_str()])),
        variations_total: proofs.variations_total,
    }
}

fn scenario(
    specs: &Specs,
    proofs: &Proofs,
    s: &Scenario,
    renamed_from: Option<String>,
) -> ScenarioView {
    let checks = checks_of(s);
    let named = super::verdict::named_requirements(s);
    let requirements: Vec<RequirementRef> = named
        .iter()
        .filter_map(|id| specs.requirements.get(*id))
        .map(|r| RequirementRef {
            id: r.id.clone(),
            level: r.level,
            summary: r.summary.trim().to_string(),
            spec: r.spec_url(),
            checks: checks
                .iter()
                .filter(|c| c.requirement == r.id)
                .map(|c| CheckRef {
                    requirement: c.requirement.clone(),
                    step: c.step.clone(),
                    what: c.what.clone(),
                    source: c.source.clone(),
                })
                .collect(),
        })
        .collect();
    let sections: BTreeSet<&str> = named
        .iter()
        .filter_map(|id| specs.requirements.get(*id))
        .map(|r| r.section.as_str())
        .collect();
    ScenarioView {
        name: s.name(),
        id: s.id.clone(),
        renamed_from,
        title: s.title.clone(),
        source: s.source.to_string(),
        workflows: s.workflows.iter().map(|w| w.as_str()).collect(),
        profiles: profiles_running(specs, s).into_iter().collect(),
        needs_credentials: s.needs_credentials,
        aliases: old_names(specs.aliases.scenarios(), &s.name()),
        overlay: None,
        requirements,
        defects: defects_breaking(proofs, &named),
        variations: variations_of(proofs, &sections),
        variations_total: proofs.variations_total,
    }
}

/// Every judged check of a scenario, in file order (cleanup steps are not judged).
fn checks_of(s: &Scenario) -> Vec<CheckRef> {
    fn walk(steps: &[Step], out: &mut Vec<CheckRef>) {
        for st in steps {
            let exps = match &st.kind {
                StepKind::Request(r) => &r.expect[..],
                StepKind::Check(e) => &e[..],
                StepKind::Concurrently(subs) => {
                    walk(subs, out);
                    &[]
                }
                StepKind::Push(_) | StepKind::Skip(_) => &[],
            };
            for e in exps {
                for c in &e.checks {
                    out.push(CheckRef {
                        requirement: e.requirement.clone(),
                        step: st.name.clone(),
                        what: match &c.test {
                            Test::Is(q, _) => q.to_string(),
                            Test::Body(_) => "body".into(),
                            Test::ErrorCode(_) => "error code".into(),
                            Test::DigestMatchesBody => "digest header against the body".into(),
                        },
                        source: c.source.to_string(),
                    });
                }
            }
        }
    }
    let mut out = vec![];
    walk(&s.steps, &mut out);
    out
}

/// The profiles whose runs include the scenario.
fn profiles_running(specs: &Specs, s: &Scenario) -> BTreeSet<String> {
    specs
        .profiles
        .keys()
        .filter(|p| specs.in_profile(s, p))
        .cloned()
        .collect()
}

fn old_names(aliases: &std::collections::BTreeMap<String, String>, live: &str) -> Vec<String> {
    aliases
        .iter()
        .filter(|(_, new)| *new == live)
        .map(|(old, _)| old.clone())
        .collect()
}

fn defects_breaking(proofs: &Proofs, ids: &BTreeSet<&str>) -> Vec<DefectRef> {
    proofs
        .defects
        .iter()
        .filter_map(|d| {
            let hit = |list: &[String]| -> Vec<String> {
                list.iter()
                    .filter(|r| ids.contains(r.as_str()))
                    .cloned()
                    .collect()
            };
            let breaks = hit(&d.breaks);
            let at_times = hit(&d.at_times);
            let at_times_only = breaks.is_empty() && !at_times.is_empty();
            let breaks = if at_times_only { at_times } else { breaks };
            (!breaks.is_empty()).then(|| DefectRef {
                name: d.name.clone(),
                summary: d.summary.clone(),
                breaks,
                at_times: at_times_only,
                needs_auth: d.needs_auth,
            })
        })
        .collect()
}

fn variations_of(proofs: &Proofs, sections: &BTreeSet<&str>) -> Vec<VariationRef> {
    proofs
        .variations
        .iter()
        .filter(|v| sections.contains(v.section.as_str()))
        .map(|v| VariationRef {
            name: v.name.clone(),
            section: v.section.clone(),
            summary: v.summary.clone(),
        })
        .collect()
}

/// Names close to `id`: by edit distance, or holding it.
fn suggestions(specs: &Specs, id: &str) -> Vec<String> {
    let mut names: Vec<String> = specs.requirements.keys().cloned().collect();
    names.extend(specs.scenarios.iter().map(Scenario::name));
    names.extend(specs.aliases.requirements().keys().cloned());
    names.extend(specs.aliases.scenarios().keys().cloned());
    let wanted = id.to_ascii_lowercase();
    let mut scored: Vec<(f64, String)> = names
        .into_iter()
        .filter_map(|n| {
            let lower = n.to_ascii_lowercase();
            let mut score = strsim::normalized_damerau_levenshtein(&wanted, &lower);
            if wanted.len() >= 3 && lower.contains(&wanted) {
                score = score.max(0.75);
            }
            (score >= 0.6).then_some((score, n))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.into_iter().take(5).map(|(_, n)| n).collect()
}

impl Explanation {
    /// The explanation for a terminal.
    pub fn text(&self) -> String {
        match self {
            Explanation::Requirement(r) => text::requirement(r),
            Explanation::Scenario(s) => text::scenario(s),
        }
    }
}
