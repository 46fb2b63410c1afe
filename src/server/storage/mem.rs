//! In-memory storage (`serve --memory`, and the runner's throwaway reference).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Cursor, Read};
use std::sync::Mutex;

use bytes::Bytes;
use serde_json::Value;

use super::index::{Page, TagIndex};
use super::{BlobData, Storage, UploadInfo};
use crate::oci::{Algorithm, Digest};

#[derive(Default)]
struct Repo {
    layers: HashSet<Digest>,
    manifests: HashMap<Digest, String>,
    tags: TagIndex,
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
    /// Bytes of blob content and upload data held.
    used: u64,
}

impl State {
    /// Counts `n` more bytes against `limit`, or refuses them.
    fn reserve(&mut self, n: u64, limit: u64) -> io::Result<()> {
        match self.used.checked_add(n) {
            Some(total) if total <= limit => {
                self.used = total;
                Ok(())
            }
            _ => Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "the in-memory registry holds {} of its {limit} bytes",
                    self.used
                ),
            )),
        }
    }
    fn release(&mut self, n: u64) {
        self.used = self.used.saturating_sub(n);
    }
}

pub struct MemStorage {
    state: Mutex<State>,
    /// The most bytes of blobs and uploads kept (`serve --memory-limit`).
    limit: u64,
}

impl Default for MemStorage {
    fn default() -> MemStorage {
        MemStorage::with_limit(u64::MAX)
    }
}

impl MemStorage {
    pub fn new() -> MemStorage {
        MemStorage::default()
    }
    /// A store that refuses writes past `limit` bytes of content (`StorageFull`).
    pub fn with_limit(limit: u64) -> MemStorage {
        MemStorage {
            state: Mutex::new(State::default()),
            limit,
        }
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
        // the repository appears when something is committed to it, not before
        self.with(|s| {
            if let Some(old) = s.uploads.remove(id) {
                s.release(old.data.len() as u64);
            }
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
        let limit = self.limit;
        self.with(|s| {
            if !s.uploads.contains_key(id) {
                return Err(not_found());
            }
            s.reserve(data.len() as u64, limit)?;
            let u = s.uploads.get_mut(id).ok_or_else(not_found)?;
            u.data.extend_from_slice(data);
            u.touched = std::time::Instant::now();
            Ok(u.data.len() as u64)
        })
    }
    fn upload_truncate(&self, id: &str, size: u64) -> io::Result<()> {
        self.with(|s| {
            let u = s.uploads.get_mut(id).ok_or_else(not_found)?;
            let before = u.data.len() as u64;
            u.data.truncate(size as usize);
            u.data.shrink_to_fit();
            let after = u.data.len() as u64;
            s.release(before - after);
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
            if s.blobs.contains_key(digest) {
                s.release(u.data.len() as u64);
            } else {
                s.blobs.insert(digest.clone(), Bytes::from(u.data));
            }
            s.repos
                .entry(u.repo)
                .or_default()
                .layers
                .insert(digest.clone());
            Ok(())
        })
    }
    fn upload_delete(&self, id: &str) -> io::Result<bool> {
        Ok(self.with(|s| match s.uploads.remove(id) {
            Some(u) => {
                s.release(u.data.len() as u64);
                true
            }
            None => false,
        }))
    }
    fn uploads(&self) -> io::Result<Vec<String>> {
        Ok(self.with(|s| s.uploads.keys().cloned().collect()))
    }
    fn expire_uploads(&self, idle: std::time::Duration) -> io::Result<usize> {
        Ok(self.with(|s| {
            let expired: Vec<String> = s
                .uploads
                .iter()
                .filter(|(_, u)| u.touched.elapsed() > idle)
                .map(|(id, _)| id.clone())
                .collect();
            for id in &expired {
                if let Some(u) = s.uploads.remove(id) {
                    s.release(u.data.len() as u64);
                }
            }
            expired.len()
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
        let limit = self.limit;
        self.with(|s| {
            if !s.blobs.contains_key(digest) {
                s.reserve(body.len() as u64, limit)?;
                s.blobs.insert(digest.clone(), Bytes::copy_from_slice(body));
            }
            s.repos
                .entry(repo.to_string())
                .or_default()
                .manifests
                .insert(digest.clone(), media_type.to_string());
            Ok(())
        })
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
                .put(tag, digest)
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
        Ok(self.with(|s| s.repos.get(repo).map(|r| r.tags.names().all())))
    }
    fn tags_page(
        &self,
        repo: &str,
        after: Option<&str>,
        n: Option<usize>,
    ) -> io::Result<Option<Page>> {
        Ok(self.with(|s| s.repos.get(repo).map(|r| r.tags.names().page(after, n))))
    }
    fn tags_pointing_at(&self, repo: &str, digest: &Digest) -> io::Result<Vec<String>> {
        Ok(self.with(|s| {
            s.repos
                .get(repo)
                .map(|r| r.tags.pointing_at(digest))
                .unwrap_or_default()
        }))
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
    fn repositories_page(&self, after: Option<&str>, n: Option<usize>) -> io::Result<Page> {
        use std::ops::Bound;
        // repository names are lower case by their grammar: byte order is lexical order
        Ok(self.with(|s| {
            let start = match after {
                Some(a) => Bound::Excluded(a.to_string()),
                None => Bound::Unbounded,
            };
            let mut it = s.repos.range::<String, _>((start, Bound::Unbounded));
            let names: Vec<String> = it
                .by_ref()
                .take(n.unwrap_or(usize::MAX))
                .map(|(k, _)| k.clone())
                .collect();
            let more = it.next().is_some();
            Page { names, more }
        }))
    }
}
