//! The seeded generator of the operations an exploration sends. Content is
//! drawn from small pools (a few blobs, a few tags, three repositories) so that operations
//! meet each other: a tag deleted is soon listed, a blob pushed twice is soon deleted once.

use bytes::Bytes;
use rand::seq::IndexedRandom as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::model::{Model, RepoId};
use crate::oci::media;
use crate::oci::{Algorithm, Digest};

/// How many repositories an exploration works in.
pub(crate) const REPOS: usize = 3;
const BLOBS: usize = 6;
/// Tags in lexical order; the last one is the end of any list.
pub(crate) const TAGS: &[&str] = &["a", "b", "c", "latest", "v1", "v1.0"];
/// A `last` past every tag.
const PAST_END: &str = "zz";
const ARTIFACT_TYPES: &[&str] = &[
    "application/vnd.example.sbom",
    "application/vnd.example.sig",
];

pub(crate) use super::op::{Op, Reference, Upload};

/// What the generator may use, as learned from the registry's first answers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offered {
    pub sha512: bool,
    pub single_post: bool,
}

/// A walk in pages spans several requests, so it reads one state only when nothing else in
/// its round changes what it lists: where something does, the walk asks for the whole list
/// at once instead (one request, one state), keeping its `last`.
pub(crate) fn settle_walks(round: &mut [Op]) {
    for i in 0..round.len() {
        let others_write = |listed: &dyn Fn(&Op) -> bool| {
            round
                .iter()
                .enumerate()
                .any(|(j, o)| j != i && o.writes() && listed(o))
        };
        let settled = match &round[i] {
            Op::ListTags {
                repo,
                n: Some(_),
                last,
            } if others_write(&|o| o.touches(*repo)) => Some(Op::ListTags {
                repo: *repo,
                n: None,
                last: last.clone(),
            }),
            Op::Catalog { n: Some(_) } if others_write(&|_| true) => Some(Op::Catalog { n: None }),
            _ => None,
        };
        if let Some(op) = settled {
            round[i] = op;
        }
    }
}

/// The seeded source of operations.
pub(crate) struct Generator {
    rng: ChaCha8Rng,
    blobs: Vec<Bytes>,
    /// The operation before, which the next one often touches again.
    prev: Option<Op>,
}

/// The blob pool: small JSON documents (usable as configs), a few kilobytes at most.
pub(crate) fn blob_pool() -> Vec<Bytes> {
    (0..BLOBS)
        .map(|i| {
            let pad = "x".repeat(i * i * 97);
            Bytes::from(json!({ "regverify": "explore", "blob": i, "pad": pad }).to_string())
        })
        .collect()
}

/// The content of the pool blob with this digest.
pub(crate) fn pool_content(digest: &Digest) -> Option<Bytes> {
    static POOL: std::sync::OnceLock<Vec<Bytes>> = std::sync::OnceLock::new();
    POOL.get_or_init(blob_pool)
        .iter()
        .find(|b| Digest::of(digest.algorithm(), b) == *digest)
        .cloned()
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            blobs: blob_pool(),
            prev: None,
        }
    }

    fn repo(&mut self) -> RepoId {
        self.rng.random_range(0..REPOS)
    }

    fn tag(&mut self) -> String {
        TAGS.choose(&mut self.rng).unwrap_or(&"a").to_string()
    }

    fn blob(&mut self) -> Bytes {
        self.blobs
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or_default()
    }

    fn blob_digest(&mut self) -> Digest {
        Digest::sha256(&self.blob())
    }

    /// A manifest of `repo` in the model, or (rarely, or when none) one the registry lacks.
    fn manifest_digest(&mut self, model: &Model, repo: RepoId) -> Digest {
        let known: Vec<Digest> = model
            .repo(repo)
            .map(|r| r.manifests.keys().cloned().collect())
            .unwrap_or_default();
        match known.choose(&mut self.rng) {
            Some(d) if self.rng.random_bool(0.9) => d.clone(),
            _ => Digest::sha256(self.image(None).as_bytes()),
        }
    }

    /// An image manifest of pool blobs; with `subject`, an artifact referring to it.
    fn image(&mut self, subject: Option<(Digest, u64, String)>) -> String {
        let config = self.blob();
        let layers: Vec<_> = (0..self.rng.random_range(0..3))
            .map(|_| {
                let b = self.blob();
                json!({ "mediaType": media::OCI_LAYER_TAR_GZIP, "digest": Digest::sha256(&b).to_string(), "size": b.len() })
            })
            .collect();
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": { "mediaType": media::OCI_CONFIG, "digest": Digest::sha256(&config).to_string(), "size": config.len() },
            "layers": layers,
        });
        if let Some((digest, size, media_type)) = subject {
            let at = ARTIFACT_TYPES
                .choose(&mut self.rng)
                .unwrap_or(&ARTIFACT_TYPES[0]);
            m["artifactType"] = json!(at);
            m["subject"] =
                json!({ "mediaType": media_type, "digest": digest.to_string(), "size": size });
        }
        m.to_string()
    }

    fn index(&mut self, model: &Model, repo: RepoId) -> Option<String> {
        let known: Vec<(Digest, u64, String)> = model
            .repo(repo)?
            .manifests
            .iter()
            .filter(|(_, m)| m.media_type == media::OCI_MANIFEST)
            .map(|(d, m)| (d.clone(), m.body.len() as u64, m.media_type.clone()))
            .collect();
        let picked: Vec<_> = known.choose_multiple(&mut self.rng, 2).collect();
        if picked.is_empty() {
            return None;
        }
        let manifests: Vec<_> = picked
            .iter()
            .map(|(d, size, mt)| json!({ "mediaType": mt, "digest": d.to_string(), "size": size }))
            .collect();
        Some(
            json!({ "schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests })
                .to_string(),
        )
    }

    fn push_manifest(&mut self, model: &Model) -> Op {
        let repo = self.repo();
        // often an image already there: a tag moves onto it
        let known: Vec<(Digest, &'static str, Bytes)> = model
            .repo(repo)
            .map(|r| {
                r.manifests
                    .iter()
                    .filter_map(|(d, m)| {
                        [media::OCI_MANIFEST, media::OCI_INDEX]
                            .into_iter()
                            .find(|t| *t == m.media_type)
                            .map(|t| (d.clone(), t, m.body.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if self.rng.random_bool(0.4)
            && let Some((_, media_type, body)) = known.choose(&mut self.rng).cloned()
        {
            return Op::PushManifest {
                repo,
                media_type,
                body,
                reference: Reference::Tag(self.tag()),
            };
        }
        let roll = self.rng.random_range(0..10);
        let subject = (roll >= 8)
            .then(|| model.repo(repo))
            .flatten()
            .and_then(|r| {
                let all: Vec<_> = r.manifests.iter().collect();
                all.choose(&mut self.rng)
                    .map(|(d, m)| ((*d).clone(), m.body.len() as u64, m.media_type.clone()))
            });
        let (media_type, body) = match (roll, subject) {
            (6 | 7, _) => match self.index(model, repo) {
                Some(b) => (media::OCI_INDEX, b),
                None => (media::OCI_MANIFEST, self.image(None)),
            },
            (_, s) => (media::OCI_MANIFEST, self.image(s)),
        };
        let body = Bytes::from(body);
        let reference = if self.rng.random_bool(0.75) {
            Reference::Tag(self.tag())
        } else {
            Reference::Digest(Digest::sha256(&body))
        };
        Op::PushManifest {
            repo,
            media_type,
            body,
            reference,
        }
    }

    fn push_blob(&mut self, offered: Offered) -> Op {
        let data = self.blob();
        let upload = match self.rng.random_range(0..4) {
            0 if offered.single_post => Upload::Single,
            1 if data.len() >= 3 => Upload::Chunked(self.rng.random_range(2..4)),
            2 => Upload::Streamed,
            _ => Upload::Monolithic,
        };
        let algorithm = if offered.sha512 && self.rng.random_bool(0.1) {
            Algorithm::Sha512
        } else {
            Algorithm::Sha256
        };
        Op::PushBlob {
            repo: self.repo(),
            data,
            upload,
            algorithm,
        }
    }

    fn list_tags(&mut self) -> Op {
        let repo = self.repo();
        let n = self
            .rng
            .random_bool(0.6)
            .then(|| self.rng.random_range(1..4));
        let last = match self.rng.random_range(0..6) {
            0 | 1 => None,
            2 => Some(TAGS[TAGS.len() - 1].to_string()),
            3 => Some(PAST_END.to_string()),
            _ => Some(self.tag()),
        };
        Op::ListTags { repo, n, last }
    }

    /// The next operation, given what the registry should hold now.
    pub fn next(&mut self, model: &Model, offered: Offered) -> Op {
        let related = match &self.prev {
            Some(prev) if self.rng.random_bool(0.3) => self.related(&prev.clone()),
            _ => None,
        };
        let op = match related {
            Some(op) => op,
            None => self.fresh(model, offered),
        };
        self.prev = Some(op.clone());
        op
    }

    /// An operation on what `prev` touched: where sequences meet.
    fn related(&mut self, prev: &Op) -> Option<Op> {
        let other = |g: &mut Generator, r: RepoId| (r + g.rng.random_range(1..REPOS)) % REPOS;
        let pick = self.rng.random_range(0..3);
        Some(match prev {
            Op::PushManifest {
                repo,
                body,
                reference,
                ..
            } => {
                let digest = Digest::sha256(body);
                match (pick, reference) {
                    (0, _) => Op::DeleteManifest {
                        repo: *repo,
                        digest,
                    },
                    (1, Reference::Tag(t)) => Op::GetManifest {
                        repo: *repo,
                        reference: Reference::Tag(t.clone()),
                        head: false,
                    },
                    _ => Op::ListTags {
                        repo: *repo,
                        n: None,
                        last: None,
                    },
                }
            }
            Op::PushBlob {
                repo,
                data,
                algorithm,
                ..
            } => {
                // by the digest it went up under: a sha512 blob is read back by its sha512
                let digest = Digest::of(*algorithm, data);
                match pick {
                    0 => Op::DeleteBlob {
                        repo: *repo,
                        digest,
                    },
                    1 => Op::Mount {
                        from: *repo,
                        to: other(self, *repo),
                        digest,
                    },
                    _ => Op::GetBlob {
                        repo: other(self, *repo),
                        digest,
                        head: false,
                        range: None,
                    },
                }
            }
            Op::DeleteBlob { repo, digest }
            | Op::Mount {
                to: repo, digest, ..
            } => Op::GetBlob {
                repo: if pick == 0 { *repo } else { other(self, *repo) },
                digest: digest.clone(),
                head: false,
                range: None,
            },
            Op::DeleteManifest { repo, .. } if pick == 0 => Op::GetManifest {
                repo: *repo,
                reference: Reference::Tag(self.tag()),
                head: false,
            },
            Op::DeleteManifest { repo, .. } | Op::DeleteTag { repo, .. } => {
                let mut op = self.list_tags();
                if let Op::ListTags { repo: r, .. } = &mut op {
                    *r = *repo;
                }
                op
            }
            _ => return None,
        })
    }

    fn fresh(&mut self, model: &Model, offered: Offered) -> Op {
        match self.rng.random_range(0..100) {
            0..14 => self.push_blob(offered),
            14..30 => self.push_manifest(model),
            30..36 => {
                let (repo, head) = (self.repo(), self.rng.random_bool(0.3));
                let data = self.blob();
                let range = (!head && data.len() > 4 && self.rng.random_bool(0.3)).then(|| {
                    let start = self.rng.random_range(0..data.len() as u64 / 2);
                    (start, self.rng.random_range(start..data.len() as u64))
                });
                Op::GetBlob {
                    repo,
                    digest: Digest::sha256(&data),
                    head,
                    range,
                }
            }
            36..41 => Op::DeleteBlob {
                repo: self.repo(),
                digest: self.blob_digest(),
            },
            41..45 => {
                let (from, to) = (self.repo(), self.repo());
                Op::Mount {
                    from,
                    to,
                    digest: self.blob_digest(),
                }
            }
            45..58 => {
                let repo = self.repo();
                let reference = if self.rng.random_bool(0.6) {
                    Reference::Tag(self.tag())
                } else {
                    Reference::Digest(self.manifest_digest(model, repo))
                };
                Op::GetManifest {
                    repo,
                    reference,
                    head: self.rng.random_bool(0.25),
                }
            }
            58..66 => {
                let repo = self.repo();
                Op::DeleteManifest {
                    digest: self.manifest_digest(model, repo),
                    repo,
                }
            }
            66..73 => Op::DeleteTag {
                repo: self.repo(),
                tag: self.tag(),
            },
            73..88 => self.list_tags(),
            88..91 => Op::Catalog {
                n: self
                    .rng
                    .random_bool(0.5)
                    .then(|| self.rng.random_range(1..4)),
            },
            91..97 => {
                let repo = self.repo();
                Op::Referrers {
                    subject: self.manifest_digest(model, repo),
                    repo,
                    artifact_type: self.rng.random_bool(0.3).then(|| {
                        ARTIFACT_TYPES
                            .choose(&mut self.rng)
                            .unwrap_or(&"")
                            .to_string()
                    }),
                }
            }
            _ => Op::CancelUpload {
                repo: self.repo(),
                chunk: self.rng.random_bool(0.5).then(|| self.blob()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(repo: RepoId) -> Op {
        Op::ListTags {
            repo,
            n: Some(2),
            last: Some("a".into()),
        }
    }

    fn delete_tag(repo: RepoId) -> Op {
        Op::DeleteTag {
            repo,
            tag: "a".into(),
        }
    }

    #[test]
    fn a_walk_stays_in_pages_unless_its_round_changes_what_it_lists() {
        // another repository written, or the same one only read: pages read one state
        let mut round = vec![walk(0), delete_tag(1), walk(0)];
        settle_walks(&mut round);
        assert_eq!(round, vec![walk(0), delete_tag(1), walk(0)]);
        // its repository written meanwhile: one request, its `last` kept
        let mut round = vec![walk(1), delete_tag(1)];
        settle_walks(&mut round);
        assert_eq!(
            round[0],
            Op::ListTags {
                repo: 1,
                n: None,
                last: Some("a".into())
            }
        );
        // the catalog sees every repository: any write makes it one request
        let mut round = vec![Op::Catalog { n: Some(1) }, delete_tag(2)];
        settle_walks(&mut round);
        assert_eq!(round[0], Op::Catalog { n: None });
        let mut round = vec![Op::Catalog { n: Some(1) }, walk(2)];
        settle_walks(&mut round);
        assert_eq!(round[0], Op::Catalog { n: Some(1) });
    }
}
