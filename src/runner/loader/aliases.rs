//! `aliases.yaml`: old names of renamed requirements and scenarios. Requirement ids and
//! scenario names are what `--expect` files and result files are written in, so a rename
//! keeps the old name as an alias. Each entry is checked: the new name is live, the old one
//! is not (a name means one thing), and the new one is no alias itself (no chains, so no
//! cycles: an alias resolves in one step).

use std::collections::BTreeMap;

use super::diagnostics::{Diagnostic, FileText};
use super::parse::parse_yaml;
use crate::runner::model::AliasesFile;
use crate::runner::plan::Source;

/// The checked aliases: old name → live name.
#[derive(Clone, Debug, Default)]
pub struct Aliases {
    requirements: BTreeMap<String, String>,
    scenarios: BTreeMap<String, String>,
}

impl Aliases {
    /// The live id of a requirement named by `id`, old or current.
    pub fn requirement<'a>(&'a self, id: &'a str) -> &'a str {
        self.requirements.get(id).map_or(id, String::as_str)
    }

    /// The live name of a scenario named by `name`, old or current.
    pub fn scenario<'a>(&'a self, name: &'a str) -> &'a str {
        self.scenarios.get(name).map_or(name, String::as_str)
    }

    /// Old requirement id → live id.
    pub fn requirements(&self) -> &BTreeMap<String, String> {
        &self.requirements
    }

    /// Old scenario name → live name.
    pub fn scenarios(&self) -> &BTreeMap<String, String> {
        &self.scenarios
    }
}

/// What an alias renames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum AliasKind {
    Requirement,
    Scenario,
}

impl AliasKind {
    fn word(self) -> &'static str {
        match self {
            AliasKind::Requirement => "requirement",
            AliasKind::Scenario => "scenario",
        }
    }
}

/// An entry as declared, with its place.
pub(super) struct Declared {
    new: String,
    source: Source,
    /// Index of its file among those read.
    file: usize,
}

/// The entries of every aliases file, a later file's entry replacing an earlier one with the
/// same old name (an overlay over the embedded corpus); twice in one file is an error.
pub(super) fn read(
    files: &[FileText<'_>],
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<(AliasKind, String), Declared> {
    let mut out: BTreeMap<(AliasKind, String), Declared> = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        let Some(f) = parse_yaml::<AliasesFile>(file, diags) else {
            continue;
        };
        let entries = f
            .requirements
            .into_iter()
            .map(|a| (AliasKind::Requirement, a))
            .chain(f.scenarios.into_iter().map(|a| (AliasKind::Scenario, a)));
        for (kind, a) in entries {
            let source = file.source(&a);
            let key = (kind, a.value.old.clone());
            if out.get(&key).is_some_and(|d| d.file == i) {
                diags.push(file.at(
                    &source,
                    format!("{} alias {} is defined twice", kind.word(), a.value.old),
                    None,
                ));
            }
            out.insert(
                key,
                Declared {
                    new: a.value.new,
                    source,
                    file: i,
                },
            );
        }
    }
    out
}

/// Checks the entries against the live names and keeps those that hold.
pub(super) fn check(
    declared: &BTreeMap<(AliasKind, String), Declared>,
    files: &[FileText<'_>],
    live: impl Fn(AliasKind, &str) -> bool,
    diags: &mut Vec<Diagnostic>,
) -> Aliases {
    let mut out = Aliases::default();
    for ((kind, old), d) in declared {
        let kind = *kind;
        let file = &files[d.file];
        let word = kind.word();
        let alias_of = |name: &str| declared.get(&(kind, name.to_string())).map(|d| &d.new);
        if live(kind, old) {
            diags.push(file.at(
                &d.source,
                format!("alias {old}: {word} {old} exists; a live name cannot also be an old one"),
                Some(format!("remove the entry, or rename the {word}")),
            ));
        } else if alias_of(&d.new).is_some() {
            // follow the chain to say where it ends, or that it comes back
            let mut path = vec![old.as_str(), d.new.as_str()];
            let mut at = d.new.as_str();
            let mut cycle = false;
            while let Some(next) = alias_of(at) {
                if path.contains(&next.as_str()) {
                    path.push(next);
                    cycle = true;
                    break;
                }
                path.push(next);
                at = next;
            }
            let message = if cycle {
                format!("{word} aliases form a cycle: {}", path.join(" → "))
            } else {
                format!(
                    "alias {old} → {}: {} is itself an alias ({})",
                    d.new,
                    d.new,
                    path.join(" → ")
                )
            };
            let hint = (!cycle).then(|| format!("point {old} at {at} directly"));
            diags.push(file.at(&d.source, message, hint));
        } else if !live(kind, &d.new) {
            diags.push(file.at(
                &d.source,
                format!("alias {old} → {}: no {word} {}", d.new, d.new),
                Some(match kind {
                    AliasKind::Requirement => {
                        "the new name is a requirement id of specs/requirements/".into()
                    }
                    AliasKind::Scenario => {
                        "the new name is a scenario's <first workflow>::<id>".into()
                    }
                }),
            ));
        } else {
            let map = match kind {
                AliasKind::Requirement => &mut out.requirements,
                AliasKind::Scenario => &mut out.scenarios,
            };
            map.insert(old.clone(), d.new.clone());
        }
    }
    out
}
