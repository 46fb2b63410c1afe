//! What the registry must hold after the operations it accepted: per repository, the blobs
//! linked into it, the manifests and the tags. Advanced by each operation the oracle accepts;
//! cloned and compared when concurrent operations leave several orders open.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::oci::manifest;
use crate::oci::media::ManifestKind;
use crate::oci::{Algorithm, Digest};

/// The repositories an exploration works in, by index (their names carry the run's namespace).
pub(crate) type RepoId = usize;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Model {
    pub repos: BTreeMap<RepoId, Repo>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Repo {
    pub blobs: BTreeSet<Digest>,
    /// Digests the repository may or may not hold: the same bytes under another algorithm's
    /// digest than the one they went up or were deleted under. Whether two digests of the
    /// same bytes are one blob or two is the registry's choice (the spec neither requires nor
    /// forbids either), so reaching them by the other digest may succeed or not, and stays
    /// open until that digest itself is pushed, mounted or deleted.
    pub maybe: BTreeSet<Digest>,
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

/// The digests of the bytes of `d` under the other algorithms (for content the explorer
/// pushes, the only content it names).
fn other_digests(d: &Digest) -> Vec<Digest> {
    let Some(data) = super::ops::pool_content(d) else {
        return vec![];
    };
    Algorithm::ALL
        .into_iter()
        .filter(|a| *a != d.algorithm())
        .map(|a| Digest::of(a, &data))
        .collect()
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

    /// Whether `r` may hold `d` without the model requiring it (see [`Repo::maybe`]).
    pub fn maybe_blob(&self, r: RepoId, d: &Digest) -> bool {
        self.repo(r).is_some_and(|x| x.maybe.contains(d))
    }

    /// `d` pushed or mounted into `r`: held, and its bytes under the other algorithms maybe.
    pub fn hold_blob(&mut self, r: RepoId, d: &Digest) {
        let repo = self.repo_mut(r);
        repo.blobs.insert(d.clone());
        repo.maybe.remove(d);
        for o in other_digests(d) {
            if !repo.blobs.contains(&o) {
                repo.maybe.insert(o);
            }
        }
    }

    /// `d` deleted from `r`: gone under it, and its bytes under the other algorithms maybe
    /// (gone too if the registry kept one blob, still there if two).
    pub fn drop_blob(&mut self, r: RepoId, d: &Digest) {
        let repo = self.repo_mut(r);
        repo.blobs.remove(d);
        repo.maybe.remove(d);
        for o in other_digests(d) {
            if repo.blobs.remove(&o) {
                repo.maybe.insert(o);
            }
        }
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
