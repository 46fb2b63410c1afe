//! What an overlay (`--specs DIR` laid over the embedded corpus) changes: the requirements,
//! profiles, aliases and scenarios it adds, replaces with something different, or removes
//! (a scenario left out of a scenario file that replaces the embedded one), and how many it
//! restates unchanged. `regverify run --check --specs DIR` prints it, so an author sees that
//! a proposal does what it means to before running it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::corpus::{Corpus, CorpusFile, Layer, SpecKind};
use super::model::Workflow;

/// What kind of entry changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Entry {
    Requirement,
    Profile,
    Alias,
    Scenario,
}

/// How it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    Added,
    Replaced,
    Removed,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub how: How,
    pub entry: Entry,
    /// The id, the scenario's name, or for an alias its old name.
    pub name: String,
    /// The overlay file that does it.
    pub file: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct OverlayChanges {
    pub dir: PathBuf,
    pub changes: Vec<Change>,
    /// Entries the overlay restates exactly as the embedded corpus has them.
    pub unchanged: BTreeMap<Entry, usize>,
}

/// The changes of the corpus's overlay; `None` without one. Call it on a corpus that loads
/// (the loader reports malformed files; a file that does not parse here counts as empty).
pub fn changes(corpus: &Corpus) -> Option<OverlayChanges> {
    let dir = corpus.overlay_dir()?.to_path_buf();
    let files = corpus.spec_files();
    let mut out = OverlayChanges {
        dir,
        changes: vec![],
        unchanged: BTreeMap::new(),
    };
    let layer = |kind: SpecKind, layer: Layer| {
        files
            .iter()
            .filter(move |f| f.kind == kind && f.layer == layer)
    };
    for (kind, entry) in [
        (SpecKind::Requirements, Entry::Requirement),
        (SpecKind::Profiles, Entry::Profile),
        (SpecKind::Aliases, Entry::Alias),
    ] {
        let base: BTreeMap<String, Value> = layer(kind, Layer::Base).flat_map(entries).collect();
        for f in layer(kind, Layer::Overlay) {
            for (name, value) in entries(f) {
                out.note(entry, &name, base.get(&name), &value, f, false);
            }
        }
    }
    // a scenario file replaces the embedded file of its name whole
    for f in layer(SpecKind::Scenarios, Layer::Overlay) {
        let before: BTreeMap<String, Value> = corpus
            .shadowed_files()
            .iter()
            .filter(|s| s.rel == f.rel)
            .flat_map(entries)
            .collect();
        let library_changed = corpus
            .shadowed_files()
            .iter()
            .find(|s| s.rel == f.rel)
            .is_some_and(|s| library(s) != library(f));
        let after: BTreeMap<String, Value> = entries(f).into_iter().collect();
        for (name, value) in &after {
            out.note(
                Entry::Scenario,
                name,
                before.get(name),
                value,
                f,
                library_changed,
            );
        }
        for name in before.keys().filter(|n| !after.contains_key(*n)) {
            out.changes.push(Change {
                how: How::Removed,
                entry: Entry::Scenario,
                name: name.clone(),
                file: f.display.clone(),
            });
        }
    }
    out.changes
        .sort_by(|a, b| (a.entry, a.how, &a.name).cmp(&(b.entry, b.how, &b.name)));
    Some(out)
}

impl OverlayChanges {
    fn note(
        &mut self,
        entry: Entry,
        name: &str,
        before: Option<&Value>,
        after: &Value,
        file: &CorpusFile,
        changed_anyway: bool,
    ) {
        let how = match before {
            None => How::Added,
            Some(b) if b == after && !changed_anyway => {
                *self.unchanged.entry(entry).or_default() += 1;
                return;
            }
            Some(_) => How::Replaced,
        };
        self.changes.push(Change {
            how,
            entry,
            name: name.to_string(),
            file: file.display.clone(),
        });
    }
}

/// The entries of a spec file by name, each as its parsed value (to compare them).
fn entries(f: &CorpusFile) -> Vec<(String, Value)> {
    #[derive(Deserialize, Default)]
    struct Lists {
        #[serde(default)]
        requirements: Vec<Value>,
        #[serde(default)]
        profiles: Vec<Value>,
        #[serde(default)]
        scenarios: Vec<Value>,
    }
    let lists: Lists = serde_saphyr::from_str(&f.text).unwrap_or_default();
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    match f.kind {
        SpecKind::Requirements => lists
            .requirements
            .into_iter()
            .map(|v| (field(&v, "id"), v))
            .collect(),
        SpecKind::Profiles => lists
            .profiles
            .into_iter()
            .map(|v| (field(&v, "id"), v))
            .collect(),
        SpecKind::Aliases => {
            let of = |list: Vec<Value>, what: &str| -> Vec<(String, Value)> {
                list.into_iter()
                    .map(|v| (format!("{what} {}", field(&v, "old")), v))
                    .collect()
            };
            let mut out = of(lists.requirements, "requirement");
            out.extend(of(lists.scenarios, "scenario"));
            out
        }
        // entries add to the corpus's, they replace nothing
        SpecKind::Uncited => vec![],
        SpecKind::Scenarios => lists
            .scenarios
            .into_iter()
            .map(|v| {
                let workflow = v
                    .get("workflows")
                    .and_then(|w| w.get(0))
                    .and_then(|w| serde_json::from_value::<Workflow>(w.clone()).ok())
                    .map_or("?", Workflow::as_str);
                (format!("{workflow}::{}", field(&v, "id")), v)
            })
            .collect(),
    }
}

/// A scenario file's `steps:` library (its scenarios' `use:` depend on it).
fn library(f: &CorpusFile) -> Value {
    #[derive(Deserialize, Default)]
    struct Library {
        #[serde(default)]
        steps: Value,
    }
    serde_saphyr::from_str::<Library>(&f.text)
        .unwrap_or_default()
        .steps
}

impl fmt::Display for OverlayChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "overlay {}: ", self.dir.display())?;
        if self.changes.is_empty() {
            f.write_str("changes nothing")?;
        } else {
            let mut counts: BTreeMap<How, usize> = BTreeMap::new();
            for c in &self.changes {
                *counts.entry(c.how).or_default() += 1;
            }
            let parts: Vec<String> = counts
                .iter()
                .map(|(how, n)| format!("{n} {}", how.as_str()))
                .collect();
            f.write_str(&parts.join(", "))?;
        }
        for c in &self.changes {
            write!(
                f,
                "\n  {} {} {} ({})",
                c.how.as_str(),
                c.entry.as_str(),
                c.name,
                c.file
            )?;
        }
        if !self.unchanged.is_empty() {
            let parts: Vec<String> = self
                .unchanged
                .iter()
                .map(|(e, n)| format!("{n} {}", e.plural(*n)))
                .collect();
            write!(f, "\n  unchanged: {}", parts.join(", "))?;
        }
        Ok(())
    }
}

impl How {
    pub fn as_str(self) -> &'static str {
        match self {
            How::Added => "added",
            How::Replaced => "replaced",
            How::Removed => "removed",
        }
    }
}

impl Entry {
    pub fn as_str(self) -> &'static str {
        match self {
            Entry::Requirement => "requirement",
            Entry::Profile => "profile",
            Entry::Alias => "alias",
            Entry::Scenario => "scenario",
        }
    }
    fn plural(self, n: usize) -> String {
        match (self, n) {
            (_, 1) => self.as_str().to_string(),
            (Entry::Alias, _) => "aliases".into(),
            _ => format!("{}s", self.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay(files: &[(&str, &str)]) -> (tempfile::TempDir, OverlayChanges) {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let corpus = Corpus::from_dirs(Some(dir.path()), None).unwrap();
        let changes = changes(&corpus).unwrap();
        (dir, changes)
    }

    #[test]
    fn a_changed_step_library_changes_every_scenario_of_its_file() {
        let push = Corpus::embedded()
            .spec_text("specs/scenarios/push.yaml")
            .unwrap()
            .to_string();
        // the same text: nothing changes
        let (_d, same) = overlay(&[("scenarios/push.yaml", &push)]);
        assert!(same.changes.is_empty(), "{same}");
        let n = same.unchanged[&Entry::Scenario];
        assert!(n > 5, "{same}");
        // the library's step renamed: the scenarios are the same text but not the same plan
        let edited = push.replacen("name: open a session", "name: open an upload session", 1);
        assert_ne!(edited, push);
        let (_d, changed) = overlay(&[("scenarios/push.yaml", &edited)]);
        assert!(changed.unchanged.is_empty(), "{changed}");
        assert_eq!(changed.changes.len(), n, "{changed}");
        assert!(
            changed
                .changes
                .iter()
                .all(|c| c.how == How::Replaced && c.entry == Entry::Scenario),
            "{changed}"
        );
        assert!(changed.to_string().contains(&format!(": {n} replaced\n")));
    }

    #[test]
    fn no_overlay_no_changes() {
        assert!(changes(&Corpus::embedded()).is_none());
    }
}
