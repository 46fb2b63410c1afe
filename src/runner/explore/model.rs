//! What the registry must hold after the operations it accepted: per repository, the blobs
//! linked into it, the manifests and the tags. Advanced by each operation the oracle accepts;
//! cloned and compared when concurrent operations leave several orders open.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::oci::Digest;
use crate::oci::manifest;
use crate::oci::media::ManifestKind;

/// The repositories an exploration works in, by index (their names carry the run's namespace).
pub(crate) type RepoId = usize;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Model {
    pub repos: BTreeMap<RepoId, Repo>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Repo {
    pub blobs: BTreeSet<Digest>,
    pub manifests: BTreeMap<Digest, Stored>,
    pub tags: BTreeMap<String, Digest>,
    /// References (tags, digests) deleted and not pushed again, with the requirement their
    /// deletion answers to: a 404 for them is then owed to that deletion.
    pub deleted: BTreeMap<String, &'static str>,
}

/// A manifest as pushed, with what the model needs to know of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stored {
    pub media_type: String,
    pub body: Bytes,
    pub subject: Option<Digest>,
    /// The artifact type its referrer descriptor carries.
    pub artifact_type: Option<String>,
}

impl Stored {
    pub fn new(media_type: &str, body: &Bytes) -> Stored {
        let parsed = manifest::parse(body, Some(media_type)).ok();
        Stored {
            media_type: media_type.to_string(),
            body: body.clone(),
            subject: parsed
                .as_ref()
                .and_then(|m| m.subject.as_ref().map(|s| s.digest.clone())),
            artifact_type: parsed.as_ref().and_then(|m| m.referrer_artifact_type()),
        }
    }
}

/// What a manifest needs to be there before it may be pushed: its blobs (config, layers)
/// and, for an index, its manifests.
pub(crate) struct Needs {
    pub blobs: Vec<Digest>,
    pub manifests: Vec<Digest>,
}

pub(crate) fn needs(media_type: &str, body: &[u8]) -> Needs {
    let Ok(m) = manifest::parse(body, Some(media_type)) else {
        return Needs {
            blobs: vec![],
            manifests: vec![],
        };
    };
    let external = |d: &&manifest::Descriptor| !d.external;
    match m.kind {
        ManifestKind::Index => Needs {
            blobs: vec![],
            manifests: m
                .children
                .iter()
                .filter(external)
                .map(|d| d.digest.clone())
                .collect(),
        },
        _ => Needs {
            blobs: m
                .config
                .iter()
                .chain(&m.children)
                .filter(external)
                .map(|d| d.digest.clone())
                .collect(),
            manifests: vec![],
        },
    }
}

impl Model {
    pub fn repo(&self, r: RepoId) -> Option<&Repo> {
        self.repos.get(&r)
    }

    pub fn repo_mut(&mut self, r: RepoId) -> &mut Repo {
        self.repos.entry(r).or_default()
    }

    pub fn has_blob(&self, r: RepoId, d: &Digest) -> bool {
        self.repo(r).is_some_and(|x| x.blobs.contains(d))
    }

    pub fn manifest(&self, r: RepoId, d: &Digest) -> Option<&Stored> {
        self.repo(r).and_then(|x| x.manifests.get(d))
    }

    pub fn tag(&self, r: RepoId, t: &str) -> Option<&Digest> {
        self.repo(r).and_then(|x| x.tags.get(t))
    }

    /// Whether everything `needs` names is in `r`.
    pub fn satisfies(&self, r: RepoId, needs: &Needs) -> bool {
        needs.blobs.iter().all(|d| self.has_blob(r, d))
            && needs
                .manifests
                .iter()
                .all(|d| self.manifest(r, d).is_some() || self.has_blob(r, d))
    }

    /// Tags of `r` in lexical order.
    pub fn tags(&self, r: RepoId) -> Vec<String> {
        self.repo(r)
            .map(|x| x.tags.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The manifests of `r` whose subject is `subject`, by digest.
    pub fn referrers(&self, r: RepoId, subject: &Digest) -> BTreeMap<Digest, Stored> {
        self.repo(r)
            .map(|x| {
                x.manifests
                    .iter()
                    .filter(|(_, m)| m.subject.as_ref() == Some(subject))
                    .map(|(d, m)| (d.clone(), m.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn put_manifest(&mut self, r: RepoId, d: &Digest, stored: Stored, tags: &[String]) {
        let repo = self.repo_mut(r);
        repo.manifests.insert(d.clone(), stored);
        repo.deleted.remove(&d.to_string());
        for t in tags {
            repo.tags.insert(t.clone(), d.clone());
            repo.deleted.remove(t);
        }
    }

    /// A manifest deleted by digest takes every tag pointing at it.
    pub fn delete_manifest(&mut self, r: RepoId, d: &Digest) {
        let repo = self.repo_mut(r);
        repo.manifests.remove(d);
        repo.deleted.insert(d.to_string(), "delete.manifest");
        let gone: Vec<String> = repo
            .tags
            .iter()
            .filter(|(_, v)| *v == d)
            .map(|(t, _)| t.clone())
            .collect();
        for t in gone {
            repo.tags.remove(&t);
            repo.deleted.insert(t, "delete.manifest");
        }
    }

    pub fn delete_tag(&mut self, r: RepoId, tag: &str) {
        let repo = self.repo_mut(r);
        repo.tags.remove(tag);
        repo.deleted.insert(tag.to_string(), "delete.tag");
    }

    /// The requirement a 404 for `reference` in `r` answers to, when it was deleted.
    pub fn forgotten(&self, r: RepoId, reference: &str) -> Option<&'static str> {
        self.repo(r).and_then(|x| x.deleted.get(reference).copied())
    }
}
