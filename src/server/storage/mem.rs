//! In-memory storage (`serve --memory`, and the runner's throwaway reference).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Cursor, Read};
use std::sync::Mutex;

use bytes::Bytes;
use serde_json::Value;

use super::{BlobData, Storage, UploadInfo};
use crate::oci::{Algorithm, Digest};

#[derive(Default)]
struct Repo {
    layers: HashSet<Digest>,
    manifests: HashMap<Digest, String>,
    tags: HashMap<String, Digest>,
    referrers: HashMap<Digest, BTreeMap<Digest, Value>>,
}

struct Upload {
    repo: String,
    algorithm: Algorithm,
    data: Vec<u8>,
    touched: std::time::Instant,
}

#[derive(Default)]
struct State {
    blobs: HashMap<Digest, Bytes>,
    repos: BTreeMap<String, Repo>,
    uploads: HashMap<String, Upload>,
}

#[derive(Default)]
pub struct MemStorage {
    state: Mutex<State>,
}

impl MemStorage {
    pub fn new() -> MemStorage {
        MemStorage::default()
    }
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "upload unknown")
}

impl Storage for MemStorage {
    fn upload_create(&self, id: &str, repo: &str, algorithm: Algorithm) -> io::Result<()> {
        self.with(|s| {
            s.repos.entry(repo.to_string()).or_default();
            s.uploads.insert(
                id.to_string(),
                Upload {
                    repo: repo.to_string(),
                    algorithm,
                    data: Vec::new(),
                    touched: std::time::Instant::now(),
                },
            );
        });
        Ok(())
    }
    fn upload_info(&self, id: &str) -> io::Result<Option<UploadInfo>> {
        Ok(self.with(|s| {
            s.uploads.get(id).map(|u| UploadInfo {
                repo: u.repo.clone(),
                size: u.data.len() as u64,
                algorithm: u.algorithm,
            })
        }))
    }
    fn upload_append(&self, id: &str, data: &[u8]) -> io::Result<u64> {
        self.with(|s| {
            let u = s.uploads.get_mut(id).ok_or_else(not_found)?;
            u.data.extend_from_slice(data);
            u.touched = std::time::Instant::now();
            Ok(u.data.len() as u64)
        })
    }
    fn upload_truncate(&self, id: &str, size: u64) -> io::Result<()> {
        self.with(|s| {
            let u = s.uploads.get_mut(id).ok_or_else(not_found)?;
            u.data.truncate(size as usize);
            Ok(())
        })
    }
    fn upload_read(&self, id: &str) -> io::Result<Box<dyn Read + Send>> {
        self.with(|s| {
            let u = s.uploads.get(id).ok_or_else(not_found)?;
            Ok(Box::new(Cursor::new(u.data.clone())) as Box<dyn Read + Send>)
        })
    }
    fn upload_commit(&self, id: &str, digest: &Digest) -> io::Result<()> {
        self.with(|s| {
            let u = s.uploads.remove(id).ok_or_else(not_found)?;
            s.blobs
                .entry(digest.clone())
                .or_insert_with(|| Bytes::from(u.data));
            s.repos
                .entry(u.repo)
                .or_default()
                .layers
                .insert(digest.clone());
            Ok(())
        })
    }
    fn upload_delete(&self, id: &str) -> io::Result<bool> {
        Ok(self.with(|s| s.uploads.remove(id).is_some()))
    }
    fn uploads(&self) -> io::Result<Vec<String>> {
        Ok(self.with(|s| s.uploads.keys().cloned().collect()))
    }
    fn expire_uploads(&self, idle: std::time::Duration) -> io::Result<usize> {
        Ok(self.with(|s| {
            let before = s.uploads.len();
            s.uploads.retain(|_, u| u.touched.elapsed() <= idle);
            before - s.uploads.len()
        }))
    }

    fn blob_size(&self, repo: &str, digest: &Digest) -> io::Result<Option<u64>> {
        Ok(self.with(|s| {
            let linked = s.repos.get(repo).is_some_and(|r| r.layers.contains(digest));
            if linked {
                s.blobs.get(digest).map(|b| b.len() as u64)
            } else {
                None
            }
        }))
    }
    fn blob_open(&self, repo: &str, digest: &Digest) -> io::Result<Option<BlobData>> {
        Ok(self.with(|s| {
            let linked = s.repos.get(repo).is_some_and(|r| r.layers.contains(digest));
            if linked {
                s.blobs.get(digest).cloned().map(BlobData::Bytes)
            } else {
                None
            }
        }))
    }
    fn blob_link(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        Ok(self.with(|s| {
            if !s.blobs.contains_key(digest) {
                return false;
            }
            s.repos
                .entry(repo.to_string())
                .or_default()
                .layers
                .insert(digest.clone());
            true
        }))
    }
    fn blob_unlink(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        Ok(self.with(|s| {
            s.repos
                .get_mut(repo)
                .is_some_and(|r| r.layers.remove(digest))
        }))
    }
    fn blobs(&self) -> io::Result<Vec<Digest>> {
        Ok(self.with(|s| s.blobs.keys().cloned().collect()))
    }
    fn blob_read_global(&self, digest: &Digest) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(self.with(|s| {
            s.blobs
                .get(digest)
                .map(|b| Box::new(Cursor::new(b.clone())) as Box<dyn Read + Send>)
        }))
    }

    fn manifest_put(
        &self,
        repo: &str,
        digest: &Digest,
        media_type: &str,
        body: &[u8],
    ) -> io::Result<()> {
        self.with(|s| {
            s.blobs
                .entry(digest.clone())
                .or_insert_with(|| Bytes::copy_from_slice(body));
            s.repos
                .entry(repo.to_string())
                .or_default()
                .manifests
                .insert(digest.clone(), media_type.to_string());
        });
        Ok(())
    }
    fn manifest_get(&self, repo: &str, digest: &Digest) -> io::Result<Option<(String, Bytes)>> {
        Ok(self.with(|s| {
            let mt = s.repos.get(repo)?.manifests.get(digest)?.clone();
            Some((mt, s.blobs.get(digest)?.clone()))
        }))
    }
    fn manifest_delete(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        Ok(self.with(|s| {
            s.repos
                .get_mut(repo)
                .is_some_and(|r| r.manifests.remove(digest).is_some())
        }))
    }
    fn tag_get(&self, repo: &str, tag: &str) -> io::Result<Option<Digest>> {
        Ok(self.with(|s| s.repos.get(repo)?.tags.get(tag).cloned()))
    }
    fn tag_put(&self, repo: &str, tag: &str, digest: &Digest) -> io::Result<()> {
        self.with(|s| {
            s.repos
                .entry(repo.to_string())
                .or_default()
                .tags
                .insert(tag.to_string(), digest.clone())
        });
        Ok(())
    }
    fn tag_delete(&self, repo: &str, tag: &str) -> io::Result<bool> {
        Ok(self.with(|s| {
            s.repos
                .get_mut(repo)
                .is_some_and(|r| r.tags.remove(tag).is_some())
        }))
    }
    fn tags(&self, repo: &str) -> io::Result<Option<Vec<String>>> {
        Ok(self.with(|s| s.repos.get(repo).map(|r| r.tags.keys().cloned().collect())))
    }

    fn referrer_put(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Digest,
        descriptor: &Value,
    ) -> io::Result<()> {
        self.with(|s| {
            s.repos
                .entry(repo.to_string())
                .or_default()
                .referrers
                .entry(subject.clone())
                .or_default()
                .insert(referrer.clone(), descriptor.clone())
        });
        Ok(())
    }
    fn referrer_delete(&self, repo: &str, subject: &Digest, referrer: &Digest) -> io::Result<()> {
        self.with(|s| {
            if let Some(m) = s
                .repos
                .get_mut(repo)
                .and_then(|r| r.referrers.get_mut(subject))
            {
                m.remove(referrer);
            }
        });
        Ok(())
    }
    fn referrers(&self, repo: &str, subject: &Digest) -> io::Result<Vec<Value>> {
        Ok(self.with(|s| {
            s.repos
                .get(repo)
                .and_then(|r| r.referrers.get(subject))
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default()
        }))
    }

    fn repo_exists(&self, repo: &str) -> io::Result<bool> {
        Ok(self.with(|s| s.repos.contains_key(repo)))
    }
    fn repositories(&self) -> io::Result<Vec<String>> {
        Ok(self.with(|s| s.repos.keys().cloned().collect()))
    }
}
