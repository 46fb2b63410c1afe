//! Filesystem storage. Layout under the root:
//!
//! ```text
//! blobs/<alg>/<hex[0..2]>/<hex>            content, written once, never modified
//! uploads/<id>/data, uploads/<id>/info     upload sessions (survive a restart)
//! uploads/<id>/commit                      the digest of a commit under way
//! repositories/<name>/_layers/<alg>/<hex>  empty link files: blob is in the repository
//! repositories/<name>/_manifests/<alg>/<hex>  the manifest's media type
//! repositories/<name>/_tags/<tag>          the tagged digest
//! repositories/<name>/_referrers/<alg>/<subject-hex>/<alg>-<hex>  a referrer descriptor
//! tmp/                                     files being written, renamed into place
//! lock                                     who uses the root (serve, gc): see `lock`
//! ```
//!
//! Every file that becomes visible is written to `tmp/`, fsynced, then renamed, and its
//! directory fsynced: a crash never exposes a partial or wrong file. Names and digests are
//! validated before they reach this module (name components cannot start with `_` or be
//! `..`; digests are hex), so no path leaves the root.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde_json::Value;

use super::index::{Page, SortedNames, TagIndex};
use super::{BlobData, Storage, UploadInfo};
use crate::oci::{Algorithm, Digest, name};

use files::{check_upload_id, invalid, not_found_is_none, sync_dir, write_behind};

mod files;
pub mod lock;

pub struct FsStorage {
    root: PathBuf,
    counter: AtomicU64,
    /// Sorted indexes of tags and repositories, read from disk on first use and kept up to
    /// date by every write of this process (the only writer of its root).
    index: Mutex<Indexes>,
}

#[derive(Default)]
struct Indexes {
    tags: HashMap<String, TagIndex>,
    repos: Option<SortedNames>,
}

/// The record, inside an upload's directory, that its commit was decided: the digest.
const COMMIT: &str = "commit";

impl FsStorage {
    pub fn open(root: impl Into<PathBuf>) -> io::Result<FsStorage> {
        let root = root.into();
        for d in ["blobs", "uploads", "repositories", "tmp"] {
            fs::create_dir_all(root.join(d))?;
        }
        // Leftovers of writes interrupted by a crash: never visible, safe to drop.
        for e in fs::read_dir(root.join("tmp"))? {
            let _ = fs::remove_file(e?.path());
        }
        let storage = FsStorage {
            root,
            counter: AtomicU64::new(0),
            index: Mutex::new(Indexes::default()),
        };
        storage.recover_uploads()?;
        Ok(storage)
    }

    /// Settles upload directories a crash left half-way: a commit that was decided (its
    /// `commit` record written) is finished, so the blob lands in the repository and the
    /// session ends as if the commit had returned; a directory without `info` (creation or
    /// removal interrupted) was never a visible upload and is removed.
    fn recover_uploads(&self) -> io::Result<()> {
        for e in fs::read_dir(self.root.join("uploads"))? {
            let e = e?;
            let id = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            if check_upload_id(&id).is_err() {
                continue;
            }
            if !dir.join("info").exists() {
                fs::remove_dir_all(&dir)?;
                continue;
            }
            if let Some(record) = not_found_is_none(fs::read_to_string(dir.join(COMMIT)))? {
                let digest: Digest = record
                    .trim()
                    .parse()
                    .map_err(|_| invalid("corrupt upload commit record"))?;
                self.upload_commit(&id, &digest)?;
            }
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn repo_dir(&self, repo: &str) -> io::Result<PathBuf> {
        if !name::valid_name(repo) {
            return Err(invalid("invalid repository name"));
        }
        Ok(self.root.join("repositories").join(repo))
    }
    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().name())
            .join(&d.hex()[..2])
            .join(d.hex())
    }
    fn link_path(&self, repo: &str, kind: &str, d: &Digest) -> io::Result<PathBuf> {
        Ok(self
            .repo_dir(repo)?
            .join(kind)
            .join(d.algorithm().name())
            .join(d.hex()))
    }
    fn tag_path(&self, repo: &str, tag: &str) -> io::Result<PathBuf> {
        if !name::valid_tag(tag) {
            return Err(invalid("invalid tag"));
        }
        Ok(self.repo_dir(repo)?.join("_tags").join(tag))
    }
    fn referrers_dir(&self, repo: &str, subject: &Digest) -> io::Result<PathBuf> {
        Ok(self
            .repo_dir(repo)?
            .join("_referrers")
            .join(subject.algorithm().name())
            .join(subject.hex()))
    }
    fn upload_dir(&self, id: &str) -> io::Result<PathBuf> {
        check_upload_id(id)?;
        Ok(self.root.join("uploads").join(id))
    }

    fn tmp_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("tmp")
            .join(format!("{}-{n}", std::process::id()))
    }

    /// Writes `data` at `path` atomically and durably.
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let dir = path.parent().expect("storage paths have parents");
        fs::create_dir_all(dir)?;
        let tmp = self.tmp_path();
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    }

    fn mark_repo(&self, repo: &str) -> io::Result<()> {
        let d = self.repo_dir(repo)?;
        for k in ["_layers", "_manifests", "_tags"] {
            fs::create_dir_all(d.join(k))?;
        }
        if let Some(repos) = self.indexes().repos.as_mut() {
            repos.insert(repo);
        }
        Ok(())
    }

    fn indexes(&self) -> std::sync::MutexGuard<'_, Indexes> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on `repo`'s tag index, reading it from disk first if needed; `None` when
    /// the repository is unknown.
    fn with_tags<T>(
        &self,
        repo: &str,
        f: impl FnOnce(&mut TagIndex) -> T,
    ) -> io::Result<Option<T>> {
        let dir = self.repo_dir(repo)?;
        if !dir.join("_layers").exists() {
            return Ok(None);
        }
        let mut idx = self.indexes();
        if !idx.tags.contains_key(repo) {
            let mut t = TagIndex::default();
            if let Some(rd) = not_found_is_none(fs::read_dir(dir.join("_tags")))? {
                for e in rd {
                    let name = e?.file_name().to_string_lossy().into_owned();
                    if let Some(d) = self.read_tag(repo, &name)? {
                        t.put(&name, &d);
                    }
                }
            }
            idx.tags.insert(repo.to_string(), t);
        }
        Ok(idx.tags.get_mut(repo).map(f))
    }

    fn read_tag(&self, repo: &str, tag: &str) -> io::Result<Option<Digest>> {
        let Some(s) = not_found_is_none(fs::read_to_string(self.tag_path(repo, tag)?))? else {
            return Ok(None);
        };
        s.trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid("corrupt tag file"))
    }

    fn remove(&self, path: &Path) -> io::Result<bool> {
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Storage for FsStorage {
    fn upload_create(&self, id: &str, repo: &str, algorithm: Algorithm) -> io::Result<()> {
        // the repository appears when something is committed to it, not before
        self.repo_dir(repo)?;
        let dir = self.upload_dir(id)?;
        fs::create_dir_all(&dir)?;
        File::create(dir.join("data"))?.sync_all()?;
        // info is written last and atomically: an upload without it never existed
        self.write_atomic(
            &dir.join("info"),
            format!("{repo}\n{}\n", algorithm.name()).as_bytes(),
        )
    }

    fn upload_info(&self, id: &str) -> io::Result<Option<UploadInfo>> {
        let Ok(dir) = self.upload_dir(id) else {
            return Ok(None);
        };
        let Some(info) = not_found_is_none(fs::read_to_string(dir.join("info")))? else {
            return Ok(None);
        };
        let mut lines = info.lines();
        let repo = lines.next().unwrap_or_default().to_string();
        let algorithm = lines
            .next()
            .and_then(Algorithm::from_name)
            .ok_or_else(|| invalid("corrupt upload info"))?;
        // no data beside info: a commit moved it into the blob store
        let Some(size) = not_found_is_none(fs::metadata(dir.join("data")))?.map(|m| m.len()) else {
            return Ok(None);
        };
        Ok(Some(UploadInfo {
            repo,
            size,
            algorithm,
        }))
    }

    fn upload_append(&self, id: &str, data: &[u8]) -> io::Result<u64> {
        let mut f = OpenOptions::new()
            .append(true)
            .open(self.upload_dir(id)?.join("data"))?;
        f.write_all(data)?;
        let end = f.metadata()?.len();
        write_behind(&f, end - data.len() as u64, data.len() as u64);
        Ok(end)
    }

    fn upload_truncate(&self, id: &str, size: u64) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .open(self.upload_dir(id)?.join("data"))?
            .set_len(size)
    }

    fn upload_read(&self, id: &str) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.upload_dir(id)?.join("data"))?))
    }

    /// Moving the data into the blob store and ending the session cannot be one atomic
    /// step, so the decision is: the durable `commit` record (the digest) is written first,
    /// and a crash after it is finished by [`FsStorage::open`]. Without it, a crash between
    /// the move and the removal left an upload with `info` and no `data`: listed, yet
    /// unreadable after a restart. Re-running a commit (here or at recovery) is harmless.
    fn upload_commit(&self, id: &str, digest: &Digest) -> io::Result<()> {
        let dir = self.upload_dir(id)?;
        let Some(info) = not_found_is_none(fs::read_to_string(dir.join("info")))? else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "upload unknown"));
        };
        let repo = info.lines().next().unwrap_or_default().to_string();
        let data = dir.join("data");
        let target = self.blob_path(digest);
        if data.exists() {
            // the bytes are durable before the record says they may be moved
            File::open(&data)?.sync_all()?;
            self.write_atomic(&dir.join(COMMIT), digest.to_string().as_bytes())?;
            if !target.exists() {
                let parent = target.parent().expect("blob paths have parents");
                fs::create_dir_all(parent)?;
                // rename is atomic: concurrent commits of the same digest both succeed, and
                // either's identical content wins
                fs::rename(&data, &target)?;
                sync_dir(parent)?;
            }
        }
        if !self.blob_link(&repo, digest)? {
            // neither the bytes nor the blob: nothing to commit
            return Err(io::Error::new(io::ErrorKind::NotFound, "upload unknown"));
        }
        // info goes first: the session ends in one step, whatever the rest of the
        // removal gets to do before a crash
        fs::remove_file(dir.join("info"))?;
        sync_dir(&self.root.join("uploads"))?;
        fs::remove_dir_all(&dir)?;
        Ok(())
    }

    fn upload_delete(&self, id: &str) -> io::Result<bool> {
        let Ok(dir) = self.upload_dir(id) else {
            return Ok(false);
        };
        match fs::remove_dir_all(dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn uploads(&self) -> io::Result<Vec<String>> {
        let mut out = vec![];
        for e in fs::read_dir(self.root.join("uploads"))? {
            let e = e?;
            if e.path().join("info").exists() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(out)
    }

    fn expire_uploads(&self, idle: std::time::Duration) -> io::Result<usize> {
        let mut n = 0;
        for id in self.uploads()? {
            let data = self.upload_dir(&id)?.join("data");
            let Some(modified) = not_found_is_none(fs::metadata(&data).and_then(|m| m.modified()))?
            else {
                continue;
            };
            if modified.elapsed().unwrap_or_default() > idle && self.upload_delete(&id)? {
                n += 1;
            }
        }
        Ok(n)
    }

    fn blob_size(&self, repo: &str, digest: &Digest) -> io::Result<Option<u64>> {
        if !self.link_path(repo, "_layers", digest)?.exists() {
            return Ok(None);
        }
        not_found_is_none(fs::metadata(self.blob_path(digest)).map(|m| m.len()))
    }

    fn blob_open(&self, repo: &str, digest: &Digest) -> io::Result<Option<BlobData>> {
        if !self.link_path(repo, "_layers", digest)?.exists() {
            return Ok(None);
        }
        let Some(file) = not_found_is_none(File::open(self.blob_path(digest)))? else {
            return Ok(None);
        };
        let size = file.metadata()?.len();
        Ok(Some(BlobData::File { file, size }))
    }

    fn blob_link(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        if !self.blob_path(digest).exists() {
            return Ok(false);
        }
        self.mark_repo(repo)?;
        let link = self.link_path(repo, "_layers", digest)?;
        if !link.exists() {
            self.write_atomic(&link, b"")?;
        }
        Ok(true)
    }

    fn blob_unlink(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        self.remove(&self.link_path(repo, "_layers", digest)?)
    }

    fn blobs(&self) -> io::Result<Vec<Digest>> {
        let mut out = vec![];
        for alg in Algorithm::ALL {
            let Some(prefixes) =
                not_found_is_none(fs::read_dir(self.root.join("blobs").join(alg.name())))?
            else {
                continue;
            };
            for p in prefixes {
                for f in fs::read_dir(p?.path())? {
                    let name = f?.file_name();
                    if let Ok(d) = format!("{alg}:{}", name.to_string_lossy()).parse() {
                        out.push(d);
                    }
                }
            }
        }
        Ok(out)
    }

    fn blob_read_global(&self, digest: &Digest) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(not_found_is_none(File::open(self.blob_path(digest)))?
            .map(|f| Box::new(f) as Box<dyn Read + Send>))
    }

    fn manifest_put(
        &self,
        repo: &str,
        digest: &Digest,
        media_type: &str,
        body: &[u8],
    ) -> io::Result<()> {
        self.mark_repo(repo)?;
        let blob = self.blob_path(digest);
        if !blob.exists() {
            self.write_atomic(&blob, body)?;
        }
        self.write_atomic(
            &self.link_path(repo, "_manifests", digest)?,
            media_type.as_bytes(),
        )
    }

    fn manifest_get(&self, repo: &str, digest: &Digest) -> io::Result<Option<(String, Bytes)>> {
        let Some(mt) = not_found_is_none(fs::read_to_string(self.link_path(
            repo,
            "_manifests",
            digest,
        )?))?
        else {
            return Ok(None);
        };
        Ok(not_found_is_none(fs::read(self.blob_path(digest)))?.map(|b| (mt, Bytes::from(b))))
    }

    fn manifest_delete(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        self.remove(&self.link_path(repo, "_manifests", digest)?)
    }

    fn tag_get(&self, repo: &str, tag: &str) -> io::Result<Option<Digest>> {
        self.read_tag(repo, tag)
    }

    fn tag_put(&self, repo: &str, tag: &str, digest: &Digest) -> io::Result<()> {
        self.mark_repo(repo)?;
        self.write_atomic(&self.tag_path(repo, tag)?, digest.to_string().as_bytes())?;
        if let Some(t) = self.indexes().tags.get_mut(repo) {
            t.put(tag, digest);
        }
        Ok(())
    }

    fn tag_delete(&self, repo: &str, tag: &str) -> io::Result<bool> {
        let removed = self.remove(&self.tag_path(repo, tag)?)?;
        if let Some(t) = self.indexes().tags.get_mut(repo) {
            t.remove(tag);
        }
        Ok(removed)
    }

    fn tags_page(
        &self,
        repo: &str,
        after: Option<&str>,
        n: Option<usize>,
    ) -> io::Result<Option<Page>> {
        self.with_tags(repo, |t| t.names().page(after, n))
    }

    fn tags_pointing_at(&self, repo: &str, digest: &Digest) -> io::Result<Vec<String>> {
        Ok(self
            .with_tags(repo, |t| t.pointing_at(digest))?
            .unwrap_or_default())
    }

    fn repositories_page(&self, after: Option<&str>, n: Option<usize>) -> io::Result<Page> {
        let mut idx = self.indexes();
        if idx.repos.is_none() {
            // walked under the lock: a repository created meanwhile is either seen by the
            // walk or added by mark_repo once the lock is free
            let mut names = SortedNames::default();
            for r in self.repositories()? {
                names.insert(&r);
            }
            idx.repos = Some(names);
        }
        Ok(idx
            .repos
            .as_ref()
            .map(|r| r.page(after, n))
            .unwrap_or(Page {
                names: vec![],
                more: false,
            }))
    }

    fn tags(&self, repo: &str) -> io::Result<Option<Vec<String>>> {
        let dir = self.repo_dir(repo)?;
        if !dir.join("_layers").exists() {
            return Ok(None);
        }
        let mut out = vec![];
        if let Some(rd) = not_found_is_none(fs::read_dir(dir.join("_tags")))? {
            for e in rd {
                out.push(e?.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(Some(out))
    }

    fn referrer_put(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Digest,
        descriptor: &Value,
    ) -> io::Result<()> {
        let path = self.referrers_dir(repo, subject)?.join(format!(
            "{}-{}",
            referrer.algorithm(),
            referrer.hex()
        ));
        self.write_atomic(&path, descriptor.to_string().as_bytes())
    }

    fn referrer_delete(&self, repo: &str, subject: &Digest, referrer: &Digest) -> io::Result<()> {
        let path = self.referrers_dir(repo, subject)?.join(format!(
            "{}-{}",
            referrer.algorithm(),
            referrer.hex()
        ));
        self.remove(&path).map(drop)
    }

    fn referrers(&self, repo: &str, subject: &Digest) -> io::Result<Vec<Value>> {
        let Some(rd) = not_found_is_none(fs::read_dir(self.referrers_dir(repo, subject)?))? else {
            return Ok(vec![]);
        };
        let mut names = vec![];
        for e in rd {
            names.push(e?.path());
        }
        names.sort();
        let mut out = vec![];
        for p in names {
            let mut s = String::new();
            File::open(&p)?.read_to_string(&mut s)?;
            out.push(serde_json::from_str(&s).map_err(|_| invalid("corrupt referrer"))?);
        }
        Ok(out)
    }

    fn repo_exists(&self, repo: &str) -> io::Result<bool> {
        Ok(self.repo_dir(repo)?.join("_layers").exists())
    }

    fn repositories(&self) -> io::Result<Vec<String>> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
            for e in fs::read_dir(dir)? {
                let e = e?;
                if !e.file_type()?.is_dir() {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('_') {
                    continue;
                }
                let full = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                if e.path().join("_layers").exists() {
                    out.push(full.clone());
                }
                walk(&e.path(), &full, out)?;
            }
            Ok(())
        }
        let mut out = vec![];
        walk(&self.root.join("repositories"), "", &mut out)?;
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
