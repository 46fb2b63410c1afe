//! A decorating storage: the storage-level defects and variations, wrapped around the real
//! storage so that the handlers never see them. Without a defect or a variation that acts
//! here, the registry uses its storage undecorated.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;

use super::defects::Defect;
use super::storage::index::SortedNames;
use super::storage::{BlobData, Page, Storage, UploadInfo};
use super::variations::{Variation, Variations};
use crate::oci::manifest;
use crate::oci::media::ManifestKind;
use crate::oci::{Algorithm, Digest};

pub(crate) struct Decorated {
    inner: Arc<dyn Storage>,
    defect: Option<Defect>,
    variations: Variations,
    /// `tags-stale-after-delete`: per repository, the deleted tags the list still shows.
    stale_tags: Mutex<HashMap<String, BTreeSet<String>>>,
}

const STORAGE_DEFECTS: &[Defect] = &[
    Defect::ManifestReformatted,
    Defect::TagsImmutable,
    Defect::DigestListedAsTag,
    Defect::ManifestDeleteKeeps,
    Defect::BlobDeleteKeeps,
    Defect::BlobDeleteUnknown202,
    Defect::BlobDeleteGlobal,
    Defect::BlobReadAnyRepository,
    Defect::ManifestReadAnyRepository,
    Defect::BlobDeleteAnyRepository,
    Defect::ReferrersNoConfigType,
    Defect::ReferrersConfigTypeAlways,
    Defect::TagsLastRestart,
    Defect::TagsStaleAfterDelete,
];

const STORAGE_VARIATIONS: &[Variation] = &[
    Variation::ManifestAsBlob,
    Variation::CatalogTaggedOnly,
    Variation::ReferrersNoIndexes,
    Variation::TagsUnknownLastEmpty,
];

impl Decorated {
    /// `inner` decorated for `defect` and `variations`, or as it is when none acts on storage.
    pub(crate) fn wrap(
        inner: Arc<dyn Storage>,
        defect: Option<Defect>,
        variations: &Variations,
    ) -> Arc<dyn Storage> {
        let acts = defect.is_some_and(|d| STORAGE_DEFECTS.contains(&d))
            || variations.iter().any(|v| STORAGE_VARIATIONS.contains(v));
        if !acts {
            return inner;
        }
        Arc::new(Decorated {
            inner,
            defect,
            variations: variations.clone(),
            stale_tags: Mutex::default(),
        })
    }

    fn has(&self, d: Defect) -> bool {
        self.defect == Some(d)
    }

    fn varies(&self, v: Variation) -> bool {
        self.variations.contains(&v)
    }

    fn stale(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeSet<String>>> {
        self.stale_tags.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Storage for Decorated {
    fn upload_create(&self, id: &str, repo: &str, algorithm: Algorithm) -> io::Result<()> {
        self.inner.upload_create(id, repo, algorithm)
    }
    fn upload_info(&self, id: &str) -> io::Result<Option<UploadInfo>> {
        self.inner.upload_info(id)
    }
    fn upload_append(&self, id: &str, data: &[u8]) -> io::Result<u64> {
        self.inner.upload_append(id, data)
    }
    fn upload_truncate(&self, id: &str, size: u64) -> io::Result<()> {
        self.inner.upload_truncate(id, size)
    }
    fn upload_read(&self, id: &str) -> io::Result<Box<dyn Read + Send>> {
        self.inner.upload_read(id)
    }
    fn upload_commit(&self, id: &str, digest: &Digest) -> io::Result<()> {
        self.inner.upload_commit(id, digest)
    }
    fn upload_delete(&self, id: &str) -> io::Result<bool> {
        self.inner.upload_delete(id)
    }
    fn uploads(&self) -> io::Result<Vec<String>> {
        self.inner.uploads()
    }
    fn expire_uploads(&self, idle: std::time::Duration) -> io::Result<usize> {
        self.inner.expire_uploads(idle)
    }

    fn blob_size(&self, repo: &str, digest: &Digest) -> io::Result<Option<u64>> {
        self.inner.blob_size(repo, digest)
    }
    fn blob_open(&self, repo: &str, digest: &Digest) -> io::Result<Option<BlobData>> {
        if self.has(Defect::BlobReadAnyRepository) {
            for r in std::iter::once(repo.to_string()).chain(self.inner.repositories()?) {
                if let Some(found) = self.inner.blob_open(&r, digest)? {
                    return Ok(Some(found));
                }
            }
            return Ok(None);
        }
        match self.inner.blob_open(repo, digest)? {
            None if self.varies(Variation::ManifestAsBlob) => Ok(self
                .inner
                .manifest_get(repo, digest)?
                .map(|(_, body)| BlobData::Bytes(body))),
            found => Ok(found),
        }
    }
    fn blob_link(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        self.inner.blob_link(repo, digest)
    }
    fn blob_unlink(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        if self.has(Defect::BlobDeleteKeeps) {
            return Ok(self.inner.blob_size(repo, digest)?.is_some());
        }
        let unlinked = self.inner.blob_unlink(repo, digest)?;
        if self.has(Defect::BlobDeleteAnyRepository) && !unlinked {
            let mut elsewhere = false;
            for other in self.inner.repositories()? {
                elsewhere |= self.inner.blob_unlink(&other, digest)?;
            }
            return Ok(elsewhere);
        }
        if self.has(Defect::BlobDeleteGlobal) && unlinked {
            for other in self.inner.repositories()? {
                self.inner.blob_unlink(&other, digest)?;
            }
        }
        Ok(unlinked || self.has(Defect::BlobDeleteUnknown202))
    }
    fn blobs(&self) -> io::Result<Vec<Digest>> {
        self.inner.blobs()
    }
    fn blob_read_global(&self, digest: &Digest) -> io::Result<Option<Box<dyn Read + Send>>> {
        self.inner.blob_read_global(digest)
    }

    fn manifest_put(
        &self,
        repo: &str,
        digest: &Digest,
        media_type: &str,
        body: &[u8],
    ) -> io::Result<()> {
        if self.has(Defect::ManifestReformatted)
            && let Some(pretty) = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| serde_json::to_vec_pretty(&v).ok())
        {
            return self.inner.manifest_put(repo, digest, media_type, &pretty);
        }
        self.inner.manifest_put(repo, digest, media_type, body)?;
        // a manifest no tag points at is listed under its digest, until a tag points at it
        if self.has(Defect::DigestListedAsTag)
            && self.inner.tags_pointing_at(repo, digest)?.is_empty()
        {
            self.inner.tag_put(repo, &digest.to_string(), digest)?;
        }
        Ok(())
    }
    fn manifest_get(&self, repo: &str, digest: &Digest) -> io::Result<Option<(String, Bytes)>> {
        if self.has(Defect::ManifestReadAnyRepository) {
            for r in std::iter::once(repo.to_string()).chain(self.inner.repositories()?) {
                if let Some(found) = self.inner.manifest_get(&r, digest)? {
                    return Ok(Some(found));
                }
            }
            return Ok(None);
        }
        self.inner.manifest_get(repo, digest)
    }
    fn manifest_delete(&self, repo: &str, digest: &Digest) -> io::Result<bool> {
        if self.has(Defect::ManifestDeleteKeeps) {
            return Ok(self.inner.manifest_get(repo, digest)?.is_some());
        }
        self.inner.manifest_delete(repo, digest)
    }
    fn tag_get(&self, repo: &str, tag: &str) -> io::Result<Option<Digest>> {
        self.inner.tag_get(repo, tag)
    }
    fn tag_put(&self, repo: &str, tag: &str, digest: &Digest) -> io::Result<()> {
        if self.has(Defect::TagsImmutable) && self.inner.tag_get(repo, tag)?.is_some() {
            return Ok(());
        }
        if let Some(stale) = self.stale().get_mut(repo) {
            stale.remove(tag);
        }
        self.inner.tag_put(repo, tag, digest)?;
        if self.has(Defect::DigestListedAsTag) {
            self.inner.tag_delete(repo, &digest.to_string())?;
        }
        Ok(())
    }
    fn tag_delete(&self, repo: &str, tag: &str) -> io::Result<bool> {
        let deleted = self.inner.tag_delete(repo, tag)?;
        if self.has(Defect::TagsStaleAfterDelete) && deleted {
            self.stale()
                .entry(repo.to_string())
                .or_default()
                .insert(tag.to_string());
        }
        Ok(deleted)
    }
    fn tags(&self, repo: &str) -> io::Result<Option<Vec<String>>> {
        self.inner.tags(repo)
    }
    fn tags_page(
        &self,
        repo: &str,
        after: Option<&str>,
        n: Option<usize>,
    ) -> io::Result<Option<Page>> {
        let stale = self.stale().get(repo).cloned().unwrap_or_default();
        if !stale.is_empty() {
            // the deleted tags listed among the live ones, paged together
            let Some(live) = self.inner.tags(repo)? else {
                return Ok(None);
            };
            let mut names = SortedNames::default();
            for t in live.iter().chain(&stale) {
                names.insert(t);
            }
            return Ok(Some(names.page(after, n)));
        }
        if self.varies(Variation::TagsUnknownLastEmpty)
            && let Some(last) = after
            // a name storage cannot even look up is not held either
            && !matches!(self.inner.tag_get(repo, last), Ok(Some(_)))
            && self.inner.repo_exists(repo)?
        {
            return Ok(Some(Page {
                names: vec![],
                more: false,
            }));
        }
        let page = self.inner.tags_page(repo, after, n)?;
        match page {
            Some(p)
                if self.has(Defect::TagsLastRestart) && after.is_some() && p.names.is_empty() =>
            {
                self.inner.tags_page(repo, None, n)
            }
            page => Ok(page),
        }
    }
    fn tags_pointing_at(&self, repo: &str, digest: &Digest) -> io::Result<Vec<String>> {
        self.inner.tags_pointing_at(repo, digest)
    }

    fn referrer_put(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Digest,
        descriptor: &Value,
    ) -> io::Result<()> {
        let parsed = || -> io::Result<Option<manifest::ParsedManifest>> {
            Ok(self
                .inner
                .manifest_get(repo, referrer)?
                .and_then(|(mt, body)| manifest::parse(&body, Some(&mt)).ok()))
        };
        if self.varies(Variation::ReferrersNoIndexes)
            && parsed()?.is_some_and(|m| m.kind == ManifestKind::Index)
        {
            return Ok(());
        }
        if self.has(Defect::ReferrersNoConfigType)
            && parsed()?.is_some_and(|m| m.artifact_type.is_none())
        {
            let mut d = descriptor.clone();
            if let Some(o) = d.as_object_mut() {
                o.remove("artifactType");
            }
            return self.inner.referrer_put(repo, subject, referrer, &d);
        }
        if self.has(Defect::ReferrersConfigTypeAlways)
            && let Some(config) = parsed()?.and_then(|m| m.config)
        {
            let mut d = descriptor.clone();
            d["artifactType"] = Value::String(config.media_type);
            return self.inner.referrer_put(repo, subject, referrer, &d);
        }
        self.inner.referrer_put(repo, subject, referrer, descriptor)
    }
    fn referrer_delete(&self, repo: &str, subject: &Digest, referrer: &Digest) -> io::Result<()> {
        self.inner.referrer_delete(repo, subject, referrer)
    }
    fn referrers(&self, repo: &str, subject: &Digest) -> io::Result<Vec<Value>> {
        self.inner.referrers(repo, subject)
    }

    fn repo_exists(&self, repo: &str) -> io::Result<bool> {
        self.inner.repo_exists(repo)
    }
    fn repositories(&self) -> io::Result<Vec<String>> {
        let all = self.inner.repositories()?;
        if !self.varies(Variation::CatalogTaggedOnly) {
            return Ok(all);
        }
        let mut tagged = vec![];
        for r in all {
            if self.inner.tags(&r)?.is_some_and(|t| !t.is_empty()) {
                tagged.push(r);
            }
        }
        Ok(tagged)
    }
    fn repositories_page(&self, after: Option<&str>, n: Option<usize>) -> io::Result<Page> {
        if !self.varies(Variation::CatalogTaggedOnly) {
            return self.inner.repositories_page(after, n);
        }
        // the variation filters the whole list: a page costs the list here, which only a
        // variation run pays
        let mut names = SortedNames::default();
        for r in self.repositories()? {
            names.insert(&r);
        }
        Ok(names.page(after, n))
    }
}
